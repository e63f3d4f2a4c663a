"""Monitoring as code: the alert rules (deploy/prometheus/alerts.yml), their unit tests, the scrape configuration
and the Grafana dashboard (deploy/grafana/varde.json) are checked with promtool and against the metrics page of a
real server, so that a renamed metric breaks this test and not an alert that should have woken someone.

promtool comes from Debian's prometheus package (`apt-get install -y prometheus`); without it on PATH the promtool
tests are skipped and the name and structure checks still run.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from tests.server.secured import Secured
from tests.support import observations
from varde.clients.client import VardeError

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "alerts.yml"
RULE_TESTS = PROMETHEUS / "alerts_test.yml"
SCRAPE_CONFIG = PROMETHEUS / "prometheus.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "varde.json"

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not on PATH (apt-get install -y prometheus; CI installs it)")

# Series that Prometheus makes itself for every target rather than scraping them from the page.
PROMETHEUS_MADE = {"up"}

# PromQL words that look like metric names: aggregations, binary operators and modifiers, literals.
_NOT_METRICS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile", "limitk", "limit_ratio",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "atan2", "bool",
    "offset", "inf", "nan",
}

T0 = dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)
CALM = {"resp_rate": 16, "spo2": 97, "on_oxygen": False, "systolic_bp": 120, "pulse": 70, "consciousness": "A",
        "temperature": 37.0}
HIGH9 = {**CALM, "resp_rate": 26, "spo2": 91, "pulse": 135}


def promtool(*args: str, cwd: Path = PROMETHEUS, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120)


def said(result: subprocess.CompletedProcess) -> str:
    return f"promtool exited {result.returncode}\n{result.stdout}{result.stderr}"


# -- metric names out of PromQL -----------------------------------------------------------------------------------

def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (Grafana variables such as $__rate_interval allowed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # string literals
    text = re.sub(r"\$\{?\w+\}?", "", text)  # Grafana variables
    text = re.sub(r"\{[^{}]*\}", "{}", text)  # label matchers
    text = re.sub(r"\[[^\[\]]*\]", "[]", text)  # ranges, subquery steps
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", r"\1", text)  # label lists
    text = re.sub(r"\boffset\s+-?[\w.]+", "", text)
    names = set()
    for m in re.finditer(r"(?<![\w.:])[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        if text[m.end():].lstrip().startswith("("):  # a function call or an aggregation
            continue
        if m.group(0).lower() not in _NOT_METRICS:
            names.add(m.group(0))
    return names


def unknown_names(exprs: dict[str, str], page_names: set[str]) -> dict[str, set[str]]:
    """{where: names not on the page} for the expressions that select a metric the server does not export."""
    known = page_names | PROMETHEUS_MADE
    unknown = {where: metric_names(expr) - known for where, expr in exprs.items()}
    return {where: names for where, names in unknown.items() if names}


def sample_names(page: str) -> set[str]:
    """Names of the samples on a metrics page (histograms show as their _bucket, _sum and _count series)."""
    return {re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
            for line in page.splitlines() if line and not line.startswith("#")}


def rule_exprs(rules: dict) -> dict[str, str]:
    return {f"alerts.yml {r.get('alert') or r.get('record')}": r["expr"]
            for group in rules["groups"] for r in group["rules"]}


def dashboard_exprs(dashboard: dict) -> dict[str, str]:
    exprs = {f"panel {p['id']} {p['title']!r} {t['refId']}": t["expr"]
             for p in dashboard["panels"] for t in p.get("targets", [])}
    for var in dashboard.get("templating", {}).get("list", []):
        query = var.get("query")
        query = query.get("query", "") if isinstance(query, dict) else query or ""
        if m := re.fullmatch(r"\s*(?:label_values|query_result)\((.*?)(?:,\s*\w+)?\)\s*", query):
            exprs[f"variable {var['name']}"] = m.group(1)
    return exprs


def test_metric_names_reads_selectors_and_skips_functions_keywords_and_variables():
    expr = ('histogram_quantile(0.99, sum by (instance, le) (rate(varde_queue_commit_seconds_bucket'
            '{job="varde", instance=~"$instance", reason="up"}[$__rate_interval] offset 1h))) > 1e3 '
            'and on (job) count_over_time((max(varde_flags_open) > 0)[30m:1m]) >= 30 '
            'unless ignoring (code) sum(increase(varde_rpcs_total[5m])) by (le) + varde_ready or vector(0)')
    assert metric_names(expr) == {"varde_queue_commit_seconds_bucket", "varde_flags_open", "varde_rpcs_total",
                                  "varde_ready"}
    assert metric_names("time() - min(x_timestamp_seconds) > 1800") == {"x_timestamp_seconds"}


# -- the rule files -----------------------------------------------------------------------------------------------

def load_rules() -> dict:
    return yaml.safe_load(RULES.read_text())


@needs_promtool
def test_promtool_checks_the_rules():
    result = promtool("check", "rules", RULES.name)
    assert result.returncode == 0, said(result)
    assert "SUCCESS" in result.stdout, said(result)


@needs_promtool
def test_promtool_runs_the_alert_unit_tests():
    result = promtool("test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, said(result)


def test_every_alert_has_for_severity_and_a_runbook_line():
    rules = [r for group in load_rules()["groups"] for r in group["rules"]]
    assert len(rules) >= 10
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names)), "alert names must be unique"
    for rule in rules:
        assert rule.get("for"), f"{rule['alert']}: no for:"
        assert rule.get("labels", {}).get("severity") in ("critical", "warning"), rule["alert"]
        annotations = rule.get("annotations", {})
        assert annotations.get("summary"), rule["alert"]
        assert "What to do:" in annotations.get("description", ""), f"{rule['alert']}: no runbook line"


def test_every_alert_has_a_firing_and_a_quiet_unit_test():
    alerts = {r["alert"] for group in load_rules()["groups"] for r in group["rules"]}
    cases = [case for test in yaml.safe_load(RULE_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    firing = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    assert alerts - firing == set(), "alerts without a case where they fire"
    assert alerts - quiet == set(), "alerts without a case where they stay quiet"
    assert (firing | quiet) - alerts == set(), "unit tests for alerts that do not exist"


# -- the scrape configuration -------------------------------------------------------------------------------------

def scrape_config_variants() -> dict[str, str]:
    """The configuration as shipped, and with each commented service-discovery example in place of static_configs."""
    text = SCRAPE_CONFIG.read_text()
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("    static_configs:"))
    end = next(i for i, line in enumerate(lines) if i > start and not line.startswith("      "))
    without_static = lines[:start] + lines[end:]
    variants = {"static": text}
    for key in ("dns_sd_configs", "kubernetes_sd_configs"):
        first = next(i for i, line in enumerate(without_static) if line == f"    # {key}:")
        block = []
        for line in without_static[first:]:
            if line.strip() == "#" or not line.startswith("    # "):
                break
            block.append("    " + line[len("    # "):])
        variants[key] = "\n".join(without_static + block) + "\n"
        assert len(block) > 2, key
    return variants


@needs_promtool
@pytest.mark.parametrize("variant", ["static", "dns_sd_configs", "kubernetes_sd_configs"])
def test_promtool_checks_the_scrape_config(tmp_path, variant):
    (tmp_path / "prometheus.yml").write_text(scrape_config_variants()[variant])
    shutil.copy(RULES, tmp_path / RULES.name)
    result = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    if f"field {variant} not found" in result.stdout + result.stderr:
        pytest.skip(f"this promtool is built without {variant} (Debian's prometheus package leaves Kubernetes "
                    "discovery out); an upstream promtool checks it")
    assert result.returncode == 0, said(result)
    assert "1 rule files found" in result.stdout, said(result)


def test_scrape_config_scrapes_job_varde_and_loads_the_rules():
    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    assert config["rule_files"] == ["alerts.yml"]
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "varde"]
    assert len(job["static_configs"][0]["targets"]) >= 2


# -- the dashboard ------------------------------------------------------------------------------------------------

def load_dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def test_dashboard_imports_with_a_prometheus_input_and_every_panel_has_a_datasource_and_targets():
    dashboard = load_dashboard()
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    assert dashboard["__inputs"][0]["pluginId"] == "prometheus"
    assert dashboard["schemaVersion"] >= 36 and dashboard["uid"] and dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), f"panel ids repeat: {ids}"
    for panel in dashboard["panels"]:
        where = f"panel {panel['id']} {panel.get('title')!r}"
        assert panel.get("datasource", {}).get("uid") == "${DS_PROMETHEUS}", where
        assert panel.get("targets"), f"{where}: no targets"
        assert {"x", "y", "w", "h"} <= panel.get("gridPos", {}).keys(), where
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), where
        for t in panel["targets"]:
            assert t.get("expr", "").strip(), f"{where} {t['refId']}: no expression"
            assert t.get("datasource", panel["datasource"])["uid"] == "${DS_PROMETHEUS}", where


@needs_promtool
def test_dashboard_expressions_are_valid_promql(tmp_path):
    # Grafana fills in its variables before it queries; give them values Prometheus understands and let
    # promtool parse every expression as a recording rule.
    exprs = dashboard_exprs(load_dashboard())
    rules = [{"record": f"dashboard:expr_{i}", "expr": expr.replace("$__rate_interval", "5m").replace(
        "$instance", ".*")} for i, expr in enumerate(exprs.values())]
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = promtool("check", "rules", "dashboard.yml", cwd=tmp_path)
    assert result.returncode == 0, said(result) + "\n" + "\n".join(f"{i}: {e}" for i, e in enumerate(exprs))


# -- against a real server's metrics page -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def page() -> str:
    """The whole metrics page of a real server (mutual TLS and tokens) after a few calls of every kind: a batch,
    pushes and a stream of observations, listing, claiming and resolving flags, a claim of a flag that does not
    exist and a call the caller's role may not make."""
    server = Secured()
    try:
        with server.token_client("journal", hpr=None) as journal:
            table = observations(300, seed=3).set_column(0, "patient_id", pa.array(
                [f"mon-{i}" for i in range(300)], pa.string()))
            assert journal.score(table, batch_id="monitoring-1").num_rows == 300
        with server.cert_client("device") as device:
            device.push({"patient_id": "mon-home-1", "observed_at": T0, **HIGH9})
            assert len(list(device.stream([{"patient_id": "mon-home-2", **CALM},
                                           {"patient_id": "mon-home-2", **HIGH9}]))) == 2
            with pytest.raises(VardeError, match="PERMISSION_DENIED"):
                device.list_flags()
        with server.token_client("coordinator", hpr="1111111") as coordinator:
            assert coordinator.list_flags()
            claimed = coordinator.claim()
            coordinator.resolve(claimed.id, "VISITED", "seen")
            with pytest.raises(VardeError, match="NOT_FOUND"):
                coordinator.claim(10**9)
        url = f"http://127.0.0.1:{server.running.metrics_port}/metrics"
        return urllib.request.urlopen(url, timeout=30).read().decode()
    finally:
        server.stop()


