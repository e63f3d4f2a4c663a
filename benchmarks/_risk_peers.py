"""The peers bench_risk.py times Varde's Charlson against (pandas + regex, Polars, comorbidipy, pycomorb, the
plain-Python reference), each prepared outside its timing, and the per-patient Result they are compared by.
bench_risk.py's docstring says what each peer's timing holds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from _risk_data import long_format

from tests.reference.charlson import GROUPS, charlson, load_tables


@dataclass
class Result:
    """Per patient: the groups after the hierarchy (bit g = GROUPS[g]) and both scores."""

    mask: np.ndarray
    s1987: np.ndarray
    s2011: np.ndarray
    counts: dict[str, np.ndarray] = field(default_factory=dict)


def _tables_arrays():
    t = load_tables()
    w87 = np.array([t.weight_1987[g] for g in GROUPS], np.int64)
    w11 = np.array([t.weight_quan2011[g] for g in GROUPS], np.int64)
    hier = [(GROUPS.index(s), GROUPS.index(m)) for s, m in t.hierarchy]
    return w87, w11, hier


def bits_of(mask: np.ndarray) -> np.ndarray:
    return ((mask[:, None] >> np.arange(len(GROUPS), dtype=np.uint32)) & 1).astype(bool)


def mask_of(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << np.arange(len(GROUPS), dtype=np.uint32)).sum(axis=1).astype(np.uint32)


@dataclass
class Peer:
    """A prepared peer on patients 0..m-1: `run()` is timed; `result(run())` converts its output."""

    run: Callable[[], object]
    result: Callable[[object], Result]
    note: str
    m: int


def _group_regexes() -> dict[str, str]:
    t = load_tables()
    return {g: "^(?:" + "|".join(p for gg, p in t.icd10 if gg == g) + ")" for g in GROUPS}


def peer_pandas(table: pa.Table, m: int) -> Peer:
    import pandas as pd

    long = long_format(table, m).to_pandas()
    long["code"] = long["code"].astype("str")
    regexes = _group_regexes()
    t = load_tables()
    w87 = pd.Series(t.weight_1987)
    w11 = pd.Series(t.weight_quan2011)

    def run():
        code = long["code"].str.upper().str.replace(r"[.\s]", "", regex=True)
        flags = pd.DataFrame({g: code.str.match(rx) for g, rx in regexes.items()})
        flags["patient"] = long["patient"]
        per = flags.groupby("patient").any().reindex(pd.RangeIndex(m), fill_value=False)
        for severe, mild in t.hierarchy:
            per.loc[per[severe], mild] = False
        per["charlson_1987"] = (per[list(GROUPS)] * w87).sum(axis=1)
        per["charlson_quan2011"] = (per[list(GROUPS)] * w11).sum(axis=1)
        return per

    def result(per) -> Result:
        return Result(mask_of(per[list(GROUPS)].to_numpy()), per["charlson_1987"].to_numpy(np.int64),
                      per["charlson_quan2011"].to_numpy(np.int64))

    return Peer(run, result, f"explode outside; str.upper/replace + 17 str.match regexes, groupby any "
                f"({long['code'].dtype} dtype, pandas {pd.__version__})", m)


def peer_polars(table: pa.Table, m: int) -> Peer:
    import polars as pl

    lf = pl.from_arrow(long_format(table, m)).lazy()
    t = load_tables()
    by_len: dict[int, dict[str, int]] = {}
    for g, p in t.icd10:
        by_len.setdefault(len(p), {})[p] = by_len.get(len(p), {}).get(p, 0) | (1 << GROUPS.index(g))
    w87, w11, hier = _tables_arrays()
    c = pl.col("code").str.replace_all(r"[.\s]", "").str.to_uppercase()
    bit = pl.lit(0, pl.UInt32)
    for length, d in sorted(by_len.items()):
        bit = bit | c.str.slice(0, length).replace_strict(d, default=0, return_dtype=pl.UInt32)
    query = (lf.select(pl.col("patient"), bit.alias("bit")).filter(pl.col("bit") != 0)
             .group_by("patient").agg(pl.col("bit").bitwise_or()))

    def run():
        per = query.collect()
        mask = np.zeros(m, np.uint32)
        mask[per["patient"].to_numpy()] = per["bit"].to_numpy()
        for s, mild in hier:
            mask &= ~(((mask >> s) & 1) << mild).astype(np.uint32)
        b = bits_of(mask)
        return mask, b @ w87, b @ w11

    return Peer(run, lambda r: Result(*r), f"lazy: normalise, prefix dict look-up, group_by bitwise_or; numpy "
                f"hierarchy + weights ({pl.thread_pool_size()} threads, polars {pl.__version__})", m)


def peer_comorbidipy(table: pa.Table, m: int) -> Peer:
    from importlib.metadata import version

    v = version("comorbidipy")
    if tuple(int(x) for x in v.split(".")[:2]) >= (0, 6):
        return _comorbidipy_polars(table, m, v)
    return _comorbidipy_pandas(table, m, v)


def _comorbidipy_polars(table: pa.Table, m: int, v: str) -> Peer:
    """comorbidipy >= 0.6: polars; the group columns it returns are after its assignzero (the hierarchy)."""
    import polars as pl
    from comorbidipy import comorbidity
    from comorbidipy.codemaps.weights import weights

    long = pl.from_arrow(long_format(table, m)).rename({"patient": "id"})
    cols = [{"mi": "ami", "cpd": "copd"}.get(g, g) for g in GROUPS]
    wq = weights["charlson_icd10_quan"]["quan"]

    def run():
        df = long.with_columns(pl.col("code").str.replace_all(r"[.\s]", "").str.to_uppercase())
        out = comorbidity(df, id_col="id", code_col="code", score="charlson", icd="icd10", variant="quan",
                          weighting="charlson", assign0=True)
        return out.with_columns(pl.sum_horizontal(pl.col(c) * wq[c] for c in cols).alias("quan2011"))

    def result(out) -> Result:
        ids = out["id"].to_numpy()
        b = np.zeros((m, len(GROUPS)), bool)
        b[ids] = out.select(cols).to_numpy() > 0
        s87, s11 = np.zeros(m, np.int64), np.zeros(m, np.int64)
        s87[ids] = out["comorbidity_score"].to_numpy().round()
        s11[ids] = out["quan2011"].to_numpy().round()
        return Result(mask_of(b), s87, s11)

    return Peer(run, result, f"normalise (polars) + comorbidity(weighting='charlson') + Quan 2011 from its "
                f"columns and weights (comorbidipy {v}, polars)", m)


def _comorbidipy_pandas(table: pa.Table, m: int, v: str) -> Peer:
    """comorbidipy 0.5 (the newest pip gives Python < 3.13): pandas; group columns before the hierarchy."""
    import pandas as pd
    import pandas.core.common

    if not hasattr(pandas.core.common, "SettingWithCopyWarning"):  # imported by 0.5.0, removed in pandas 2

        class SettingWithCopyWarning(Warning):
            pass

        pandas.core.common.SettingWithCopyWarning = SettingWithCopyWarning
    import comorbidipy
    from comorbidipy.assignzero import assignzero
    from comorbidipy.weights import weights

    long = long_format(table, m).to_pandas()
    long["code"] = long["code"].astype("str")
    cols = [{"mi": "ami", "cpd": "copd"}.get(g, g) for g in GROUPS]
    wq = pd.Series(weights["charlson_icd10_quan"]["quan"])

    def run():
        code = long["code"].str.upper().str.replace(r"[.\s]", "", regex=True)
        df = pd.DataFrame({"id": long["patient"], "code": code})
        out = comorbidipy.comorbidity(df, id="id", code="code", age=None, score="charlson", icd="icd10",
                                      variant="quan", weighting="charlson", assign0=True)
        g = assignzero(out[cols].copy(), "charlson_icd10_quan")
        out["quan2011"] = g.multiply(wq).sum(axis=1)
        return out

    def result(out) -> Result:
        out = out.set_index("id").reindex(pd.RangeIndex(m), fill_value=0)
        b = out[cols].to_numpy() > 0  # the milder group is still set: apply the hierarchy to compare
        for s, mild in _tables_arrays()[2]:
            b[b[:, s], mild] = False
        return Result(mask_of(b), out["comorbidity_score"].to_numpy().round().astype(np.int64),
                      out["quan2011"].to_numpy().round().astype(np.int64))

    return Peer(run, result, f"normalise (pandas) + comorbidity(weighting='charlson') + its assignzero/weights "
                f"for Quan 2011 (comorbidipy {v}, pandas; its replace() is O(distinct codes x rows))", m)


def peer_pycomorb(table: pa.Table, m: int) -> Peer:
    from importlib.metadata import version

    import polars as pl
    from pycomorb.CharlsonComorbidityIndex import CANONICAL_RULES, DEFINITION_FILES, CharlsonComorbidityIndex
    from pycomorb.CustomComorbidityIndex import weighted_definitions

    df = pl.from_arrow(long_format(table, m)).rename({"patient": "id"}).with_columns(pl.lit(0).alias("age"))
    combined, _ = weighted_definitions("CHARLSON", DEFINITION_FILES["quan"], "quan", CANONICAL_RULES)
    wq = {c: w for c, w in zip(combined["category"], combined["quan_weights"], strict=True) if c != "Age"}
    cats = list(wq)  # the 17 groups in GROUPS order
    if len(cats) != len(GROUPS):
        raise ValueError(f"pycomorb has {len(cats)} Charlson categories, expected {len(GROUPS)}")

    def run():
        with_cats = CharlsonComorbidityIndex(df, id_col="id", code_col="code", age_col="age",
                                             implementation="quan", weights="charlson", return_categories=True)
        return with_cats.with_columns(pl.sum_horizontal(pl.col(c) * wq[c] for c in cats).alias("quan2011"))

    def result(out) -> Result:
        ids = out["id"].to_numpy()
        b = np.zeros((m, len(GROUPS)), bool)
        b[ids] = out.select(cats).to_numpy() > 0  # categories come after the package's exclusion rules
        s87, s11 = np.zeros(m, np.int64), np.zeros(m, np.int64)
        s87[ids] = out["Charlson Comorbidity Index"].to_numpy()
        s11[ids] = out["quan2011"].to_numpy()
        return Result(mask_of(b), s87, s11)

    return Peer(run, result, f"CharlsonComorbidityIndex(quan, charlson weights, categories) on raw codes + Quan "
                f"2011 from its categories and weights (pycomorb {version('pycomorb')}, polars)", m)


def peer_python(table: pa.Table, m: int) -> Peer:
    lists = table.column("icd10").slice(0, m).to_pylist()

    def run():
        return [charlson(codes, None) for codes in lists]

    def result(rows) -> Result:
        mask = np.array([sum(1 << GROUPS.index(g) for g in r["groups"]) for r in rows], np.uint32)
        counts = {k: np.array([r[k] for r in rows]) for k in ("codes_unknown", "codes_underspecified",
                                                               "codes_malformed")}
        return Result(mask, np.array([r["charlson_1987"] for r in rows]),
                      np.array([r["charlson_quan2011"] for r in rows]), counts)

    return Peer(run, result, "tests/reference/charlson.py::charlson per patient over to_pylist() lists", m)


def pandas_polypharmacy(table: pa.Table, n: int) -> tuple[Callable[[], object], int] | None:
    """The pandas way to count distinct ATC substances per patient (long format made here, outside its timing),
    and on how many patients it differs from Varde (_check_polypharmacy); None without pandas."""
    try:
        import pandas as pd

        from varde.scoring.risk.medicines import polypharmacy_columns
    except ImportError:
        return None
    atc = table.column("atc").combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(atc), 0).to_numpy()
    long = pd.DataFrame({"patient": np.repeat(np.arange(n), lengths),
                         "code": pc.list_flatten(atc).to_pandas()})

    def run():
        code = long["code"].str.upper().str.replace(r"[.\s]", "", regex=True)
        ok = code.str.fullmatch(r"[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}", na=False)
        subst = pd.DataFrame({"patient": long["patient"][ok], "code": code[ok]}).drop_duplicates()
        count = subst.groupby("patient").size().reindex(range(n), fill_value=0).to_numpy()
        band = np.where(count >= 10, 2, np.where(count >= 5, 1, 0))
        return count, band, count >= 4

    return run, _check_polypharmacy("pandas", run(), polypharmacy_columns(n, table.column("atc")))


def polars_polypharmacy(table: pa.Table, n: int) -> tuple[Callable[[], object], int] | None:
    """The polars way to count distinct ATC substances per patient: what a user of a polars-based Charlson package
    (pycomorb, comorbidipy 0.8) adds for polypharmacy, which no such package does. Long format made here, outside
    its timing. Returns it and on how many patients it differs from Varde; None without polars."""
    try:
        import polars as pl

        from varde.scoring.risk.medicines import polypharmacy_columns
    except ImportError:
        return None
    atc = table.column("atc").combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(atc), 0).to_numpy()
    long = pl.DataFrame({"patient": np.repeat(np.arange(n, dtype=np.int64), lengths),
                         "code": pl.from_arrow(pc.list_flatten(atc))})

    def run():
        # Each distinct spelling is normalised once and given its substance's id, then joined back: 2.5x faster
        # than normalising all 6M codes and counting distinct strings (141 against 345 ms, 1M patients).
        spellings = (long.lazy().select(pl.col("code").unique())
                     .with_columns(norm=pl.col("code").str.to_uppercase().str.replace_all(r"[.\s]", ""))
                     .filter(pl.col("norm").str.contains(r"^[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}$"))
                     .select("code", sid=pl.col("norm").rank("dense")))
        per = (long.lazy().join(spellings, on="code", how="inner")
               .group_by("patient").agg(pl.col("sid").n_unique().alias("count"))
               .collect())
        count = np.zeros(n, np.int64)
        count[per["patient"].to_numpy()] = per["count"].to_numpy()
        band = np.where(count >= 10, 2, np.where(count >= 5, 1, 0))
        return count, band, count >= 4

    return run, _check_polypharmacy("polars", run(), polypharmacy_columns(n, table.column("atc")))


def _check_polypharmacy(name: str, got: tuple, want: dict) -> int:
    """Patients whose count, band or review flag differ from Varde's (printed when any)."""
    count, band, review = got
    differ = ((count != want["polypharmacy_count"].to_numpy())
              | (band != want["polypharmacy_band"].indices.to_numpy())
              | (review != want["medication_review_due"].to_numpy(zero_copy_only=False)))
    bad = int(differ.sum())
    print(f"  {name} polypharmacy: " + (f"differs from varde on {bad:,} patients" if bad else
                                         f"equal to varde on all {len(count):,} patients (counts, bands, review)"))
    return bad
