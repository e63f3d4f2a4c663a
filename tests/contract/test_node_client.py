"""The Node.js client (clients/node) against a real server: clients/node/test/smoke.js scores a table over
ScoreBatches (Arrow IPC both ways), sends it again under the same batch id, and pushes one observation; in plaintext
on loopback, over TLS with a token, and with a client certificate. The README's example prints what it says."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from tests.contract._tools import ROOT, missing, node_path
from tests.server.secured import SCOPES, UNIT_A, Secured
from tests.support import Running

CLIENT = ROOT / "clients" / "node"
MODULES = ("@grpc/grpc-js", "@grpc/proto-loader", "apache-arrow")


@pytest.fixture(scope="module")
def node_env():
    node = shutil.which("node")
    if node is None:
        missing("node is not installed (apt-get install nodejs npm)")
    env = {**os.environ, "NODE_PATH": node_path()}
    check = subprocess.run([node, "-e", ";".join(f"require.resolve({m!r})" for m in MODULES)], cwd=CLIENT, env=env,
                           capture_output=True, text=True, timeout=60)
    if check.returncode != 0:
        missing(f"the Node client's modules ({', '.join(MODULES)}) are not on NODE_PATH nor in .ci-node")
    return node, env


@pytest.fixture(scope="module")
def server():
    running = Running()
    yield running
    running.stop()


def _smoke(node_env, address: str, **extra_env) -> dict:
    node, env = node_env
    run = subprocess.run([node, str(CLIENT / "test" / "smoke.js"), address], cwd=ROOT, env={**env, **extra_env},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"smoke.js exited {run.returncode}:\n{run.stderr}\n{run.stdout}"
    got = json.loads(run.stdout)
    assert got["mismatches"] == []
    return got


def test_node_client_scores_and_pushes(node_env, server):
    got = _smoke(node_env, server.address)

    score = got["score"]
    assert score["summary"]["rows"] == 3
    assert score["summary"]["scored"] == 2
    assert score["summary"]["rejected"] == 1
    assert score["summary"]["rejected_by_reason"] == {"SPO2_OUT_OF_RANGE": 1}
    assert score["summary"]["bands"] == {"HIGH": 1, "ZERO": 1}
    assert [r["news2_band"] for r in score["rows"]] == ["HIGH", "ZERO", None]
    assert [r["news2_total"] for r in score["rows"]] == [11, 0, None]
    assert [r["reject_reason"] for r in score["rows"]] == [None, None, "SPO2_OUT_OF_RANGE"]
    assert len(score["batch_ids"]) == 1 and score["batch_ids"][0].endswith("/0")
    # A fresh queue: the HIGH row raised its flags; the same batch id again raised nothing more.
    assert score["flags_raised"] >= 1 and not score["flags_replayed"]
    assert got["replay"] == {"flags_raised": 0, "flags_replayed": True}
    # The input went as the contract's types, and came back beside the result columns, in order.
    assert "patient_id: Utf8" in got["input_schema"]
    assert "observed_at: Timestamp<MICROSECOND, UTC>" in got["input_schema"]
    assert score["columns"][-1] == "reject_reason" and score["columns"][0] == "patient_id"
    # apache-arrow's default (dictionary-encoded strings) is read by the server as well.
    assert "patient_id: Dictionary<Int32, Utf8>" in got["inferred"]["schema"]
    assert [r["news2_band"] for r in got["inferred"]["rows"]] == ["LOW_MEDIUM"]

    assert got["push"]["total"] == 5
    assert got["push"]["band"] == "BAND_MEDIUM"
    assert got["push"]["reject_reason"] == ""
    assert got["push"]["flag_ids"], "the MEDIUM push raised a flag"


def test_ci_installs_the_versions_the_client_pins():
    """.ci/run installs the Node client's dependencies by hand (into .ci-node); they must be the ones it pins."""
    pinned = json.loads((CLIENT / "package.json").read_text())["dependencies"]
    ci = (ROOT / ".ci" / "run").read_text()
    installed = dict(re.findall(r"(@?[\w./-]+)@(\d+\.\d+\.\d+)", ci))
    assert {name: installed.get(name) for name in pinned} == pinned
    assert "@bufbuild/buf" in installed


def test_the_readme_example_prints_what_the_readme_says(node_env, tmp_path):
    node, env = node_env
    text = (CLIENT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"^## Example\n.*?^```js\n(.*?)^```", text, re.S | re.M).group(1)
    printed = re.search(r"it prints.*?```text\n(.*?)```", text, re.S).group(1)
    example = tmp_path / "example.js"
    example.write_text(code.replace("require('@varde/client')", f"require({json.dumps(str(CLIENT))})"))
    fresh = Running()  # an empty flag queue, as the README says
    try:
        run = subprocess.run([node, str(example), fresh.address], env=env, capture_output=True, text=True,
                             timeout=300)
    finally:
        fresh.stop()
    assert run.returncode == 0, run.stderr
    assert run.stdout == printed


def test_node_client_over_tls_with_a_token(node_env, tmp_path):
    """As an integrator connects: TLS with the server's CA, a HelseID-style Bearer token naming the roles."""
    secured = Secured(mutual=False)
    try:
        token = tmp_path / "token.txt"
        token.write_text(secured.issuer.token(scopes=(SCOPES["journal"], SCOPES["device"]), orgnr_parent=UNIT_A))
        got = _smoke(node_env, secured.address, VARDE_TLS_CA=str(secured.pki.ca_path), VARDE_TOKEN_FILE=str(token))
    finally:
        secured.stop()
    assert got["score"]["summary"]["rejected_by_reason"] == {"SPO2_OUT_OF_RANGE": 1}
    assert got["push"]["band"] == "BAND_MEDIUM"


def test_node_client_with_a_client_certificate(node_env):
    """Mutual TLS: the certificate mapped to a role is the credential (here `device`, which may push only)."""
    secured = Secured()
    try:
        node, env = node_env
        cert = secured.certs["device"]
        script = ("const v = require(process.argv[1]);"
                  "const c = v.connect(process.argv[2], {tlsCa: process.argv[3], tlsCert: process.argv[4],"
                  " tlsKey: process.argv[5]});"
                  "v.push(c, {patient_id: 'p1', spo2: 93, pulse: 112}).then(a => {"
                  " console.log(JSON.stringify({band: a.band, missing: a.missing}));"
                  " return v.unary(c, c.flags, 'ListFlags', {}); })"
                  ".catch(e => console.log(JSON.stringify({code: e.code, details: e.details})))"
                  ".finally(() => c.close());")
        run = subprocess.run([node, "-e", script, str(CLIENT), secured.address, str(secured.pki.ca_path),
                              str(cert.cert_path), str(cert.key_path)], env=env, capture_output=True, text=True,
                             timeout=120)
    finally:
        secured.stop()
    assert run.returncode == 0, run.stderr
    pushed, denied = (json.loads(line) for line in run.stdout.splitlines())
    assert pushed["band"] == "BAND_LOW"
    assert denied["code"] == 7 and "ListFlags needs role" in denied["details"]  # PERMISSION_DENIED