@needs_promtool
def test_promtool_finds_nothing_wrong_with_the_metrics_page(page):
    result = promtool("check", "metrics", stdin=page)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), said(result)


def test_the_page_has_the_series_the_scenario_should_produce(page):
    names = sample_names(page)
    for name in ("varde_rpcs_total", "varde_auth_refused_total", "varde_flags_open", "varde_rows_rejected_total",
                 "varde_flag_raise_to_claim_seconds_bucket", "varde_ready", "varde_store_up",
                 "varde_flags_oldest_unclaimed_timestamp_seconds"):
        assert name in names, name
    assert re.search(r'^varde_flags_open\{[^}]*severity="HIGH"[^}]*\} [1-9]', page, re.M)
    assert re.search(r'^varde_flag_raise_to_claim_seconds_count\{kind="[A-Z0-9_]+",severity="(HIGH|MEDIUM|LOW)"\} '
                     r'1\.0', page, re.M)
    assert re.search(r'^varde_auth_refused_total\{[^}]*reason="role"[^}]*\} 1\.0', page, re.M)


def test_every_metric_in_the_alerts_and_the_dashboard_is_on_the_page(page):
    names = sample_names(page)
    exprs = {**rule_exprs(load_rules()), **dashboard_exprs(load_dashboard())}
    assert len(exprs) > 20
    assert unknown_names(exprs, names) == {}


def test_the_name_check_catches_a_renamed_metric(page):
    names = sample_names(page)
    # The names a Prometheus newcomer writes: a counter without _total, a histogram without _bucket.
    renamed = yaml.safe_load(RULES.read_text().replace("varde_rpcs_total", "varde_rpcs"))
    assert unknown_names(rule_exprs(renamed), names) == {
        "alerts.yml VardeServerErrors": {"varde_rpcs"},
        "alerts.yml VardeFlagStoreUnavailable": {"varde_rpcs"},
    }
    made_up = 'histogram_quantile(0.9, sum by (le) (rate(varde_rpc_seconds{job="varde"}[5m]))) > up'
    assert unknown_names({"made up": made_up}, names) == {"made up": {"varde_rpc_seconds"}}
