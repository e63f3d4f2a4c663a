"""The container image (Dockerfile), built and run as an operator would: podman on a local Debian bookworm base
(no registry needed), mutual TLS with certificates made for the run, the `varde` command on the host talking to
the server in the container, the image's HEALTHCHECK, kernels loaded from the Numba cache baked into the image
(no compile on the first request), and a SIGTERM that drains and exits 0.

Slow (minutes) and needs root, podman and debootstrap: it runs only with VARDE_CONTAINER_TEST=1 (CI sets it after
deploy/ci/container-tools.sh). The base is made once and kept: its rootfs tarball at BASE_TARBALL, the image in
podman's storage; podman's layer cache keeps later builds short.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.csv as pv
import pyarrow.parquet as pq
import pytest

from tests.security_support import Pki
from tests.support import free_ports
from varde.clients.client import VardeClient, VardeError

ROOT = Path(__file__).resolve().parents[2]
BASE_TARBALL = Path(os.environ.get("VARDE_BASE_TARBALL", "/var/cache/varde-ci/bookworm-minbase.tar"))
BASE_IMAGE = "localhost/varde-base:bookworm"
IMAGE = "localhost/varde:container-test"
UID = 10001  # the image's runtime user: it must be able to read the keys it is given
UNIT = "974600951"
GRACE_SECONDS = 10  # the server's default --grace-seconds
TLS = "/etc/varde/tls"  # where the certificates are mounted in the container
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""
PUSH = ["patient_id=p-cli", "resp_rate=22", "spo2=95", "on_oxygen=false", "systolic_bp=118", "pulse=96",
        "consciousness=A", "temperature=38.4"]
OBSERVATION = {"resp_rate": 22, "spo2": 95, "on_oxygen": False, "systolic_bp": 118, "pulse": 96,
               "consciousness": "A", "temperature": 38.4}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("podman") is None,
                       reason="podman is not on PATH (deploy/ci/container-tools.sh installs it)"),
    pytest.mark.skipif(os.environ.get("VARDE_CONTAINER_TEST") != "1",
                       reason="builds and runs the container image (minutes, root, podman): "
                              "set VARDE_CONTAINER_TEST=1 to run it"),
]


class Podman:
    """podman with this test's own containers.conf (runc, ulimits, no systemd)."""

    def __init__(self, conf: Path):
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}

    def __call__(self, *args: str, timeout: float = 120, check: bool = True, **kw) -> subprocess.CompletedProcess:
        result = subprocess.run(["podman", *args], env=self.env, text=True, timeout=timeout,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
        if check and result.returncode != 0:
            raise AssertionError(f"podman {' '.join(args[:3])} ... exited {result.returncode}:\n{result.stdout}")
        return result

    def logs(self, name: str) -> str:
        return self("logs", name, check=False).stdout


def test_image_builds_serves_mutual_tls_from_the_kernel_cache_and_stops_cleanly(tmp_path):
    report: dict = {}
    conf = tmp_path / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    podman = Podman(conf)

    started = time.monotonic()
    report["base"] = _ensure_base(podman)
    report["base_seconds"] = round(time.monotonic() - started, 1)
    print(f"\nbase image {BASE_IMAGE}: {report['base']} in {report['base_seconds']} s")

    started = time.monotonic()
    build = podman("build", "--format", "docker", "--build-arg", f"BASE={BASE_IMAGE}", *_pip_build_args(),
                   "-t", IMAGE, str(ROOT), timeout=1200)
    report["build_seconds"] = round(time.monotonic() - started, 1)
    report["build_steps_cached"] = build.stdout.count("--> Using cache")
    report["build_steps"] = len(re.findall(r"^\[\d+/\d+\] STEP ", build.stdout, re.M))
    report["image_bytes"] = int(podman("image", "inspect", IMAGE, "--format", "{{.Size}}").stdout.strip())
    print(f"build: {report['build_seconds']} s ({report['build_steps_cached']} of {report['build_steps']} steps "
          f"from the layer cache); image {IMAGE}: {report['image_bytes'] / 1e6:.0f} MB")

    certs = _certificates(tmp_path / "tls")
    name = f"varde-container-test-{os.getpid()}"
    volume = f"{name}-data"
    port, metrics_port = free_ports(2)
    address = f"localhost:{port}"
    try:
        started = time.monotonic()
        podman(
            "run", "-d", "--name", name,
            "--health-interval", "disable",  # no systemd timer here; the test runs the check itself
            "-p", f"127.0.0.1:{port}:50051", "-p", f"127.0.0.1:{metrics_port}:9464",
            "-v", f"{certs['dir']}:{TLS}:ro", "-v", f"{volume}:/var/lib/varde",
            "-e", f"VARDE_TLS_CA={TLS}/ca.pem",
            "-e", f"VARDE_HEALTHCHECK_TLS_CERT={TLS}/{certs['health'].cert_path.name}",
            "-e", f"VARDE_HEALTHCHECK_TLS_KEY={TLS}/{certs['health'].key_path.name}",
            IMAGE,
            "--address", "0.0.0.0:50051",
            "--tls-cert", f"{TLS}/{certs['server'].cert_path.name}",
            "--tls-key", f"{TLS}/{certs['server'].key_path.name}",
            "--tls-client-ca", f"{TLS}/ca.pem", "--auth-config", f"{TLS}/auth.toml",
        )
        _wait_until_serving(podman, name, address, certs)
        report["start_to_serving_seconds"] = round(time.monotonic() - started, 2)
        print(f"container {name}: SERVING {report['start_to_serving_seconds']} s after `podman run`")
        # Without the cache in the image the kernels would compile here: a minute, not seconds.
        assert report["start_to_serving_seconds"] < 45, podman.logs(name)

        # The first requests: each patient's first push, through the flag queue (the trend kernel too).
        latencies = []
        with _client(address, certs, "device") as device:
            for i in range(10):
                t0 = time.perf_counter()
                assessment = device.push({"patient_id": f"p-latency-{i}", **OBSERVATION})
                latencies.append(time.perf_counter() - t0)
                assert assessment.total == 5
        first, tenth = latencies[0], latencies[9]
        report["first_push_seconds"], report["tenth_push_seconds"] = round(first, 4), round(tenth, 4)
        print(f"PushObservation: first {first * 1000:.1f} ms, tenth {tenth * 1000:.1f} ms")
        assert first < 5 * tenth + 0.5, f"the first push took {first:.2f} s: a kernel compiled on the first request"

        # The `varde` command on the host, as an operator or a journal system would use it.
        out = tmp_path / "out.parquet"
        health = _varde("health", "--server", address, *_tls_args(certs, "health"))
        assert health.stdout.strip() == "SERVING", health.stdout + health.stderr
        _varde("score", str(ROOT / "examples" / "observations.csv"), "-o", str(out), "--server", address,
               *_tls_args(certs, "journal"))
        rows = pv.read_csv(ROOT / "examples" / "observations.csv").num_rows
        assert pq.read_table(out).num_rows == rows
        pushed = json.loads(_varde("push", *PUSH, "--json", "--server", address,
                                   *_tls_args(certs, "device")).stdout)
        assert pushed["total"] == 5, pushed
        flags = _varde("flags", "list", "--json", "--server", address, *_tls_args(certs, "coordinator")).stdout
        patients = {json.loads(line)["patientId"] for line in flags.splitlines() if line.strip()}
        assert {"p-cli", "p-latency-0"} <= patients, flags  # the pushes' MEDIUM flags, in the queue on the volume

        # The image's own HEALTHCHECK (over mutual TLS with the health certificate from the environment).
        check = podman("healthcheck", "run", name, check=False)
        assert check.returncode == 0, f"healthcheck: {check.stdout}\n{podman.logs(name)}"
        status = podman("inspect", name, "--format", "{{.State.Health.Status}}").stdout.strip()
        assert status == "healthy", status

        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as page:
            assert re.search(r"^varde_ready 1(\.0)?$", page.read().decode(), re.M)

        # Every kernel the requests ran came from the image: nothing was written to the Numba cache.
        changed = [line for line in podman("diff", name).stdout.splitlines() if "/var/cache/varde/numba/" in line]
        assert not changed, "kernels compiled at run time instead of loading from the image:\n" + "\n".join(changed)

        # SIGTERM (the image's STOPSIGNAL): drain, exit 0, well before podman would resort to SIGKILL.
        t0 = time.monotonic()
        podman("stop", "--time", "30", name, timeout=60)
        report["stop_seconds"] = round(time.monotonic() - t0, 2)
        state = json.loads(podman("inspect", name, "--format", "{{json .State}}").stdout)
        report["exit_code"] = state["ExitCode"]
        logs = podman.logs(name)
        print(f"podman stop: {report['stop_seconds']} s, exit code {report['exit_code']}")
        assert state["ExitCode"] == 0, logs
        assert report["stop_seconds"] < GRACE_SECONDS + 5, logs
        assert "SIGTERM: draining" in logs and re.search(r"INFO varde\.server: stopped$", logs, re.M), logs
    finally:
        path = tmp_path / "container-metrics.json"
        path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"measurements: {path}")
        podman("rm", "-f", "-v", name, check=False)
        podman("volume", "rm", "-f", volume, check=False)


