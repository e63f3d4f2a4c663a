"""Charlson Comorbidity Index speed: Varde's charlson_columns against what researchers use instead, in one run.

    python benchmarks/bench_risk.py [--patients N] [--repeat K] [--python-subset M] [--skip-packages]
                                    [--skip-cold] [--markdown]

Data: N synthetic patients from _risk_data.generate (~5 ICD-10 codes written as journals do, ~6 ATC codes).

Every peer computes the same thing: each patient's Charlson groups after the hierarchy (diabwc removes diab, msld
mld, metacanc canc) and both scores (Charlson 1987 and Quan 2011 weights), from the tables in scoring/risk/data/.
Results are checked per patient against Varde: groups, charlson_1987, charlson_quan2011.

What is inside each timing:
- varde: `charlson_columns(n, table["icd10"], None)`: Arrow list<string> in, the six result arrays out. A
  warm-up call comes first; the first call (Numba cache load or compile) is reported apart, and, unless
  --skip-cold, a fresh process with an empty Numba cache reports the cold compile. A breakdown shows where the
  time goes; list<string> and large_list<large_string> are both read in place (no cast).
- pandas + regex: the way it is usually written: codes one row per diagnosis (the long format the registries
  deliver; made once from the Arrow list column, outside the timing, and its cost is printed), then
  `str.upper().str.replace(r"[.\\s]", "", regex=True)`, one compiled `^(?:I43|I50|...)` regex per group with
  `str.match`, groupby patient any(), hierarchy, weights.
- polars: the same long table (pl.from_arrow outside): normalise, 3- and 4-character prefixes looked up in a
  prefix -> group-bit dict, group_by patient bitwise_or; hierarchy and weights with numpy on the n masks.
- comorbidipy (PyPI): normalisation as above (it has none of its own), then one `comorbidity(...,
  weighting="charlson")` call; the Quan 2011 score from its returned columns with its own weights (and, in 0.5,
  its assignzero). Its Quan 2011 AIDS weight is 2 (the paper: 4), so only that score differs, on AIDS patients;
  the disagreement is reported, not failed. Two implementations exist: 0.8 (polars) declares Python >= 3.13
  but runs on 3.11 (`pip install --no-deps --ignore-requires-python comorbidipy==0.8.0`); on Python < 3.13 pip
  picks 0.5.0 (pandas), which imports a name pandas 2 removed (the script puts a stand-in there) and maps codes
  with a replace() that costs distinct codes x rows, so its linear extrapolation from a subset flatters it.
  The script times whichever is installed.
- pycomorb (PyPI, polars): `CharlsonComorbidityIndex(..., implementation="quan", weights="charlson",
  return_categories=True)` on the raw codes (it strips outer spaces, drops dots, upper-cases); Quan 2011 from
  the returned categories and its own weight table. It keeps spaces inside a code ("E11 2"): disagreements
  reported, not failed.
- python: the project's plain-Python reference (tests/reference/charlson.py, one patient at a time) on a subset
  (--python-subset), extrapolated per patient; it also checks Varde's code counts on that subset.
A DataFrame peer runs on all N patients when a probe on 20,000 predicts < 60 s, otherwise on a subset sized
for ~10 s, extrapolated per patient; a peer whose checked run takes > 15 s is timed once (the table says so).
Projections to 5.5M patients (all of Norway) are linear.

Polypharmacy (distinct ATC substances per patient, bands, review flag) is timed beside it: Varde's
`polypharmacy_columns`, a pandas count and a polars count (uppercase, drop dots and whitespace, keep level-5 codes,
n_unique per patient; each distinct spelling normalised once; long format made outside), each checked against
Varde's counts.

Targets (/work/shared/targets.md): Charlson (both weightings) + polypharmacy, 1M patients: >= 50x pandas + regex,
>= 30x the fastest Python package. Both sides do both jobs: pandas + regex with the pandas count; the fastest
Charlson package with the polars count, since no package counts polypharmacy (the package's Charlson alone against
Varde's both jobs is printed too, as a lower bound). Exit 1 when pandas, polars or the reference disagree with
Varde anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.reference.charlson import GROUPS  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _risk_data import generate, long_format  # noqa: E402
from _risk_peers import (  # noqa: E402
    Peer,
    Result,
    bits_of,
    pandas_polypharmacy,
    peer_comorbidipy,
    peer_pandas,
    peer_polars,
    peer_pycomorb,
    peer_python,
    polars_polypharmacy,
)
from _timing import cpu_seconds, machine_line, time_runs  # noqa: E402

NORWAY = 5_500_000
PROBE = 20_000
FULL_IF_UNDER = 60.0  # seconds: a DataFrame peer runs on all N when a probe predicts less
SUBSET_TARGET = 10.0  # seconds per run when it does not
SLOW = 15.0  # seconds: a peer whose checked run takes longer is timed once more, not --repeat times
EXACT_PEERS = ("pandas + regex", "polars", "python (reference)")
PACKAGES = ("numpy", "numba", "pyarrow", "pandas", "polars", "comorbidipy", "pycomorb")

# ---------------------------------------------------------------------------------------------- results


def varde_result(out: dict, n: int) -> Result:
    groups = out["charlson_groups"]
    names = groups.values.dictionary.to_pylist()
    order = np.array([GROUPS.index(s) for s in names], np.uint32)
    idx = order[groups.values.indices.to_numpy(zero_copy_only=False)]
    mask = np.zeros(n, np.uint32)
    np.bitwise_or.at(mask, pc.list_parent_indices(groups).to_numpy(), np.uint32(1) << idx)
    counts = {k: out[k].to_numpy(zero_copy_only=False) for k in ("codes_unknown", "codes_underspecified",
                                                                  "codes_malformed")}
    return Result(mask, out["charlson_1987"].to_numpy(zero_copy_only=False).astype(np.int64),
                  out["charlson_quan2011"].to_numpy(zero_copy_only=False).astype(np.int64), counts)


def compare(name: str, got: Result, want: Result, table: pa.Table, exact: bool) -> int:
    """Prints the disagreement; returns the number of patients that differ anywhere."""
    m = len(got.mask)
    diff = {
        "groups": got.mask != want.mask[:m],
        "charlson_1987": got.s1987 != want.s1987[:m],
        "charlson_quan2011": got.s2011 != want.s2011[:m],
    }
    for k, v in got.counts.items():
        diff[k] = v != want.counts[k][:m]
    any_diff = np.logical_or.reduce(list(diff.values()))
    bad = int(any_diff.sum())
    parts = ", ".join(f"{k} {int(v.sum()):,}" for k, v in diff.items())
    checked = ", ".join(diff)
    if not bad:
        print(f"  {name}: equal to varde on all {m:,} patients ({checked})")
        return 0
    print(f"  {name}: {bad:,} of {m:,} patients ({bad / m:.3%}) differ from varde: {parts}")
    aids = 1 << GROUPS.index("aids")
    only_2011 = diff["charlson_quan2011"] & ~diff["groups"] & ~diff["charlson_1987"]
    if only_2011.any():
        with_aids = int(((want.mask[:m] & aids) != 0)[only_2011].sum())
        print(f"    of which only charlson_quan2011 differs: {int(only_2011.sum()):,}; with AIDS/HIV: {with_aids:,}")
    for i in np.flatnonzero(any_diff if exact else any_diff & ~only_2011)[:3]:
        codes = table.column("icd10")[int(i)].as_py()
        print(f"    patient {i}: {name} {sorted(GROUPS[g] for g in np.flatnonzero(bits_of(got.mask[i:i + 1])[0]))} "
              f"{got.s1987[i]}/{got.s2011[i]}, varde "
              f"{sorted(GROUPS[g] for g in np.flatnonzero(bits_of(want.mask[i:i + 1])[0]))} "
              f"{want.s1987[i]}/{want.s2011[i]}; codes {codes}")
    return bad


# ---------------------------------------------------------------------------------------------- timing


def best(fn: Callable[[], object], repeat: int) -> float:
    fn()
    return min(time_runs(fn, repeat))


def sized(make: Callable[[int], Peer], n: int, name: str) -> Peer:
    """All n patients if a probe on PROBE patients predicts < FULL_IF_UNDER s per run, else a subset."""
    if n <= PROBE:
        return make(n)
    probe = make(PROBE)
    t = min(time_runs(probe.run, 1))  # a cold run: only an estimate
    del probe
    predicted = t * n / PROBE
    if predicted < FULL_IF_UNDER:
        return make(n)
    m = max(PROBE, min(n, int(SUBSET_TARGET / t * PROBE)))
    print(f"  {name}: a probe predicts {predicted:.0f} s on {n:,} patients: timed on {m:,}, extrapolated")
    return make(m)


# ---------------------------------------------------------------------------------------------- varde


def varde_timings(table: pa.Table, n: int, repeat: int) -> tuple[Peer, dict[str, float], float, float]:
    """The varde peer, a breakdown of its time, the import time and the first call's time."""
    t0 = time.perf_counter()
    from varde.scoring.risk import charlson_columns

    t_import = time.perf_counter() - t0
    icd = table.column("icd10")
    t0 = time.perf_counter()
    charlson_columns(n, icd, None)  # Numba: loads the cached machine code, or compiles
    t_first = time.perf_counter() - t0

    peer = Peer(lambda: charlson_columns(n, icd, None), lambda out: varde_result(out, n),
                "charlson_columns(n, table['icd10'], None): list<string> in, six Arrow arrays out", n)
    return peer, breakdown(icd, n, repeat), t_import, t_first


