"""Scale-out: one partitioned Parquet dataset scored by every engine (single process, Dask, Spark) in one run, next to
pyarrow reading and writing the same files.

    python benchmarks/bench_scale_out.py [--rows 20000000] [--files 40] [--workers 2] [--engines local,dask,spark]
                                         [--repeat 1] [--batch-size 1048576] [--keep DIR] [--markdown]

The dataset: --files Parquet files of benchmarks/_data.py rows (file k is `generate(rows / files, seed=k)`), in hive
folders `region=north/`, `region=east/`, ... (pyarrow.parquet defaults: snappy, one row group per file at 500k
rows). It is generated once, outside every timing, into a temporary folder ($TMPDIR) that is deleted at the end,
or into --keep DIR, which is kept and reused by later runs. The Numba kernels are compiled (or loaded) into the
on-disk cache once before anything is timed, so no engine pays for compiling.

What each timing holds:
- floor: pyarrow reading every file (ParquetFile.iter_batches, --batch-size rows) and writing it back unchanged
  (ParquetWriter, pyarrow.parquet defaults: the writer settings the engines use), one output file per input file,
  one file after another in this process. The ratio "vs floor" is against this.
- floor, N threads: the same with --workers files at a time in a thread pool (pyarrow releases the GIL): the I/O
  floor when every core works, shown for reference.
- local, dask, spark: `run_job(engine, Job(IN, OUT, OUT-findings, batch_size=...), workers=--workers)` in a fresh
  Python process each, timed from just before the call to its return (imports outside, everything else inside:
  Dask's LocalCluster start, Spark's JVM start and session, reading, scoring, writing, the findings files, and for
  Spark the count of the written output and the findings pass over it). `local` scores file after file in one
  process with the kernels on every core; `dask` runs one task per file on --workers worker processes; `spark` runs
  mapInArrow on local[--workers].
- spark also runs, in the same Python process after the cold job: a session started as the engine starts its own,
  then two jobs on it (run_job uses a running session): "1st job" pays for Spark's Python workers and their
  kernel load, "2nd job" is the warm figure. Then, on the same warm session and settings, where Spark's time goes
  (--no-spark-breakdown to skip): Parquet read + write alone, + mapInArrow with an identity function (the
  Arrow hand-off JVM -> Python -> JVM), + the scoring (mapInArrow with score_partitions), each written to Parquet.

Every output is checked after its run, outside the timing: the rows in the written Parquet files equal the input
rows (and, for local and dask, one output file per input file), no row is rejected, and the findings (rows that
raise a flag) are the same number for every engine. A failed check fails the run (exit 1).

--batch-size defaults to `varde score`'s default (1,048,576 rows; the Job class defaults to 131,072): with 500k-row
files each file is one record batch, and Spark hands mapInArrow up to that many records per batch.

CPU used by other processes: a thread samples /proc every 0.25 s and counts the CPU time of every process that is
not this one or one of its descendants (the engine processes, Dask workers, the JVM and Spark's Python workers are
descendants). On 2 cores another busy process inflates every figure; the run ends by saying how many cores others
used. Each engine's own CPU seconds (all its processes) are reported too: wall seconds x cores tells how much of the
machine the engine kept busy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import generate  # noqa: E402
from _timing import cpu_and_ram  # noqa: E402

ENGINES = ("local", "dask", "spark")
REGIONS = ("north", "east", "south", "west")
SAMPLE_SECONDS = 0.25


# ---------------------------------------------------------------------------------------------- dataset


def write_dataset(root: Path, rows: int, files: int) -> None:
    """`files` Parquet files under hive folders region=..., file k = generate(its share of `rows`, seed=k)."""
    per, extra = divmod(rows, files)
    for k in range(files):
        folder = root / f"region={REGIONS[k % len(REGIONS)]}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(generate(per + (k < extra), seed=k), folder / f"part-{k:03d}.parquet")


def parquet_files(root: Path) -> list[Path]:
    """The data files under `root` as the engines see them (Spark's _SUCCESS and .crc files left out)."""
    return sorted(p for p in root.rglob("*.parquet") if p.is_file() and not p.name.startswith((".", "_")))


def count_rows(root: Path) -> tuple[int, int]:
    """(rows, files) of the Parquet files under `root`, from their footers."""
    files = parquet_files(root) if root.is_dir() else []
    return sum(pq.ParquetFile(p).metadata.num_rows for p in files), len(files)


# ---------------------------------------------------------------------------------------------- floor


def copy_file(src: Path, dst: Path, batch_size: int) -> None:
    """Read `src` in record batches and write them unchanged to `dst`, as score_file reads and writes."""
    reader = pq.ParquetFile(src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    for batch in reader.iter_batches(batch_size=batch_size):
        if writer is None:
            writer = pq.ParquetWriter(dst, batch.schema)
        writer.write_batch(batch)
    if writer is not None:
        writer.close()


def floor(src_root: Path, dst_root: Path, batch_size: int, threads: int) -> None:
    jobs = [(p, dst_root / p.relative_to(src_root)) for p in parquet_files(src_root)]
    if threads <= 1:
        for src, dst in jobs:
            copy_file(src, dst, batch_size)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda j: copy_file(*j, batch_size), jobs))