# --- the base image --------------------------------------------------------------------------------------------------


def _ensure_base(podman: Podman) -> str:
    """The local Debian bookworm base: already in podman's storage, or imported from the cached rootfs tarball,
    or made with debootstrap (about a minute) and cached as that tarball first."""
    if podman("image", "exists", BASE_IMAGE, check=False).returncode == 0:
        return "reused from podman's storage"
    how = "imported from " + str(BASE_TARBALL)
    if not BASE_TARBALL.exists():
        _debootstrap(BASE_TARBALL)
        how = "made with debootstrap, cached at " + str(BASE_TARBALL)
    podman("import", str(BASE_TARBALL), BASE_IMAGE, timeout=300)
    return how


def _debootstrap(tarball: Path) -> None:
    debootstrap = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if debootstrap is None or os.geteuid() != 0:
        pytest.fail(f"{BASE_IMAGE} is not in podman's storage and {tarball} does not exist: making it needs root "
                    "and debootstrap (run deploy/ci/container-tools.sh)")
    main, security = _debian_mirrors()
    tarball.parent.mkdir(parents=True, exist_ok=True)
    rootfs = tarball.with_suffix(".rootfs")
    shutil.rmtree(rootfs, ignore_errors=True)
    try:
        made = subprocess.run([debootstrap, "--variant=minbase", "bookworm", str(rootfs), main],
                              capture_output=True, text=True, timeout=900)
        assert made.returncode == 0, f"debootstrap failed:\n{made.stdout[-3000:]}\n{made.stderr[-3000:]}"
        (rootfs / "etc/apt/sources.list").write_text(
            f"deb {main} bookworm main\ndeb {main} bookworm-updates main\ndeb {security} bookworm-security main\n")
        # What apt downloaded to install the system; a build runs apt-get update itself.
        for pattern in ("var/cache/apt/*.bin", "var/cache/apt/archives/*.deb", "var/lib/apt/lists/*"):
            for path in rootfs.glob(pattern):
                if path.is_file():
                    path.unlink()
        partial = tarball.with_suffix(".tar.partial")
        subprocess.run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], check=True,
                       timeout=300)
        os.replace(partial, tarball)
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)


