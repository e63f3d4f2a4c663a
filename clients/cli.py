"""The `varde` command."""

from __future__ import annotations

import argparse
import sys
import time

from varde import __version__

from ._connect import add_connection_args, connect

__all__ = ["main"]

_SCORE_EXAMPLES = """\
examples:
  varde score examples/observations.csv                   # summary only
  varde score observations.parquet -o scored.parquet      # every row with its NEWS2 columns
  varde score observations.csv -o - | head                # CSV to stdout
  varde score --engine dask observations/ -o scored/        # a partitioned Parquet dataset on Dask
  varde score --engine spark observations/ -o scored/ --engine-address spark://master:7077

With --engine (local, dask, spark) INPUT is a folder of Parquet files and OUTPUT a folder: each file is scored
into the same path under OUTPUT, and the rows that raise a flag into OUTPUT-findings (load them into the queue
with `varde flags import OUTPUT-findings --server ADDR`). docs/scale-out.md.

Input and output formats follow the extension: .csv, .parquet (.pq), .arrow (.feather, .ipc).
Required columns: patient_id, resp_rate, spo2, on_oxygen, systolic_bp, pulse, consciousness, temperature;
optional: observed_at, spo2_scale (1 or 2), age, pregnant. Other columns pass through.
Result columns and reject codes: docs/news2.md.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="varde",
        description="Varde: NEWS2 deterioration and complex-needs risk scoring for health and care services.",
    )
    p.add_argument("--version", action="version", version=f"varde {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser(
        "score",
        help="score a file of observation sets with NEWS2 (RCP 2017)",
        description="Score every row of an observation file with NEWS2, streaming it in record batches.",
        epilog=_SCORE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("input", metavar="INPUT", help="observation file (.csv, .parquet, .arrow)")
    s.add_argument("-o", "--output", metavar="OUTPUT",
                   help="write input columns + result columns here ('-' for CSV on stdout); "
                        "without it only the summary is printed")
    s.add_argument("--batch-size", type=int, default=1 << 20, metavar="ROWS",
                   help="rows per record batch read from Parquet (default: %(default)s)")
    prog = s.add_mutually_exclusive_group()
    prog.add_argument("--progress", dest="progress", action="store_true", default=None,
                      help="always show the progress bar (default: only on a terminal)")
    prog.add_argument("--no-progress", dest="progress", action="store_false", help="never show it")
    s.add_argument("-q", "--quiet", action="store_true", help="no summary")
    s.add_argument("--server", metavar="HOST:PORT",
                   help="score on a Varde server instead of in this process (same output)")
    s.add_argument("--batch-id", metavar="ID",
                   help="with --server: the id flags are raised under (default: from the file's path, size and "
                        "modification time, so that scoring the same file again raises nothing twice)")
    eng = s.add_argument_group("scale-out (docs/scale-out.md)")
    eng.add_argument("--engine", choices=["local", "dask", "spark"],
                     help="score a folder of Parquet files on this engine: local (this process), dask or spark "
                          "(pip install 'varde[dask]' / 'varde[spark]')")
    eng.add_argument("--engine-address", metavar="URL",
                     help="a running engine to use: a Dask scheduler (tcp://host:8786) or a Spark master "
                          "(spark://host:7077); default: start one on this machine")
    eng.add_argument("--workers", type=int, default=2, metavar="N",
                     help="worker processes of the engine started here (default: %(default)s)")
    eng.add_argument("--findings", metavar="DIR", help="where the rows that raise a flag go (default: OUTPUT-findings)")
    add_connection_args(s, required=False)
    s.set_defaults(func=_score)

    v = sub.add_parser(
        "serve",
        help="run the Varde gRPC server",
        description="Run the Varde gRPC server: ScoreBatches (Arrow), PushObservation and StreamObservations "
                    "(protobuf), gRPC health and reflection, Prometheus metrics on their own port. "
                    "Every option can also be set as an environment variable VARDE_<OPTION> "
                    "(e.g. VARDE_ADDRESS=0.0.0.0:50051); a flag wins over the environment.",
        epilog=_SERVE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    v.add_argument("--address", metavar="HOST:PORT", help="gRPC address (default: 127.0.0.1:50051)")
    v.add_argument("--metrics-host", metavar="HOST", help="Prometheus address (default: 127.0.0.1)")
    v.add_argument("--metrics-port", metavar="PORT",
                   help="Prometheus port, or 'off' (default: 9464)")
    v.add_argument("--max-message-bytes", type=int, metavar="BYTES",
                   help="largest request accepted (default: 64 MiB); clients split batches under it")
    v.add_argument("--queue", metavar="URL",
                   help="flag queue: a SQLite file (default: ./varde-queue.sqlite3, created if missing), "
                        "postgresql://user@host/db, or 'off' for no flags")
    v.add_argument("--risk-policy", metavar="FILE", help="risk policy for ScorePatients (default: the shipped one)")
    v.add_argument("--escalation-policy", metavar="FILE",
                   help="when unclaimed flags escalate (default: HIGH after 15 min, MEDIUM after 60; docs/flags.md)")
    v.add_argument("--escalate-every-seconds", type=float, metavar="S",
                   help="how often to look for flags due to escalate and patients overdue (default: 5)")
    home = v.add_argument_group("home follow-up (docs/home.md)")
    home.add_argument("--assembly-window-seconds", type=float, metavar="S",
                      help="readings of one patient measured within S seconds make one observation set "
                           "(default: 1800; 0: score every push as sent)")
    home.add_argument("--overdue-grace-seconds", type=float, metavar="S",
                      help="how late a patient's next set may be before MEASUREMENT_OVERDUE (default: 900)")
    home.add_argument("--fhir-port", metavar="PORT",
                      help="serve the FHIR R4 endpoint (Observation in, NEWS2 Observation, Flag and DetectedIssue "
                           "out) on this port (default: off; docs/fhir.md)")
    home.add_argument("--fhir-host", metavar="HOST", help="where the FHIR endpoint listens (default: 127.0.0.1)")
    con = v.add_argument_group("coordinator console (docs/console.md)")
    con.add_argument("--console-port", metavar="PORT",
                     help="serve the coordinators' web console on this port (default: off; users come from "
                          "'varde console user add')")
    con.add_argument("--console-host", metavar="HOST", help="where the console listens (default: 127.0.0.1)")
    con.add_argument("--console-oidc", metavar="FILE",
                     help="also sign in through HelseID or another OpenID Connect provider (TOML; docs/console.md)")
    con.add_argument("--console-origin", metavar="URL",
                     help="the console's public https:// origin when a TLS reverse proxy is in front")
    home.add_argument("--response-policies", metavar="DIR",
                      help="the units' response policies, <unit>.toml and default.toml: whom to contact and how "
                           "often to measure at each band (default: RCP 2017, to be reviewed; "
                           "docs/response-policy.md)")
    v.add_argument("--workers", type=int, metavar="N", help="gRPC worker threads (default: 64)")
    v.add_argument("--grace-seconds", type=float, metavar="S",
                   help="on SIGTERM, time for in-flight calls to finish (default: 10)")
    v.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sec = v.add_argument_group(
        "security (docs/security.md)",
        "With none of these, the server binds to loopback only and every caller is the local operator. A network "
        "address needs TLS and an auth config, or --insecure.")
    sec.add_argument("--tls-cert", metavar="PEM", help="server certificate chain (TLS on)")
    sec.add_argument("--tls-key", metavar="PEM", help="its private key")
    sec.add_argument("--tls-client-ca", metavar="PEM",
                     help="CA for client certificates: every client must present one (mutual TLS)")
    sec.add_argument("--auth-config", metavar="TOML",
                     help="certificates and token scopes mapped to roles and units; token issuer and JWKS")
    sec.add_argument("--insecure", action="store_true", default=None,
                     help="allow a network address without TLS or auth (a test network only; warns)")
    sec.add_argument("--validate-national-id", action="store_true", default=None,
                     help="reject rows whose patient_id is not a valid Norwegian national identity number "
                          "(docs/national-id.md)")
    lim = v.add_argument_group("limits")
    lim.add_argument("--max-rows-per-batch", type=int, metavar="N", help="rows per Arrow request (default: 5M)")
    lim.add_argument("--max-concurrent-streams", type=int, metavar="N",
                     help="open streaming calls (default: three quarters of --workers)")
    lim.add_argument("--stream-idle-seconds", type=float, metavar="S",
                     help="end a request stream that sends nothing for S seconds (default: 300)")
    lim.add_argument("--keepalive-seconds", type=float, metavar="S",
                     help="ping idle connections every S seconds; drop peers that do not answer (default: 60)")
    v.set_defaults(func=_serve)

    h = sub.add_parser("health", help="ask a server whether it is serving (exit 0 if it is)",
                       description="Standard gRPC health check. Exit 0 when SERVING, 1 otherwise.")
    add_connection_args(h)
    h.add_argument("--timeout", type=float, default=5.0, metavar="S", help="give up after S seconds")
    h.set_defaults(func=_health)

    u = sub.add_parser(
        "push", help="score one observation set on a server (a nurse's manual entry, scripts, tests)",
        description="Send one observation set with PushObservation and print the assessment. Names as in the "
                    "observation schema: resp_rate, spo2, on_oxygen, systolic_bp, pulse, consciousness, temperature "
                    "(also spo2_scale, age, pregnant; the patient's settings apply: varde patient).",
        epilog="examples:\n  varde push --patient p1 resp_rate=22 spo2=95 on_oxygen=false systolic_bp=118 pulse=96 "
               "consciousness=A temperature=38.4\n"
               "  varde push --patient p1 --at 2026-11-23T10:00+01:00 --device oximeter-12 spo2=93 pulse=104 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    u.add_argument("values", nargs="+", metavar="NAME=VALUE", help="observation fields (docs/news2.md)")
    u.add_argument("--patient", metavar="ID", help="the patient (or patient_id=ID among the values)")
    u.add_argument("--at", metavar="TIME", help="when it was measured, ISO 8601 with a time zone (default: now)")
    u.add_argument("--device", metavar="NAME", help="the device or app that measured it")
    u.add_argument("--json", action="store_true", help="print the assessment as JSON")
    add_connection_args(u)
    u.set_defaults(func=_push)
    _flags_parser(sub)
    from ._audit_cli import add_parser as add_audit_parser
    from ._console_cli import add_parser as add_console_parser
    from ._fhir_cli import add_parser as add_fhir_parser
    from ._patient_cli import add_parser as add_patient_parser
    from ._risk_cli import add_parser as add_risk_parser

    add_risk_parser(sub)
    add_patient_parser(sub)
    add_audit_parser(sub)
    add_fhir_parser(sub)
    add_console_parser(sub)
    return p


_FLAGS_EXAMPLES = """\
examples:
  varde flags list                                  # open and claimed flags, most severe first
  varde flags list --state RESOLVED --kind NEWS2_RISING --json
  varde flags watch                                 # the open flags, then every change as it happens
  varde flags claim --next                          # take the most severe, oldest open flag
  varde flags claim 42
  varde flags show 42                               # the flag with its ISBAR message (--lang en: English)
  varde flags import scored-findings/               # the findings of a scale-out job (once, however often run)
  varde flags resolve 42 --outcome GP_CONTACTED --note "GP visited, antibiotics started"
  varde flags release 42 --reason "going off shift" # give it back to the queue
  varde flags list --server varde.kommune.no:443 --tls-ca ca.pem --token-file ~/.varde-token