def breakdown(icd: pa.ChunkedArray, n: int, repeat: int) -> dict[str, float]:
    """Where charlson_columns spends its time, step by step (each step best of `repeat`)."""
    from varde.scoring.risk import charlson_columns

    out: dict[str, float] = {}
    try:
        from varde.scoring.risk import charlson as C
        from varde.scoring.risk._lists import list_column
    except ImportError as exc:
        print(f"  no breakdown: {exc}")
        return out
    large_t = pa.large_list(pa.large_string())
    arr = icd.combine_chunks()
    large = arr.cast(large_t)
    out["combine_chunks (1 chunk)"] = best(lambda: icd.combine_chunks(), repeat)
    out["list_column on large_list input (in place)"] = best(lambda: list_column(large, "icd10"), repeat)
    out["list_column on list<string> input (in place)"] = best(lambda: list_column(arr, "icd10"), repeat)
    try:
        t = C.tables()
        col = list_column(arr, "icd10")  # list<string>, as charlson_columns is timed

        def kernel():
            empty = C._pool.empty  # as charlson_columns allocates
            counts = tuple(empty(n, np.int16) for _ in range(3))
            scores = (empty(n, np.int8), empty(n, np.int8))
            final = empty(n, np.uint32)
            totals = C.match_codes(n, col, t.icd10, C.ICD10, C._NO_MASK, counts, parallel=True, first=True,
                                   finish_into=(final, *scores))
            return final, scores, totals, counts

        final, scores, totals, counts = kernel()
        out["kernel: match_codes over ICD-10, finishing (hierarchy, both weights)"] = best(kernel, repeat)
        out["groups list column and Arrow arrays (fill)"] = best(
            lambda: C._columns(n, final, scores, totals, counts), repeat)
    except Exception as exc:  # the internals moved: the public timings below still stand
        print(f"  breakdown of the internals skipped ({type(exc).__name__}: {exc})")
    out["charlson_columns, large_list<large_string> input"] = best(lambda: charlson_columns(n, large, None), repeat)
    out["charlson_columns, list<string> input (as timed)"] = best(lambda: charlson_columns(n, icd, None), repeat)
    return out