def _debian_mirrors() -> tuple[str, str]:
    """The Debian archive and security mirrors this machine's apt uses (deb822 .sources or one-line .list)."""
    entries: list[tuple[str, list[str]]] = []
    apt = Path("/etc/apt")
    for path in [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*.list"))]:
        if path.is_file():
            for line in path.read_text().splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    entries.append((words[1], [words[2]]))
    for path in sorted((apt / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.M))
            if "deb" in fields.get("Types", "").split() and fields.get("Enabled", "yes") != "no":
                for uri in fields.get("URIs", "").split():
                    entries.append((uri, fields.get("Suites", "").split()))
    debian = [(u.rstrip("/"), s) for u, s in entries if re.match(r"https?://", u) and "/debian" in u]
    main = next((u for u, s in debian if any(not x.endswith("-security") for x in s) and "security" not in u),
                "http://deb.debian.org/debian")
    security = next((u for u, s in debian if any(x.endswith("-security") for x in s)),
                    "http://deb.debian.org/debian-security")
    return main, security


def _pip_build_args() -> list[str]:
    """The package index and CA bundle this machine's pip uses, for pip in the build (an intercepting proxy's
    CA goes in as a build secret, never into a layer)."""
    settings = {}
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True)
    for line in listed.stdout.splitlines():
        key, _, value = line.partition("=")
        settings.setdefault(key.rpartition(".")[2], value.strip().strip("'\""))
    index = os.environ.get("PIP_INDEX_URL") or settings.get("index-url") or ""
    if not re.match(r"https?://", index):
        index = "https://pypi.org/simple"
    args = ["--build-arg", f"PIP_INDEX_URL={index}"]
    cert = os.environ.get("PIP_CERT") or settings.get("cert")
    if cert and Path(cert).is_file():
        args += ["--secret", f"id=pip_cert,src={cert}", "--build-arg", "PIP_CERT=/run/secrets/pip_cert"]
    return args


