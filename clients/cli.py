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
    s.set_defaults(func=_score)
    return p


def _score(args) -> int:
    import pyarrow as pa
    from varde.scoring import SchemaError, score_news2

    from ._files import InputError, atomic_output, open_source
    from ._progress import Progress
    from ._summary import Summary

    if args.batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    source = open_source(args.input, args.batch_size)
    show = sys.stderr.isatty() if args.progress is None else args.progress
    progress = Progress(source.total, source.unit, show)
    summary = Summary()
    started = time.perf_counter()

    def run(sink):
        for batch in source.batches:
            scored = score_news2(batch)
            summary.add(scored)
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
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as e:
        # A file that breaks part-way (truncated, corrupt) fails whole: the output file is not kept.
        progress.finish(0, summary.rows)
        raise InputError(f"cannot read {args.input!r} past row {summary.rows:,}: {e}") from e
    progress.finish(source.total if source.total else summary.rows, summary.rows)
    if not args.quiet:
        elapsed = time.perf_counter() - started
        print(summary.render(), file=sys.stderr)
        print(f"  in {elapsed:.2f} s", file=sys.stderr)
        if not args.output:
            print("(use -o OUTPUT to write the scored rows)", file=sys.stderr)
    return 0


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