COLD_SCRIPT = r"""
import json, time
t0 = time.perf_counter()
import pyarrow as pa
from varde.scoring.risk import charlson_columns
t1 = time.perf_counter()
codes = pa.array([["I50.9", "e11.2", " C78.1", "J449 "]] * 20000, pa.list_(pa.string()))
charlson_columns(20000, codes, None)
t2 = time.perf_counter()
charlson_columns(20000, codes, None)
t3 = time.perf_counter()
charlson_columns(100, codes.slice(0, 100), None)
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first_parallel": t2 - t1, "second_parallel": t3 - t2,
                  "first_serial": t4 - t3}))
"""


def cold_compile() -> list[dict] | None:
    """Two fresh processes sharing an empty Numba cache: the first compiles, the second loads."""
    runs = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for _ in range(2):
            p = subprocess.run([sys.executable, "-c", COLD_SCRIPT], env=env, capture_output=True, text=True,
                               timeout=900, cwd=ROOT)
            if p.returncode != 0:
                print(f"  cold-compile process failed: {p.stderr.strip().splitlines()[-1:]}")
                return None
            runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
    return runs


def polypharmacy(table: pa.Table, n: int, repeat: int) -> float | None:
    """Best time of polypharmacy_columns on the ATC column, when that part of Varde is present."""
    try:
        from varde.scoring.risk.medicines import polypharmacy_columns

        atc = table.column("atc")
        return best(lambda: polypharmacy_columns(n, atc), repeat)
    except Exception as exc:
        print(f"  polypharmacy not timed ({type(exc).__name__}: {exc})")
        return None