You see and act on your own unit's flags only. Who you are comes from your certificate or token (never typed),
and is written to the audit log with every read and change (docs/security.md).
"""


def _flags_parser(sub) -> None:

    f = sub.add_parser("flags", help="the coordinating unit's flag queue: list, watch, show, claim, resolve, "
                       "release",
                       description="Work the coordinating unit's (koordinerende enhet) flag queue on a server.",
                       epilog=_FLAGS_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    fsub = f.add_subparsers(dest="flags_command", metavar="ACTION")
    fsub.required = True

    def common(p):
        add_connection_args(p)
        p.add_argument("--json", action="store_true", help="one JSON object per flag or event")

    def filters(p):
        p.add_argument("--kind", action="append", default=[], metavar="KIND",
                       help="NEWS2_HIGH, NEWS2_MEDIUM, NEWS2_RED, NEWS2_RISING, MEASUREMENT_OVERDUE, "
                       "RISK_UNMET_NEED, RISK_RISING (repeatable)")
        p.add_argument("--patient", default="", metavar="ID", help="one patient's flags")
        p.add_argument("--min-severity", default="SEVERITY_UNSPECIFIED", choices=["LOW", "MEDIUM", "HIGH"],
                       metavar="LEVEL", help="LOW, MEDIUM or HIGH")

    lst = fsub.add_parser("list", help="list flags (default: open and claimed)")
    common(lst)
    filters(lst)
    lst.add_argument("--state", action="append", default=[], choices=["OPEN", "CLAIMED", "RESOLVED"],
                     help="repeatable; default OPEN and CLAIMED")
    lst.add_argument("--limit", type=int, default=0, help="at most this many (default 1000)")
    lst.set_defaults(func=_flags_list)

    w = fsub.add_parser("watch", help="print the open flags, then every change until Ctrl-C")
    common(w)
    filters(w)
    w.add_argument("--after", type=int, default=0, metavar="CURSOR", help="resume after this cursor")
    w.set_defaults(func=_flags_watch)

    c = fsub.add_parser("claim", help="take a flag")
    common(c)
    c.add_argument("flag_id", nargs="?", type=int, metavar="ID")
    c.add_argument("--next", action="store_true", help="take the most severe, oldest open flag")
    c.set_defaults(func=_flags_claim)

    r = fsub.add_parser("resolve", help="close a flag with a note")
    common(r)
    r.add_argument("flag_id", type=int, metavar="ID")
    r.add_argument("--outcome", required=True, type=str.upper,
                   choices=["VISITED", "PHONED", "GP_CONTACTED", "EMERGENCY_SERVICES", "NO_ACTION"],
                   help="what the flag led to: VISITED, PHONED, GP_CONTACTED, EMERGENCY_SERVICES or NO_ACTION")
    r.add_argument("--note", default="", help="what was done (kept with the flag, not in the audit log)")
    r.set_defaults(func=_flags_resolve)

    show = fsub.add_parser("show", help="one flag in full, with its ISBAR message (what to tell the doctor)")
    common(show)
    show.add_argument("flag_id", type=int, metavar="ID")
    show.add_argument("--lang", choices=["nb", "en"], default="nb",
                      help="the ISBAR message in Norwegian bokmål (nb, default) or English (en)")
    show.set_defaults(func=_flags_show)

    imp = fsub.add_parser("import", help="load a scale-out job's findings into the queue (once, however often run)",
                          description="Send the rows of a findings dataset (from `varde score --engine ...`) to the "
                                      "server, which raises their flags. Each file's content is its batch id: "
                                      "importing again raises nothing twice.")
    add_connection_args(imp)
    imp.add_argument("findings", metavar="FINDINGS", help="the findings folder (OUTPUT-findings)")
    progress_args = imp.add_mutually_exclusive_group()
    progress_args.add_argument("--progress", dest="progress", action="store_true", default=None)
    progress_args.add_argument("--no-progress", dest="progress", action="store_false")
    imp.set_defaults(func=_flags_import)

    rel = fsub.add_parser("release", help="give a claimed flag back to the queue")
    common(rel)
    rel.add_argument("flag_id", type=int, metavar="ID")
    rel.add_argument("--reason", required=True, help="why it goes back to the queue (kept with the flag)")
    rel.set_defaults(func=_flags_release)


def _flag_line(f) -> str:
    from varde._proto.varde.v1 import flags_pb2

    sev = flags_pb2.Severity.Name(f.severity)
    state = flags_pb2.FlagState.Name(f.state)
    when = f.created_at.ToDatetime().strftime("%Y-%m-%d %H:%M") if f.HasField("created_at") else ""
    who = f" by {f.claimed_by}" if f.claimed_by else ""
    return f"{f.id:>6}  {sev:<6} {f.kind:<13} {f.patient_id:<16} {state}{who:<14} x{f.occurrences:<4} {when} UTC"


def _print_flag(f, as_json: bool) -> None:
    import json

    from google.protobuf import json_format

    if as_json:
        print(json.dumps(json_format.MessageToDict(f), ensure_ascii=False), flush=True)
    else:
        print(_flag_line(f), flush=True)


def _flags_call(args, fn):
    from ._errors import VardeError
    from ._files import InputError

    with connect(args) as client:
        try:
            return fn(client)
        except VardeError as e:
            raise InputError(f"{args.server}: {e.details}" if e.details else f"{args.server}: {e}") from None


def _flags_list(args) -> int:
    flags = _flags_call(args, lambda c: c.list_flags(states=args.state, kinds=args.kind, patient_id=args.patient,
                                                     min_severity=args.min_severity, limit=args.limit))
    for f in flags:
        _print_flag(f, args.json)
    if not args.json:
        print(f"{len(flags)} flag(s)", file=sys.stderr)
    return 0


def _flags_watch(args) -> int:
    import json

    from google.protobuf import json_format

    from varde._proto.varde.v1 import flags_pb2

    def run(client):
        for event in client.watch_flags(kinds=args.kind, patient_id=args.patient, min_severity=args.min_severity,
                                        after_cursor=args.after):
            kind = flags_pb2.FlagEvent.Type.Name(event.type)
            if args.json:
                print(json.dumps(json_format.MessageToDict(event), ensure_ascii=False), flush=True)
            elif event.type == flags_pb2.FlagEvent.CAUGHT_UP:
                print(f"-- watching for changes (cursor {event.cursor}; Ctrl-C to stop)", file=sys.stderr,
                      flush=True)
            else:
                print(f"{kind:<9} {_flag_line(event.flag)}", flush=True)

    _flags_call(args, run)
    return 0


def _flags_claim(args) -> int:
    from ._files import InputError

    if (args.flag_id is None) == (not args.next):
        raise InputError("give a flag ID or --next (not both)")
    _print_flag(_flags_call(args, lambda c: c.claim(args.flag_id)), args.json)
    return 0


def _flags_resolve(args) -> int:
    _print_flag(_flags_call(args, lambda c: c.resolve(args.flag_id, args.outcome, args.note)), args.json)
    return 0


def _flags_import(args) -> int:
    import hashlib
    import os

    import pyarrow.parquet as pq

    from ._files import InputError
    from ._progress import Progress
    from .engines import input_files

    try:
        files = input_files(args.findings)
    except FileNotFoundError as e:
        raise InputError(str(e)) from None
    progress = Progress(len(files), "files", sys.stderr.isatty() if args.progress is None else args.progress)
    raised = updated = replayed = rows = 0

    def run(client):
        nonlocal raised, updated, replayed, rows
        for k, path in enumerate(files, start=1):
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            # The file's content names the batch: importing it again raises nothing twice, and import ids are
            # never forgotten by the server.
            batch_id = f"import:{os.path.basename(path)}:{digest.hexdigest()[:32]}"
            table = pq.read_table(path)
            if table.num_rows:
                for _, reply in client.score_batches(table, batch_id=batch_id):
                    raised += reply.flags_raised
                    updated += reply.flags_updated
                    replayed += reply.flags_replayed
            rows += table.num_rows
            progress.update(k, rows)

    _flags_call(args, run)
    progress.finish(len(files), rows)
    print(f"{rows:,} finding rows from {len(files)} file(s): {raised} flag(s) raised, {updated} updated"
          + (f", {replayed} batch(es) already imported (nothing raised twice)" if replayed else ""), file=sys.stderr)
    return 0


def _flags_show(args) -> int:
    from varde._proto.varde.v1 import flags_pb2

    f = _flags_call(args, lambda c: c.get_flag(args.flag_id))
    if args.json:
        _print_flag(f, True)
        return 0
    print(_flag_line(f))
    if f.escalation_level:
        print(f"escalated {f.escalation_level} time(s): nobody claimed it in time")
    if f.state == flags_pb2.RESOLVED:
        print(f"resolved: {f.outcome or '-'}{': ' + f.resolution_note if f.resolution_note else ''}")
    if f.release_reason:
        print(f"last released: {f.release_reason}")
    if f.HasField("isbar"):
        print()
        print(f.isbar.text_nb if args.lang == "nb" else f.isbar.text_en)
    else:
        print(f"assessment: {f.assessment_json}")
    return 0


def _flags_release(args) -> int:
    _print_flag(_flags_call(args, lambda c: c.release(args.flag_id, args.reason)), args.json)
    return 0


_SERVE_EXAMPLES = """\
examples:
  varde serve                                     # 127.0.0.1:50051, metrics on http://127.0.0.1:9464/metrics
  varde serve --address 0.0.0.0:50051 --tls-cert server.pem --tls-key server.key \
      --tls-client-ca ca.pem --auth-config auth.toml --queue postgresql://varde@db/varde
  varde score observations.parquet -o scored.parquet --server 127.0.0.1:50051

