"""What FHIR costs next to gRPC: observations per second through the FHIR endpoint (a batch Bundle of 1,000
vital-sign Observations per request) and through gRPC (StreamObservations, 1,000 observations per call), into the
same server with readings assembled into sets and flags committed (SQLite queue); and what parsing a Bundle costs
with Varde's own reader next to a maintained FHIR model library (fhir.resources), which is why the hot path does not
use the library.

    python benchmarks/bench_fhir.py [--bundles 20] [--size 1000] [--markdown]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from tests.support import Running  # noqa: E402
from varde.server.config import Settings  # noqa: E402
from varde.server.fhir import inbound  # noqa: E402

T0 = dt.datetime(2026, 11, 23, 6, tzinfo=dt.UTC)
CODES = (("9279-1", 18, "/min", "resp_rate"), ("59408-5", 96, "%", "spo2"), ("8480-6", 128, "mm[Hg]", "systolic_bp"),
         ("8867-4", 76, "/min", "pulse"), ("8310-5", 37.1, "Cel", "temperature"))


def _patient(k: int) -> str:
    # synthetic fødselsnummer-shaped ids are not checked unless --validate-national-id: any 11 digits do here
    return f"{10000000000 + k}"


def vital(k: int, n: int) -> tuple[dict, dict]:
    """The n-th reading of patient k as a FHIR Observation and as the same gRPC observation dict."""
    code, value, unit, field = CODES[n % len(CODES)]
    at = T0 + dt.timedelta(minutes=n)
    resource = {
        "resourceType": "Observation", "id": f"o{k}-{n}", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"identifier": {"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": _patient(k)}},
        "effectiveDateTime": at.isoformat().replace("+00:00", "Z"),
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
        "device": {"display": "device"},
    }
    return resource, {"patient_id": _patient(k), "observed_at": at, "source": "device", field: value}


def bundle(resources: list[dict]) -> dict:
    return {"resourceType": "Bundle", "type": "batch",
            "entry": [{"resource": r, "request": {"method": "POST", "url": "Observation"}} for r in resources]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundles", type=int, default=20, help="requests per path (default: %(default)s)")
    ap.add_argument("--size", type=int, default=1000, help="observations per request (default: %(default)s)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()

    requests = []
    for b in range(args.bundles):  # 50 patients a bundle, readings spread over them
        pairs = [vital(b * 50 + i % 50, i // 50) for i in range(args.size)]
        requests.append(([r for r, _ in pairs], [o for _, o in pairs]))

    rows = []
    for path in ("gRPC StreamObservations", "FHIR batch Bundle"):
        folder = tempfile.mkdtemp(prefix="varde-bench-fhir-")
        running = Running(Settings(address="127.0.0.1:0", queue=os.path.join(folder, "q.sqlite3"), fhir_port=0,
                                   metrics_port=None))
        base = f"http://127.0.0.1:{running.server.varde.fhir_port}/fhir"
        times = []
        try:
            with running.client() as c:
                for resources, observations in requests:
                    started = time.perf_counter()
                    if path.startswith("gRPC"):
                        got = list(c.stream(observations))
                        assert len(got) == len(observations)
                    else:
                        data = json.dumps(bundle(resources)).encode()
                        req = urllib.request.Request(base, data=data, method="POST",
                                                     headers={"Content-Type": "application/fhir+json"})
                        with urllib.request.urlopen(req, timeout=120) as reply:
                            answer = json.loads(reply.read())
                        assert len(answer["entry"]) == len(resources)
                        assert all(e["response"]["status"].startswith("201") for e in answer["entry"])
                    times.append(time.perf_counter() - started)
        finally:
            running.stop()
        per_s = args.size / statistics.median(times)
        rows.append((path, statistics.median(times) * 1000, per_s))

    body = json.dumps(bundle(requests[0][0]))
    started = time.perf_counter()
    for _ in range(5):
        parsed = inbound.bundle_entries(json.loads(body))
    ours = (time.perf_counter() - started) / 5
    assert all(not isinstance(r, inbound.FhirInputError) for _, r in parsed)
    lib = None
    try:
        from fhir.resources.R4B.bundle import Bundle

        started = time.perf_counter()
        for _ in range(5):
            Bundle.model_validate_json(body)
        lib = (time.perf_counter() - started) / 5
    except ImportError:
        pass

    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}; {args.bundles} requests of {args.size} observations per path")
    grpc_rate = rows[0][2]
    if args.markdown:
        print("\n| path | median ms per request | observations/s | vs gRPC |\n|---|---:|---:|---:|")
        for path, ms, rate in rows:
            print(f"| {path} | {ms:,.1f} | {rate:,.0f} | {rate / grpc_rate:.2f}x |")
        print(f"\n| parsing a Bundle of {args.size} | ms |\n|---|---:|\n| Varde's reader (inbound.bundle_entries, "
              f"json.loads included) | {ours * 1000:,.1f} |")
        if lib is not None:
            print(f"| fhir.resources R4B Bundle.model_validate_json | {lib * 1000:,.1f} |")
    else:
        for path, ms, rate in rows:
            print(f"{path:<26} {ms:9.1f} ms/request {rate:10,.0f} obs/s {rate / grpc_rate:5.2f}x")
        library = f", fhir.resources {lib * 1000:.1f} ms" if lib else ""
        print(f"parse {args.size}: varde {ours * 1000:.1f} ms{library}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