# ---------------------------------------------------------------------------------------------- report


def _fmt_s(s: float) -> str:
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=1_000_000, help="synthetic patients (default 1,000,000)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per peer after a warm-up (best and median)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--python-subset", type=int, default=20_000,
                    help="patients the plain-Python reference runs on (extrapolated; default 20,000)")
    ap.add_argument("--skip-packages", action="store_true", help="skip comorbidipy and pycomorb")
    ap.add_argument("--skip-cold", action="store_true",
                    help="skip the cold-compile measurement (two fresh processes with an empty Numba cache)")
    ap.add_argument("--markdown", action="store_true", help="also print a Markdown table and a machine line")
    args = ap.parse_args(argv)
    n = args.patients
    start = time.perf_counter()
    busy0, own0 = cpu_seconds()

    t0 = time.perf_counter()
    table = generate(n, args.seed)
    icd = table.column("icd10").combine_chunks()
    n_codes = len(icd.values)
    print(f"generated {n:,} patients in {time.perf_counter() - t0:.1f} s: {n_codes:,} ICD-10 codes "
          f"({n_codes / n:.2f} per patient, {icd.null_count:,} null lists), "
          f"{len(table.column('atc').combine_chunks().values):,} ATC codes; {table.nbytes / 1e6:.0f} MB in Arrow")
    print("  e.g.", table.column("icd10")[1].as_py(), table.column("atc")[1].as_py())
    t0 = time.perf_counter()
    long = long_format(table, n).to_pandas() if _has("pandas") else None
    if long is not None:
        print(f"  long format for the DataFrame peers (outside their timings): {time.perf_counter() - t0:.2f} s "
              f"(list_flatten + to_pandas, {len(long):,} rows)")
        del long

    print("\nvarde: warm-up and breakdown")
    varde, parts, t_import, t_first = varde_timings(table, n, args.repeat)
    out = varde.run()
    ref = varde.result(out)
    print(f"  import {t_import:.2f} s; first call on {n:,} patients {t_first:.2f} s (Numba cache load or compile)")
    print(f"  patients with a group: {np.count_nonzero(ref.mask):,}; codes under-specified "
          f"{int(ref.counts['codes_underspecified'].sum()):,}, malformed {int(ref.counts['codes_malformed'].sum()):,}"
          f", unknown {int(ref.counts['codes_unknown'].sum()):,}; mean charlson_1987 {ref.s1987.mean():.2f}, "
          f"quan2011 {ref.s2011.mean():.2f}")
    times: dict[str, list[float]] = {"varde": time_runs(varde.run, args.repeat)}
    notes = {"varde": varde.note}
    scale = {"varde": 1.0}
    t_poly = polypharmacy(table, n, args.repeat)
    mismatches = 0
    t_other_poly: dict[str, float] = {}  # polypharmacy by the DataFrame libraries, beside Varde's
    if t_poly is not None:
        for lib, make in (("pandas", pandas_polypharmacy), ("polars", polars_polypharmacy)):
            made = make(table, n) if _has(lib) else None
            if made:
                mismatches += made[1]
                t_other_poly[lib] = best(made[0], args.repeat)
    del out

    peers: dict[str, Callable[[int], Peer]] = {}
    if _has("pandas"):
        peers["pandas + regex"] = lambda m: peer_pandas(table, m)
    if _has("polars"):
        peers["polars"] = lambda m: peer_polars(table, m)
    if not args.skip_packages:
        for pkg, make in (("comorbidipy", peer_comorbidipy), ("pycomorb", peer_pycomorb)):
            if _has(pkg):
                peers[pkg] = lambda m, make=make: make(table, m)
            else:
                print(f"  {pkg} not installed (pip install -e '.[bench]'): skipped")
    peers["python (reference)"] = lambda m: peer_python(table, m)

    for name, make in peers.items():
        print(f"\n{name}")
        try:
            if name == "python (reference)":
                peer = make(min(n, args.python_subset))
            else:
                peer = sized(make, n, name)
            t0 = time.perf_counter()
            res = peer.result(peer.run())  # also the warm-up
            t_check = time.perf_counter() - t0
        except Exception as exc:
            print(f"  FAILED to run: {type(exc).__name__}: {exc}")
            continue
        bad = compare(name, res, ref, table, name in EXACT_PEERS)
        if name in EXACT_PEERS:
            mismatches += bad
        reps = args.repeat if t_check < SLOW else 1
        times[name] = time_runs(peer.run, reps)
        scale[name] = n / peer.m
        notes[name] = peer.note + ("" if peer.m == n else f"; timed on {peer.m:,} patients, extrapolated")
        if reps != args.repeat:
            notes[name] += f"; {reps} timed run (slow)"
        print(f"  best {_fmt_s(min(times[name]))} on {peer.m:,} patients")
        del peer, res

    cold = None if args.skip_cold else cold_compile()
    report(times, scale, notes, n, args, parts, t_first, cold, t_poly, t_other_poly.get("pandas"),
           t_other_poly.get("polars"))

    busy1, own1 = cpu_seconds()
    wall = time.perf_counter() - start
    others = (busy1 - busy0) - (own1 - own0)
    if others / wall > 0.1:
        print(f"WARNING: other processes used {others / wall:.2f} cores on average during this {wall:.0f} s run; "
              "timings are inflated, rerun on a quiet machine")
    else:
        print(f"machine quiet: other processes used {max(others, 0) / wall:.2f} cores on average "
              f"during the {wall:.0f} s run")
    if mismatches:
        print(f"FAIL: {mismatches} patients where pandas, polars or the reference differ from varde")
        return 1
    return 0


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def report(times, scale, notes, n, args, parts, t_first, cold, t_poly, t_pandas_poly=None,
           t_polars_poly=None) -> None:
    bst = {k: min(v) * scale[k] for k, v in times.items()}
    med = {k: statistics.median(v) * scale[k] for k, v in times.items()}
    base = bst["varde"]
    rows = []
    for name in times:
        r = bst[name] / base
        rows.append((name, f"{bst[name]:.3f}", f"{med[name]:.3f}", f"{n / bst[name] / 1e6:.3g}M",
                     f"{r:.0f}x" if r >= 10 else f"{r:.2f}x", f"{bst[name] * NORWAY / n:.2f}", notes[name]))
    header = ("peer", "best s", "median s", "patients/s", "peer/varde", "5.5M s", "what is timed")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(6)]
    print(f"\nCharlson groups + charlson_1987 + charlson_quan2011, {n:,} patients "
          f"(~5 ICD-10 codes each), best and median of {args.repeat}; 5.5M s: best, projected linearly:")
    for r in [header, *rows]:
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r[:6], widths, strict=True))]
        print("  " + "  ".join(cells) + "  " + r[6])

    print("\nvarde, where the time goes (best of", args.repeat, "each):")
    for k, v in parts.items():
        print(f"  {v * 1e3:8.1f} ms  {k}")
    print(f"  first call in this process: {t_first:.2f} s")
    if cold:
        c, w = cold
        print(f"  fresh process, empty Numba cache: import {c['import']:.2f} s, first parallel call (compile) "
              f"{c['first_parallel']:.1f} s, first serial call (compile) {c['first_serial']:.1f} s; "
              f"same cache, next process: import {w['import']:.2f} s, first calls "
              f"{w['first_parallel']:.2f} + {w['first_serial']:.2f} s (cache load)")
    verdicts = []
    if t_poly is not None:
        both = base + t_poly
        print(f"  polypharmacy_columns on the ATC column: {t_poly * 1e3:.1f} ms; Charlson + polypharmacy "
              f"{both * 1e3:.1f} ms ({both * NORWAY / n:.2f} s projected to 5.5M)")
    else:
        both = None
    target = both if both is not None else base
    what = "Charlson + polypharmacy" if both is not None else "Charlson alone"
    if "pandas + regex" in bst:
        pandas_both = bst["pandas + regex"] + (t_pandas_poly or 0.0) if both is not None else bst["pandas + regex"]
        if t_pandas_poly is not None and both is not None:
            print(f"  pandas polypharmacy (explode outside): {t_pandas_poly:.2f} s; pandas Charlson + polypharmacy "
                  f"{pandas_both:.2f} s")
        r = pandas_both / target
        verdicts.append(f"pandas + regex / varde ({what}{', both sides' if t_pandas_poly else ''}) = {r:.0f}x "
                        f"(target >= 50x: {'met' if r >= 50 else 'NOT met'})")
    pkgs = {k: bst[k] for k in ("comorbidipy", "pycomorb") if k in bst}
    if pkgs:
        # No package counts polypharmacy: its user adds a polars count (the fastest peer for it here), so the
        # target compares the same work on both sides; the package's Charlson alone gives a lower bound.
        fastest = min(pkgs, key=pkgs.get)
        if both is not None and t_polars_poly is not None:
            print(f"  polars polypharmacy (explode outside): {t_polars_poly * 1e3:.0f} ms; {fastest} Charlson + "
                  f"polars polypharmacy {pkgs[fastest] + t_polars_poly:.3f} s")
            r = (pkgs[fastest] + t_polars_poly) / both
            verdicts.append(f"fastest package ({fastest}) + polars polypharmacy / varde (Charlson + polypharmacy, "
                            f"both sides) = {r:.1f}x (target >= 30x: {'met' if r >= 30 else 'NOT met'})")
            r = pkgs[fastest] / both
            verdicts.append(f"fastest package ({fastest}, Charlson alone) / varde (Charlson + polypharmacy) = "
                            f"{r:.1f}x (a lower bound: the package side does no polypharmacy)")
        else:
            r = pkgs[fastest] / target
            verdicts.append(f"fastest package ({fastest}) / varde ({what}) = {r:.1f}x "
                            f"(target >= 30x: {'met' if r >= 30 else 'NOT met'})")
    for v in verdicts:
        print(v)

    if args.markdown:
        print("\n---- Markdown ----\n")
        cmd = f"benchmarks/bench_risk.py --patients {n} --repeat {args.repeat}"
        print(f"Charlson groups and both scores, {n:,} patients (`{cmd}`), best and median of {args.repeat}; "
              f"the last column projects the best time linearly to 5.5M patients.\n")
        print("| peer | best (s) | median (s) | patients/s | peer / Varde | 5.5M (s) | what is timed |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
        print("\n| Varde step | ms |\n|---|---:|")
        for k, v in parts.items():
            print(f"| {k} | {v * 1e3:.1f} |")
        if both is not None:
            print(f"\nCharlson + polypharmacy: {both * 1e3:.1f} ms.")
        for v in verdicts:
            print(f"{v[0].upper()}{v[1:]}.")
        print(f"\nMachine: {machine_line(PACKAGES)}.")


if __name__ == "__main__":
    sys.exit(main())
