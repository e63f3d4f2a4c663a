"""`varde risk`: complex-needs risk for a GP journal extract file."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections import Counter

__all__ = ["add_parser"]

_EXAMPLES = """\
examples:
  varde risk examples/patients.csv                        # summary: patients per tier, unmet needs
  varde risk extract.parquet -o risk.parquet              # every patient with the risk columns
  varde risk extract.csv -o - --as-of 2026-11-01 | head

Columns (docs/risk.md): patient_id, age or birth_date; optional icpc2, icd10, atc (lists; in CSV one field with
codes separated by ';'), admissions_12m, emergency_visits_12m, gp_contacts_12m, has_coordinator,
has_individual_plan, has_followup_team, lives_alone. Other columns pass through.
"""


def add_parser(sub) -> None:
    r = sub.add_parser(
        "risk",
        help="score a GP journal extract for complex-needs risk (Charlson, polypharmacy, tier, reasons)",
        description="Score every patient of a GP journal extract: Charlson comorbidity (Quan 2005 coding, 1987 and "
                    "Quan 2011 weights) from ICD-10 and ICPC-2 codes, polypharmacy from ATC codes, and a risk tier "
                    "with its reasons from a policy file. Rows stream through in record batches.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("input", metavar="INPUT", help="patient file (.csv, .parquet, .arrow)")
    r.add_argument("-o", "--output", metavar="OUTPUT",
                   help="write input columns + risk columns here ('-' for CSV on stdout); without it only the "
                        "summary is printed")
    r.add_argument("--policy", metavar="FILE", help="risk policy (TOML; default: the shipped one, docs/risk.md)")
    r.add_argument("--as-of", metavar="YYYY-MM-DD", type=_date, help="date ages are taken at (default: today)")
    r.add_argument("--batch-size", type=int, default=1 << 18, metavar="ROWS",
                   help="rows per record batch read from Parquet (default: %(default)s)")
    prog = r.add_mutually_exclusive_group()
    prog.add_argument("--progress", dest="progress", action="store_true", default=None,
                      help="always show the progress bar (default: only on a terminal)")
    prog.add_argument("--no-progress", dest="progress", action="store_false", help="never show it")
    r.add_argument("-q", "--quiet", action="store_true", help="no summary")
    r.add_argument("--server", metavar="HOST:PORT",
                   help="score on a Varde server (its policy; flags RISK_UNMET_NEED and RISK_RISING go to its queue)")
    r.add_argument("--batch-id", metavar="ID",
                   help="with --server: the id flags are raised under (default: from the file's path, size and time)")
    from ._connect import add_connection_args

    add_connection_args(r, required=False)
    r.set_defaults(func=_risk)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-23") from None


def _risk(args) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc

    from varde.scoring.risk import PolicyError, load_policy, score_risk
    from varde.scoring.schema import SchemaError
    from varde.scoring.summary import count_values

    from ._errors import VardeError
    from ._files import RISK_CSV_TYPES, InputError, atomic_output, open_source, split_code_lists
    from ._pipeline import prefetch
    from ._progress import Progress

    if args.batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    if args.server and (args.policy or args.as_of):
        raise InputError("--policy and --as-of are the server's with --server (varde serve --risk-policy)")
    try:
        policy = load_policy(args.policy)
    except PolicyError as e:
        raise InputError(str(e)) from None
    source = open_source(args.input, args.batch_size, RISK_CSV_TYPES)
    client = None
    # The next batch is read while this one is scored and the last one written (clients/_pipeline.py).
    batches = prefetch(split_code_lists(b) for b in source.batches)
    if args.server:
        from ._connect import connect
        from .cli import _file_id

        client = connect(args, timeout=None)
        scored_batches = (pa.Table.from_batches([b]) for b, _ in client.score_patients_batches(
            batches, batch_id=args.batch_id or _file_id(args.input)))
    else:
        scored_batches = (score_risk(b, policy=policy, as_of=args.as_of) for b in batches)
    show = sys.stderr.isatty() if args.progress is None else args.progress
    progress = Progress(source.total, source.unit, show)
    tiers: Counter = Counter()
    counts: Counter = Counter()
    started = time.perf_counter()

    def run(sink):
        for scored in scored_batches:
            tiers.update(count_values(scored.column("risk_tier")))
            counts["rows"] += scored.num_rows
            counts["unmet"] += pc.sum(scored.column("unmet_need")).as_py() or 0
            for name in ("codes_unknown", "codes_malformed", "codes_underspecified"):
                counts[name] += pc.sum(scored.column(name)).as_py() or 0
            if sink is not None:
                for b in scored.to_batches():
                    sink.write(b)
            progress.update(source.progress() if source.progress else counts["rows"], counts["rows"])

    try:
        if args.output:
            with atomic_output(args.output, background=True) as sink:
                run(sink)
        else:
            run(None)
    except SchemaError as e:
        progress.finish(0, counts["rows"])
        raise InputError(f"{args.input}: {e}") from e
    except VardeError as e:
        progress.finish(0, counts["rows"])
        raise InputError(f"the server at {args.server} refused {args.input}: {e}") from e
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as e:
        progress.finish(0, counts["rows"])
        raise InputError(f"cannot read {args.input!r} past row {counts['rows']:,}: {e}") from e
    finally:
        batches.close()  # stops the reader thread now, not whenever the generator is collected
        if client is not None:
            client.close()
    progress.finish(source.total if source.total else counts["rows"], counts["rows"])
    if not args.quiet:
        where = f"on {args.server}" if args.server else f"policy {policy.version}"
        print(f"scored {counts['rows']:,} patients ({where})", file=sys.stderr)
        for tier in ("VERY_HIGH", "HIGH", "MODERATE", "LOW"):
            print(f"  {tier:<32} {tiers.get(tier, 0):>12,}", file=sys.stderr)
        print(f"  high risk and nobody follows them up yet: {counts['unmet']:,}", file=sys.stderr)
        print(f"  codes unknown / malformed / under-specified: {counts['codes_unknown']:,} / "
              f"{counts['codes_malformed']:,} / {counts['codes_underspecified']:,}", file=sys.stderr)
        print(f"  in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0
