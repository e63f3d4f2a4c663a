"""The `varde` command."""

from __future__ import annotations

import argparse
import sys
import time

from varde import __version__

__all__ = ["main"]

_SCORE_EXAMPLES = """\
examples:
  varde score examples/observations.csv                   # summary only
  varde score observations.parquet -o scored.parquet      # every row with its NEWS2 columns
  varde score observations.csv -o - | head                # CSV to stdout

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
    v.add_argument("--metrics-port", metavar="PORT", type=_port_or_off,
                   help="Prometheus port, or 'off' (default: 9464)")
    v.add_argument("--max-message-bytes", type=int, metavar="BYTES",
                   help="largest request accepted (default: 64 MiB); clients split batches under it")
    v.add_argument("--workers", type=int, metavar="N", help="gRPC worker threads (default: 64)")
    v.add_argument("--grace-seconds", type=float, metavar="S",
                   help="on SIGTERM, time for in-flight calls to finish (default: 10)")
    v.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    v.set_defaults(func=_serve)

    h = sub.add_parser("health", help="ask a server whether it is serving (exit 0 if it is)",
                       description="Standard gRPC health check. Exit 0 when SERVING, 1 otherwise.")
    h.add_argument("--server", metavar="HOST:PORT", default="127.0.0.1:50051",
                   help="server address (default: %(default)s)")
    h.add_argument("--timeout", type=float, default=5.0, metavar="S", help="give up after S seconds")
    h.set_defaults(func=_health)

    u = sub.add_parser(
        "push", help="score one observation set on a server",
        description="Send one observation set with PushObservation and print the assessment as JSON.",
        epilog="example:\n  varde push --server 127.0.0.1:50051 patient_id=p1 resp_rate=22 spo2=95 on_oxygen=false "
               "systolic_bp=118 pulse=96 consciousness=A temperature=38.4",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    u.add_argument("values", nargs="+", metavar="NAME=VALUE", help="observation fields (docs/news2.md)")
    u.add_argument("--server", metavar="HOST:PORT", default="127.0.0.1:50051",
                   help="server address (default: %(default)s)")
    u.set_defaults(func=_push)
    return p


_SERVE_EXAMPLES = """\
examples:
  varde serve                                     # 127.0.0.1:50051, metrics on http://127.0.0.1:9464/metrics
  VARDE_ADDRESS=0.0.0.0:50051 varde serve --metrics-port off
  varde score observations.parquet -o scored.parquet --server 127.0.0.1:50051

Limits: requests up to --max-message-bytes (64 MiB); VardeClient and `varde score --server` cut batches into
4 MiB requests, so no client of ours meets the limit. Replies are not limited.
"""


def _port_or_off(text: str):
    if text.lower() == "off":
        return "off"
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number or 'off'") from None
    return port


def _score(args) -> int:
    import pyarrow as pa

    from varde.scoring import SchemaError, score_news2
    from varde.scoring.summary import Counts, count

    from ._files import InputError, atomic_output, open_source
    from ._progress import Progress
    from ._summary import render
    from .client import VardeError

    if args.batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    source = open_source(args.input, args.batch_size)
    show = sys.stderr.isatty() if args.progress is None else args.progress
    progress = Progress(source.total, source.unit, show)
    summary = Counts()
    started = time.perf_counter()
    client = None
    if args.server:
        from .client import VardeClient

        client = VardeClient(args.server, timeout=None)
        scored_batches = (scored for scored, _ in client.score_batches(source.batches))
    else:
        scored_batches = (score_news2(batch) for batch in source.batches)

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
            with atomic_output(args.output) as sink:
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


def _serve(args) -> int:
    import logging

    from varde.server.config import ConfigError, Settings

    from ._files import InputError

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    metrics_port = args.metrics_port
    try:
        settings = Settings.from_env(
            address=args.address, metrics_host=args.metrics_host, max_message_bytes=args.max_message_bytes,
            workers=args.workers, grace_seconds=args.grace_seconds,
            **({} if metrics_port is None else {"metrics_port": None if metrics_port == "off" else metrics_port}),
        )
    except ConfigError as e:
        raise InputError(str(e)) from None
    from varde.server.app import serve

    try:
        return serve(settings)
    except (OSError, RuntimeError) as e:
        raise InputError(f"cannot start the server on {settings.address}: {e}") from None


def _health(args) -> int:
    from .client import VardeClient, VardeError

    with VardeClient(args.server, timeout=args.timeout, retries=0) as client:
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
    from .client import VardeClient, VardeError, observation

    values = {}
    for item in args.values:
        name, sep, text = item.partition("=")
        if not sep:
            raise InputError(f"{item!r} is not NAME=VALUE (e.g. resp_rate=22)")
        values[name] = _value(name, text)
    try:
        msg = observation(values)
    except (ValueError, TypeError) as e:
        raise InputError(str(e)) from None
    with VardeClient(args.server) as client:
        try:
            reply = client.push(msg)
        except VardeError as e:
            raise InputError(f"{args.server}: {e}") from None
    print(json.dumps(json_format.MessageToDict(reply), indent=2, ensure_ascii=False))
    return 0


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