Limits: requests up to --max-message-bytes (64 MiB); VardeClient and `varde score --server` cut batches into
4 MiB requests, so no client of ours meets the limit. Replies are not limited.
"""


def _score_dataset(args) -> int:
    from ._files import InputError
    from ._progress import Progress
    from .engines import Job, input_files, run_job

    if not args.output:
        raise InputError("--engine needs -o OUTPUT_DIR: the folder the scored files go to")
    try:
        files = input_files(args.input)
    except FileNotFoundError as e:
        raise InputError(f"{e} (with --engine, INPUT is a folder of Parquet files)") from None
    if args.workers < 1:
        raise InputError("--workers must be at least 1")
    job = Job(args.input, args.output, args.findings or args.output.rstrip("/") + "-findings",
              batch_size=args.batch_size)
    show = sys.stderr.isatty() if args.progress is None else args.progress
    progress = Progress(len(files), "files", show)
    try:
        result = run_job(args.engine, job, workers=args.workers, address=args.engine_address,
                         progress=lambda done, total: progress.update(done, done))
    except (RuntimeError, ValueError) as e:
        raise InputError(str(e)) from None
    progress.finish(len(files), len(files))
    if not args.quiet:
        print(f"{result.rows:,} rows in {result.files} file(s) on {result.engine}: {result.rejected:,} rejected, "
              f"{result.findings:,} raise a flag (in {job.findings_dir}); {result.seconds:.2f} s", file=sys.stderr)
        print(f"load the flags with: varde flags import {job.findings_dir} --server HOST:PORT", file=sys.stderr)
    return 0


def _score(args) -> int:
    import pyarrow as pa

    from varde.scoring import SchemaError, score_news2
    from varde.scoring.summary import Counts, count

    from ._errors import VardeError
    from ._files import InputError, atomic_output, open_source
    from ._pipeline import prefetch
    from ._progress import Progress
    from ._summary import render

    if args.batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    if args.engine:
        return _score_dataset(args)
    source = open_source(args.input, args.batch_size)
    show = sys.stderr.isatty() if args.progress is None else args.progress
    progress = Progress(source.total, source.unit, show)
    summary = Counts()
    started = time.perf_counter()
    client = None
    # The next batch is read while this one is scored and the last one written (clients/_pipeline.py).
    batches = prefetch(source.batches)
    if args.server:
        client = connect(args, timeout=None)
        scored_batches = (scored for scored, _ in client.score_batches(batches,
                                                                       batch_id=args.batch_id or _file_id(args.input)))
    else:
        scored_batches = (score_news2(batch) for batch in batches)

    def run(sink):
        nonlocal summary
        for scored in scored_batches:
            summary += count(scored)
            if sink is not None:
                sink.write(scored)
            done = source.progress() if source.progress else summary.rows
            progress.update(done, summary.rows)

    try:
        if args.output:
            with atomic_output(args.output, background=True) as sink:
                run(sink)
        else:
            run(None)
    except SchemaError as e:
        progress.finish(0, summary.rows)
        raise InputError(f"{args.input}: {e}") from e
    except VardeError as e:
        progress.finish(0, summary.rows)
        raise InputError(f"the server at {args.server} refused {args.input}: {e}") from e
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as e:
        # A file that breaks part-way (truncated, corrupt) fails whole: the output file is not kept.
        progress.finish(0, summary.rows)
        raise InputError(f"cannot read {args.input!r} past row {summary.rows:,}: {e}") from e
    finally:
        batches.close()  # stops the reader thread now, not whenever the generator is collected
        if client is not None:
            client.close()
    progress.finish(source.total if source.total else summary.rows, summary.rows)
    if not args.quiet:
        elapsed = time.perf_counter() - started
        print(render(summary), file=sys.stderr)
        print(f"  in {elapsed:.2f} s", file=sys.stderr)
        if not args.output:
            print("(use -o OUTPUT to write the scored rows)", file=sys.stderr)
    return 0


def _file_id(path: str) -> str:
    """The same file, unchanged, gets the same id: resubmitting it raises no flag twice."""
    import hashlib
    import os

    st = os.stat(path)
    key = f"{os.path.abspath(path)}\0{st.st_size}\0{st.st_mtime_ns}".encode()
    return "file:" + hashlib.sha256(key).hexdigest()[:24]


def _serve(args) -> int:
    import logging

    from varde.server.config import ConfigError, Settings

    from ._files import InputError

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env(
            address=args.address, metrics_host=args.metrics_host, metrics_port=args.metrics_port,
            max_message_bytes=args.max_message_bytes, workers=args.workers, grace_seconds=args.grace_seconds,
            queue=args.queue, risk_policy=args.risk_policy, escalation_policy=args.escalation_policy,
            escalate_every_seconds=args.escalate_every_seconds,
            assembly_window_seconds=args.assembly_window_seconds, overdue_grace_seconds=args.overdue_grace_seconds,
            response_policies=args.response_policies, fhir_port=args.fhir_port, fhir_host=args.fhir_host,
            console_port=args.console_port, console_host=args.console_host, console_origin=args.console_origin,
            console_oidc=args.console_oidc,
            tls_cert=args.tls_cert, tls_key=args.tls_key,
            tls_client_ca=args.tls_client_ca, auth_config=args.auth_config, insecure=args.insecure,
            validate_national_id=args.validate_national_id, max_rows_per_batch=args.max_rows_per_batch,
            max_concurrent_streams=args.max_concurrent_streams, stream_idle_seconds=args.stream_idle_seconds,
            keepalive_seconds=args.keepalive_seconds,
        )
    except ConfigError as e:
        raise InputError(str(e)) from None
    from varde.scoring.risk import PolicyError
    from varde.server.app import serve
    from varde.server.auth import AuthConfigError
    from varde.server.flags.escalation import EscalationPolicyError
    from varde.server.flags.response import ResponsePolicyError
    from varde.server.store import StoreError

    try:
        return serve(settings)
    except StoreError as e:
        raise InputError(f"cannot open the flag queue: {e}") from None
    except (PolicyError, AuthConfigError, EscalationPolicyError, ResponsePolicyError) as e:
        raise InputError(str(e)) from None
    except (OSError, RuntimeError) as e:
        raise InputError(f"cannot start the server on {settings.address}: {e}") from None


def _health(args) -> int:
    from ._errors import VardeError

    with connect(args, timeout=args.timeout, retries=0) as client:
        try:
            status = client.health()
        except VardeError as e:
            print(f"{args.server}: {e}", file=sys.stderr)
            return 1
    print(status)
    return 0 if status == "SERVING" else 1


def _push(args) -> int:
    import json

    from google.protobuf import json_format

    from ._files import InputError
    from .client import VardeError, observation

    values = {}
    for item in args.values:
        name, sep, text = item.partition("=")
        if not sep:
            raise InputError(f"{item!r} is not NAME=VALUE (e.g. resp_rate=22)")
        values[name] = _value(name, text)
    import datetime as dt

    if args.patient:
        values["patient_id"] = args.patient
    if args.device:
        values["source"] = args.device
    if args.at:
        values["observed_at"] = args.at
    values.setdefault("observed_at", dt.datetime.now(dt.UTC))
    try:
        msg = observation(values)
    except (ValueError, TypeError) as e:
        raise InputError(str(e)) from None
    with connect(args) as client:
        try:
            reply = client.push(msg)
        except VardeError as e:
            raise InputError(f"{args.server}: {e}") from None
    if args.json:
        print(json.dumps(json_format.MessageToDict(reply), indent=2, ensure_ascii=False))
    else:
        print(_assessment_text(reply))
    return 0


def _assessment_text(a) -> str:
    """One assessment for a person: the score and band, what to do, what is missing, the sub-scores."""
    from varde._proto.varde.v1 import observations_pb2 as pb

    if a.reject_reason:
        return f"{a.patient_id}: not scored: {a.reject_reason}"
    if not a.applicable:
        return f"{a.patient_id}: NEWS2 does not apply ({a.not_applicable_reason})"
    band = pb.Band.Name(a.band).removeprefix("BAND_")
    lines = [f"{a.patient_id}: NEWS2 {a.total} {band}{' (a red score)' if a.red else ''}, monitor {a.monitoring}"
             + ("" if a.complete else f"; partial: missing {', '.join(a.missing)}")]
    subs = [f"{f.name} {v}" for f, v in a.sub_scores.ListFields()]
    if subs:
        lines.append("  sub-scores: " + ", ".join(subs))
    if a.assembled and a.parts:
        def hm(ts):
            return ts.ToDatetime().strftime("%H:%M")

        lines.append(f"  set of {a.set_started_at.ToDatetime().strftime('%Y-%m-%d %H:%M')}-{hm(a.observed_at)} UTC: "
                     + ", ".join(f"{p.parameter} {hm(p.measured_at)}{' ' + p.device if p.device else ''}"
                                 for p in a.parts))
    if a.rising:
        lines.append("  rising: a rise of 2 or more against the lowest total of the last 24 h")
    if a.flag_ids:
        lines.append(f"  flags: {', '.join(str(i) for i in a.flag_ids)}")
    return "\n".join(lines)


def _value(name: str, text: str):
    from ._files import InputError

    if name in ("patient_id", "consciousness", "source", "observed_at"):
        return text
    if name in ("on_oxygen", "pregnant"):
        if text.lower() in ("true", "yes", "1", "ja"):
            return True
        if text.lower() in ("false", "no", "0", "nei"):
            return False
        raise InputError(f"{name}={text!r}: use true or false")
    try:
        return int(text) if name in ("spo2_scale", "age") else float(text)
    except ValueError:
        raise InputError(f"{name}={text!r} is not a number") from None


def main(argv: list[str] | None = None) -> int:
    from ._files import InputError

    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as e:
        print(f"varde: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("varde: interrupted; no output file was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
