"""`varde fhir export`: the unit's flags as FHIR NDJSON files, bulk-data style (one resource type per file), read from
a server's FHIR endpoint, for a journal or a registry that takes files rather than calls."""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

from ._audit_cli import _since
from ._files import InputError

__all__ = ["add_parser"]

_EXAMPLES = """\
examples:
  varde fhir export --flags -o export/                         # every flag of your unit
  varde fhir export --flags --since 7d -o export/ --base https://varde.kommune.no:8443/fhir --tls-ca ca.pem \\
      --token-file ~/.varde/token

Writes export/Flag.ndjson and export/DetectedIssue.ndjson (one resource per line), and export/Bundle.ndjson with
the document of every resolved flag (Composition with the ISBAR message and the outcome, DetectedIssue). Needs the
server's FHIR endpoint (varde serve --fhir-port; docs/fhir.md) and a coordinator, operator or journal credential.
"""


def add_parser(sub) -> None:
    f = sub.add_parser("fhir", help="FHIR files: export the unit's flags as NDJSON",
                       description="Work with a server's FHIR R4 endpoint (docs/fhir.md).")
    fsub = f.add_subparsers(dest="fhir_command", metavar="ACTION")
    fsub.required = True
    e = fsub.add_parser("export", help="write the unit's flags as FHIR NDJSON files (bulk-data style)",
                        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("--flags", action="store_true", required=True,
                   help="export flags: Flag, DetectedIssue and the documents of resolved flags")
    e.add_argument("--since", type=_since, metavar="WHEN",
                   help="flags raised from this time: 2026-11-23, 2026-11-23T08:00 (UTC), or 24h / 7d")
    e.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the .ndjson files")
    e.add_argument("--base", default=os.environ.get("VARDE_FHIR_BASE", "http://127.0.0.1:8080/fhir"),
                   help="the FHIR endpoint (default: %(default)s; VARDE_FHIR_BASE)")
    e.add_argument("--tls-ca", default=os.environ.get("VARDE_TLS_CA"), metavar="PEM")
    e.add_argument("--tls-cert", default=os.environ.get("VARDE_CLIENT_TLS_CERT"), metavar="PEM")
    e.add_argument("--tls-key", default=os.environ.get("VARDE_CLIENT_TLS_KEY"), metavar="PEM")
    e.add_argument("--token-file", default=os.environ.get("VARDE_TOKEN_FILE"), metavar="PATH",
                   help="a Bearer access token (VARDE_TOKEN works too)")
    e.set_defaults(func=_export)


def _export(args) -> int:
    get = _getter(args)
    os.makedirs(args.output, exist_ok=True)
    counts = {"Flag": 0, "DetectedIssue": 0, "Bundle": 0}
    files = {kind: open(os.path.join(args.output, f"{kind}.ndjson"), "w", encoding="utf-8") for kind in counts}
    try:
        for status in ("active", "inactive"):
            for entry in get(f"/Flag?status={status}").get("entry", []):
                flag = entry["resource"]
                start = (flag.get("period") or {}).get("start")
                if args.since and start and _micros(start) < args.since:
                    continue
                flag_id = entry["fullUrl"].rsplit("/", 1)[-1]
                _line(files, counts, flag)
                _line(files, counts, get(f"/DetectedIssue/{flag_id}"))
                if status == "inactive":
                    _line(files, counts, get(f"/Bundle/flag-{flag_id}"))
    finally:
        for f in files.values():
            f.close()
    print(", ".join(f"{n} {kind}" for kind, n in counts.items()) + f" written to {args.output}", file=sys.stderr)
    return 0


def _line(files, counts, resource: dict) -> None:
    kind = resource["resourceType"]
    files[kind].write(json.dumps(resource, ensure_ascii=False, separators=(",", ":")) + "\n")
    counts[kind] += 1


def _micros(text: str) -> int:
    import datetime as dt

    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1_000_000)


def _getter(args):
    context = None
    if args.base.startswith("https"):
        context = ssl.create_default_context(cafile=args.tls_ca)
        if args.tls_cert:
            context.load_cert_chain(args.tls_cert, args.tls_key)
    token = os.environ.get("VARDE_TOKEN")
    if args.token_file:
        try:
            with open(args.token_file, encoding="utf-8") as f:
                token = f.read().strip()
        except OSError as e:
            raise InputError(f"--token-file {args.token_file!r}: {e.strerror}") from None

    def get(path: str) -> dict:
        request = urllib.request.Request(args.base.rstrip("/") + path, headers={"Accept": "application/fhir+json"})
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=60, context=context) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as e:
            try:
                why = json.loads(e.read())["issue"][0]["diagnostics"]
            except (ValueError, KeyError, IndexError):
                why = e.reason
            raise InputError(f"{args.base}{path.split('?')[0]}: {e.code} {why}") from None
        except (urllib.error.URLError, OSError) as e:
            raise InputError(f"cannot reach the FHIR endpoint {args.base}: {getattr(e, 'reason', e)} (is the server "
                             "started with --fhir-port?)") from None

    return get