# --- certificates, clients -------------------------------------------------------------------------------------------


def _certificates(directory: Path) -> dict:
    """A CA, the server's certificate, a client certificate per role used here (mapped in auth.toml) and one for
    the health check (mapped to nothing: health checking needs no role). Keys belong to the image's user."""
    pki = Pki(directory)
    certs = {"dir": directory, "ca": pki.ca_path, "server": pki.server(),
             "journal": pki.client("journal-1", organization=UNIT),
             "device": pki.client("device-1", organization=UNIT),
             "coordinator": pki.client("koordinator-1", organization=UNIT),
             "health": pki.client("healthcheck")}
    lines = []
    for role in ("journal", "device", "coordinator"):
        lines += ["[[certificates]]", f'name = "{role}-1"', f'subject = "{certs[role].subject}"',
                  f'roles = ["{role}"]', f'unit = "{UNIT}"', ""]
    (directory / "auth.toml").write_text("\n".join(lines))
    for key in directory.glob("*.key"):
        os.chown(key, UID, UID)
    return certs


def _tls_args(certs: dict, who: str) -> list[str]:
    return ["--tls-ca", str(certs["ca"]), "--tls-cert", str(certs[who].cert_path),
            "--tls-key", str(certs[who].key_path)]


def _client(address: str, certs: dict, who: str, **kw) -> VardeClient:
    return VardeClient(address, tls_ca=certs["ca"].read_bytes(), tls_cert=certs[who].cert_pem,
                       tls_key=certs[who].key_pem, **kw)


def _wait_until_serving(podman: Podman, name: str, address: str, certs: dict, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    with _client(address, certs, "health", retries=0, timeout=2) as client:
        while True:
            running = podman("inspect", name, "--format", "{{.State.Running}}").stdout.strip()
            assert running == "true", f"the container stopped:\n{podman.logs(name)}"
            try:
                if client.health() == "SERVING":
                    return
            except VardeError:
                pass
            assert time.monotonic() < deadline, f"not SERVING after {timeout:.0f} s:\n{podman.logs(name)}"
            time.sleep(0.2)


def _varde(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VARDE_")}
    result = subprocess.run([sys.executable, "-m", "varde", *args], capture_output=True, text=True, env=env,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, f"varde {args[0]} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result