# ---------------------------------------------------------------------------------------------- CPU accounting


class CpuSampler(threading.Thread):
    """CPU seconds of this process tree ("ours") and of every other process ("others"), from /proc every 0.25 s.

    A process is ours when this process is among its ancestors the first time it is seen (keyed by pid and start
    time, so it stays ours when orphaned while shutting down). Processes alive at the start count from then; later
    ones from birth. CPU a process uses after its last sample and before it exits is not seen (< 0.25 s each)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.tick = os.sysconf("SC_CLK_TCK")
        self.root = os.getpid()
        self.lock = threading.Lock()
        self.last: dict[tuple[int, int], float] = {}
        self.mine: set[tuple[int, int]] = set()
        self.ours = self.others = 0.0
        self.stopped = threading.Event()
        self.sample(first=True)

    def _read(self) -> dict[int, tuple[int, int, float]]:
        procs = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    raw = f.read()
            except OSError:
                continue
            fields = raw[raw.rfind(b")") + 2 :].split()  # fields[0] is field 3 of proc(5)
            procs[int(name)] = (int(fields[1]), int(fields[19]), (int(fields[11]) + int(fields[12])) / self.tick)
        return procs

    def sample(self, first: bool = False) -> None:
        with self.lock:
            procs = self._read()
            for pid, (_, start, cpu) in procs.items():
                key = (pid, start)
                if key not in self.last and key not in self.mine:
                    p, seen = pid, set()
                    while p > 1 and p not in seen and p in procs:
                        if p == self.root:
                            self.mine.add(key)
                            break
                        seen.add(p)
                        p = procs[p][0]
                delta = cpu - self.last.get(key, cpu if first else 0.0)
                self.last[key] = cpu
                if key in self.mine:
                    self.ours += delta
                else:
                    self.others += delta

    def totals(self) -> tuple[float, float]:
        self.sample()
        return self.ours, self.others

    def run(self) -> None:
        while not self.stopped.wait(SAMPLE_SECONDS):
            self.sample()


# ---------------------------------------------------------------------------------------------- engine processes


def _identity(batches):
    yield from batches


def child(spec: dict) -> list[dict]:
    """One engine's runs in this (fresh) process; each run's seconds, JobResult counts and output folders."""
    from varde.clients.engines import Job, run_job

    def job(out: str) -> Job:
        return Job(spec["input"], out, out + "-findings", batch_size=spec["batch_size"])

    sampler = CpuSampler()  # this process and its descendants (Dask workers, the JVM, Spark's Python workers)
    sampler.start()

    def measure(label: str, out: str, fn) -> dict:
        c0 = sampler.totals()
        t0 = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - t0
        c1 = sampler.totals()
        return {"label": label, "seconds": seconds, "cpu": c1[0] - c0[0], "others": c1[1] - c0[1], "out": out,
                "value": value}

    def timed(label: str, out: str) -> dict:
        run = measure(label, out, lambda: run_job(spec["engine"], job(out), workers=spec["workers"]))
        r = run.pop("value")
        return {**run, "findings_dir": out + "-findings", "rows": r.rows, "rejected": r.rejected,
                "findings": r.findings, "files": r.files}

    base = spec["out"]
    if spec["engine"] != "spark":
        return [timed(spec["engine"], base)]

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Spark's Python workers: this venv's interpreter
    from pyspark.sql import SparkSession

    from varde.clients.engines import input_files
    from varde.clients.engines import spark as engine

    runs = [timed("spark", base + "-cold")]
    # A session started as the engine starts its own; run_job then uses it and leaves it running.
    t0 = time.perf_counter()
    spark = (SparkSession.builder.master(f"local[{spec['workers']}]").appName("varde-score")
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("WARN")
    session_seconds = time.perf_counter() - t0
    try:
        for k in (1, 2):
            r = timed(f"spark-job{k}", f"{base}-job{k}")
            r["session_seconds"] = session_seconds
            runs.append(r)
        if spec["breakdown"]:
            files = input_files(spec["input"])
            as_of = dt.date.today()
            settings = {**engine._SQL, "spark.sql.execution.arrow.maxRecordsPerBatch": str(spec["batch_size"])}
            with warnings.catch_warnings(), engine._settings(spark, settings, engine._worker_env(spark, "news2")):
                warnings.filterwarnings("ignore", message=".*pandas", category=FutureWarning)
                df = spark.read.option("basePath", spec["input"]).parquet(*files)
                steps = {
                    "spark-io": lambda: df,
                    "spark-identity": lambda: df.mapInArrow(_identity, df.schema),
                    "spark-score": lambda: df.mapInArrow(
                        partial(engine.score_partitions, kind="news2", as_of=as_of),
                        engine.spark_schema(df.schema, kind="news2", as_of=as_of)),
                }
                for label, make in steps.items():
                    out = f"{base}-{label}"
                    run = measure(label, out, lambda make=make, out=out: make().write.mode("overwrite").parquet(out))
                    run.pop("value")
                    runs.append(run)
    finally:
        spark.stop()
    return runs


def run_child(spec: dict, log: Path) -> list[dict]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    with open(log, "ab") as err:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err)
    if proc.returncode:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{spec['engine']} failed (exit {proc.returncode}); end of {log}:\n{tail}")
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------- machine


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except Exception:  # noqa: BLE001 - not installed, or broken: say so rather than fail the benchmark
        return "not installed"


def machine_line() -> str:
    cpu, ram = cpu_and_ram()
    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
        java = java.replace('"', "").replace(" version", "")
    except (OSError, IndexError):
        java = "no java"
    versions = ", ".join(f"{m} {_version(m)}" for m in ("numpy", "numba", "pyarrow", "dask", "distributed", "pyspark"))
    return f"{cpu}, {os.cpu_count()} cores, {ram} RAM; Python {platform.python_version()}, {versions}, {java}"


# ---------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=20_000_000, help="rows in the dataset (default 20,000,000)")
    ap.add_argument("--files", type=int, default=40, help="Parquet files the rows are split into (default 40)")
    ap.add_argument("--workers", type=int, default=2,
                    help="Dask worker processes, Spark local[N], threads of the threaded floor (default 2)")
    ap.add_argument("--engines", default=",".join(ENGINES),
                    help=f"comma-separated, from {', '.join(ENGINES)} (default all)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds (floor and every engine once per round, a fresh process each); the best is "
                         "reported, every time printed (default 1)")
    ap.add_argument("--batch-size", type=int, default=1 << 20,
                    help="rows per record batch read from each file (default 1,048,576, as `varde score`)")
    ap.add_argument("--keep", type=Path, metavar="DIR",
                    help="generate the dataset into DIR and keep it; if DIR already holds Parquet files, use them "
                         "(--rows and --files are then what DIR holds)")
    ap.add_argument("--no-spark-breakdown", dest="spark_breakdown", action="store_false",
                    help="skip the Spark read/write, identity and scoring-only runs")
    ap.add_argument("--markdown", action="store_true", help="also print a Markdown table and a machine line")
    ap.add_argument("--child", help=argparse.SUPPRESS)  # internal: one engine's runs, in a fresh process
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if bad := [e for e in engines if e not in ENGINES]:
        raise SystemExit(f"--engines: unknown {', '.join(bad)} (one of {', '.join(ENGINES)})")

    print(f"machine: {machine_line()}")
    work = Path(tempfile.mkdtemp(prefix="varde-scale-out-"))
    log = work / "engines.log"
    print(f"work folder {work} (engine logs: {log}); {shutil.disk_usage(work).free / 2**30:.0f} GiB free there")
    try:
        return bench(args, engines, work, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # --keep's dataset lives outside `work`


def bench(args: argparse.Namespace, engines: list[str], work: Path, log: Path) -> int:
    data = args.keep.resolve() if args.keep else work / "in"
    if args.keep and parquet_files(data):
        print(f"reusing the dataset in {data}")
    else:
        t0 = time.perf_counter()
        write_dataset(data, args.rows, args.files)
        print(f"generated {args.rows:,} rows in {args.files} files in {time.perf_counter() - t0:.1f} s")
    rows, n_files = count_rows(data)
    size = sum(p.stat().st_size for p in parquet_files(data))
    print(f"dataset: {rows:,} rows in {n_files} files, {size / 1e6:.0f} MB, under {data}")

    t0 = time.perf_counter()
    from varde.scoring import warm_up

    warm_up()  # fills the Numba cache every engine process then loads from
    print(f"kernels compiled or loaded into the Numba cache in {time.perf_counter() - t0:.1f} s (not timed)")

    sampler = CpuSampler()
    sampler.start()
    t_start = time.perf_counter()
    cpu_start = sampler.totals()
    # label -> list of {"seconds", "cpu", "others"}; checks -> problems found
    times: dict[str, list[dict]] = {}
    problems: list[str] = []
    findings: dict[str, int] = {}

    def record(label: str, seconds: float, cpu: float, others: float) -> None:
        times.setdefault(label, []).append({"seconds": seconds, "cpu": cpu, "others": others})
        print(f"  {label:<16} {seconds:7.2f} s   {rows / seconds / 1e6:6.2f}M rows/s   CPU {cpu:6.1f} s "
              f"(other processes {others:.1f} s)", flush=True)

    def check(label: str, out: Path, per_file: bool, found: int | None = None, result: dict | None = None) -> None:
        got, got_files = count_rows(out)
        if got != rows:
            problems.append(f"{label}: {got:,} rows written, {rows:,} in the input")
        if per_file and got_files != n_files:
            problems.append(f"{label}: {got_files} output files for {n_files} input files")
        if result is not None:
            if result["rows"] != rows:
                problems.append(f"{label}: the job reports {result['rows']:,} rows, {rows:,} in the input")
            if result["rejected"]:
                problems.append(f"{label}: {result['rejected']:,} rows rejected (the data has none to reject)")
            on_disk, _ = count_rows(Path(result["findings_dir"]))
            if on_disk != result["findings"]:
                problems.append(f"{label}: the job reports {result['findings']:,} findings, {on_disk:,} written")
            findings[label] = on_disk
        shutil.rmtree(out, ignore_errors=True)
        if result is not None:
            shutil.rmtree(result["findings_dir"], ignore_errors=True)

    floors = {"floor": 1, f"floor-{args.workers}t": args.workers}
    for rnd in range(args.repeat):
        print(f"round {rnd + 1} of {args.repeat}:")
        for label, threads in floors.items():
            out = work / "floor-out"
            c0 = sampler.totals()
            t0 = time.perf_counter()
            floor(data, out, args.batch_size, threads)
            seconds = time.perf_counter() - t0
            c1 = sampler.totals()
            record(label, seconds, c1[0] - c0[0], c1[1] - c0[1])
            check(label, out, per_file=True)
        for engine in engines:
            spec = {"engine": engine, "input": str(data), "out": str(work / f"out-{engine}"), "workers": args.workers,
                    "batch_size": args.batch_size, "breakdown": args.spark_breakdown}
            runs = run_child(spec, log)
            for r in runs:
                record(r["label"], r["seconds"], r["cpu"], r["others"])  # measured in the engine's process
                if "rows" in r:
                    check(f"{r['label']} (round {rnd + 1})", Path(r["out"]), per_file=engine != "spark",
                          result=r)
                else:
                    check(r["label"], Path(r["out"]), per_file=False)
            for r in runs:
                if r.get("session_seconds") is not None and rnd == 0:
                    print(f"  (spark session start with the JVM already up: {r['session_seconds']:.1f} s, not timed)")
                    break
    wall = time.perf_counter() - t_start
    ours, others = (b - a for a, b in zip(cpu_start, sampler.totals(), strict=True))
    sampler.stopped.set()

    if len(set(findings.values())) > 1:
        problems.append("findings differ between runs: " + ", ".join(f"{k} {v:,}" for k, v in findings.items()))
    report(args, engines, times, rows, n_files, size, findings)
    print(f"\nCPU: this run's processes {ours:.0f} s, other processes {others:.1f} s over {wall:.0f} s "
          f"({others / wall:.2f} cores on average)")
    if others / wall > 0.1:
        print("WARNING: other processes were busy; on 2 cores the timings are inflated, rerun on a quiet machine")
    if args.keep:
        print(f"dataset kept in {data}")
    for p in problems:
        print(f"FAIL: {p}")
    return 1 if problems else 0


LABELS = {
    "floor": "pyarrow read + write (floor)",
    "floor-t": "pyarrow read + write, {w} threads",
    "local": "local: single process",
    "dask": "dask: {w} worker processes",
    "spark": "spark local[{w}], cold",
    "spark-job1": "spark, session running: 1st job",
    "spark-job2": "spark, session running: 2nd job (warm)",
    "spark-io": "spark: Parquet read + write only",
    "spark-identity": "spark: + mapInArrow, identity function",
    "spark-score": "spark: + scoring (mapInArrow score_partitions)",
}
NOTES = {
    "floor": "pyarrow, file after file, one process",
    "floor-t": "the same, {w} files at a time in threads",
    "local": "run_job('local'): file after file, the kernels on every core",
    "dask": "run_job('dask'): LocalCluster start, one task per file",
    "spark": "run_job('spark'): JVM + session start, mapInArrow, write, count, findings pass",
    "spark-job1": "run_job on a session started beforehand: Python workers start, load kernels",
    "spark-job2": "run_job again on that session",
    "spark-io": "read + write, no Python",
    "spark-identity": "read, Arrow to Python and back, write",
    "spark-score": "read, score in mapInArrow, write (no count, no findings)",
}


def report(args, engines, times, rows, n_files, size, findings) -> None:
    w = args.workers
    best = {k: min(r["seconds"] for r in v) for k, v in times.items()}
    base, single = best["floor"], best.get("local")
    table = []
    for key, runs in times.items():
        generic = "floor-t" if key.startswith("floor-") else key
        label = LABELS[generic].format(w=w)
        secs = [r["seconds"] for r in runs]
        spread = f" ({min(secs):.2f}-{max(secs):.2f})" if len(secs) > 1 else ""
        chosen = runs[secs.index(min(secs))]
        table.append((
            label,
            f"{best[key]:.2f}{spread}",
            f"{rows / best[key] / 1e6:.2f}M",
            f"{best[key] / base:.2f}x",
            f"{best[key] / single:.2f}x" if single else "-",
            f"{chosen['cpu']:.0f}",
            f"{chosen['others'] / chosen['seconds']:.2f}",
            NOTES[generic].format(w=w),
        ))
    header = ("run", "seconds", "rows/s", "vs floor", "vs single process", "CPU s", "others", "what is timed")
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(7)]
    print(f"\n{rows:,} rows in {n_files} Parquet files ({size / 1e6:.0f} MB), {w} workers, batches of "
          f"{args.batch_size:,} rows; best of {args.repeat}:")
    for r in [header, *table]:
        cells = [c.ljust(wd) if i == 0 else c.rjust(wd) for i, (c, wd) in enumerate(zip(r[:7], widths, strict=True))]
        print("  " + "  ".join(cells) + "  " + r[7])
    print("CPU s: CPU seconds of all the run's processes; others: cores other processes used during the run")
    if findings:
        print(f"findings: {next(iter(findings.values())):,} rows in every run" if len(set(findings.values())) == 1
              else f"findings DIFFER: {findings}")

    if args.markdown:
        cmd = ["python", "benchmarks/bench_scale_out.py", "--rows", str(rows), "--files", str(n_files), "--workers",
               str(w), "--engines", ",".join(engines), "--repeat", str(args.repeat)]
        if args.batch_size != 1 << 20:
            cmd += ["--batch-size", str(args.batch_size)]
        cmd.append("--markdown")
        print("\n---- Markdown ----\n")
        print(f"`{shlex.join(cmd)}`: {rows:,} rows in {n_files} Parquet files ({size / 1e6:.0f} MB, hive folders "
              f"`region=...`), {w} workers, record batches of {args.batch_size:,} rows, "
              f"{'best of ' + str(args.repeat) if args.repeat > 1 else 'one run each'}; every engine in a fresh "
              "process. Seconds are end to end (engine start included); rows/s are input rows; CPU s: CPU seconds "
              "of all the run's processes (JVM, Dask and Spark workers included); others: cores that other "
              "processes on the machine used during the run.\n")
        print("| run | seconds | rows/s | vs floor | vs single process | CPU s | others | what is timed |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for r in table:
            print("| " + " | ".join(r) + " |")
        if findings:
            print(f"\nEvery run wrote all {rows:,} rows; findings: {next(iter(findings.values())):,} in every run.")
        print(f"\nMachine: {machine_line()}.")


if __name__ == "__main__":
    sys.exit(main())
