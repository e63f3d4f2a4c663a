"""The risk tier: a readable, versioned policy file turns scores into a tier and reasons (data/policy_default.toml).

The points, their sum, the tier and which factors are shown come from one kernel pass over the rows
(_policy_kernel.py); the reasons' texts are then made column-wise, only for the (row, factor) pairs shown.
"""

from __future__ import annotations

import pathlib
import string
import tomllib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import _pool
from .._jit import PARALLEL_LOCK
from ..arrow import one_array
from . import _policy_kernel as K
from ._codes import DATA
from .charlson import SERIAL_BELOW

__all__ = ["DEFAULT_POLICY", "TIERS", "Factor", "Policy", "PolicyError", "apply_policy", "load_policy"]

DEFAULT_POLICY = DATA / "policy_default.toml"
TIERS = ("LOW", "MODERATE", "HIGH", "VERY_HIGH")
MAX_REASONS = K.MAX_REASONS


class PolicyError(ValueError):
    """The policy file cannot be used; the message names the file, the factor and what to fix."""


@dataclass(frozen=True)
class Factor:
    column: str
    thresholds: np.ndarray  # ascending values
    points: np.ndarray  # points at each threshold
    reason: str


@dataclass(frozen=True)
class Policy:
    version: str
    tier_points: np.ndarray  # minimum points of LOW, MODERATE, HIGH, VERY_HIGH (ascending)
    factors: tuple[Factor, ...]
    source: str


def load_policy(path: str | pathlib.Path | None = None) -> Policy:
    path = pathlib.Path(path) if path else DEFAULT_POLICY
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"risk policy {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(f"risk policy {str(path)!r} is not valid TOML: {e}") from None

    def fail(msg):
        raise PolicyError(f"risk policy {str(path)!r}: {msg}")

    version = doc.get("version")
    if not isinstance(version, str) or not version.strip():
        fail("needs a version = \"...\" line, written next to every tier it gives")
    tiers = doc.get("tiers", {})
    if set(tiers) != set(TIERS):
        fail(f"[tiers] must give min points for exactly {', '.join(TIERS)}")
    tier_points = np.array([tiers[t] for t in TIERS], np.float64)
    if tier_points[0] != 0 or np.any(np.diff(tier_points) <= 0):
        fail("[tiers] min points must start at LOW = 0 and rise: LOW < MODERATE < HIGH < VERY_HIGH")
    factors = []
    for k, f in enumerate(doc.get("factor", []), start=1):
        column, reason, pairs = f.get("column"), f.get("reason"), f.get("thresholds")
        if not isinstance(column, str) or not isinstance(reason, str):
            fail(f"factor {k} needs column = \"...\" and reason = \"...\"")
        try:
            fields = [(name, spec) for _, name, spec, _ in string.Formatter().parse(reason) if name]
        except ValueError as e:
            fail(f"factor {column!r}: reason {reason!r}: {e}")
        for name, spec in fields:
            if name != "value" or (spec and not (spec.startswith(".") and spec.endswith("f")
                                                 and spec[1:-1].isdigit())):
                fail(f"factor {column!r}: reason may use {{value}} or {{value:.2f}}, not {{{name}:{spec}}}")
        if not pairs or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
            fail(f"factor {column!r}: thresholds must be a list of [value, points] pairs")
        values = np.array([p[0] for p in pairs], np.float64)
        points = np.array([p[1] for p in pairs], np.float64)
        if np.any(np.diff(values) <= 0) or np.any(np.diff(points) < 0) or np.any(points < 0):
            fail(f"factor {column!r}: threshold values must rise, points must not fall")
        factors.append(Factor(column, values, points, reason))
    if not factors:
        fail("has no [[factor]]")
    return Policy(version.strip(), tier_points, tuple(factors), str(path))


def _numbers(col) -> np.ndarray | None:
    """A column as float64 with NaN for null (here NaN only marks 'no points'; it never reaches a kernel)."""
    if col is None:
        return None
    col = one_array(col)
    if pa.types.is_boolean(col.type):
        col = col.cast(pa.int8())
    return col.cast(pa.float64()).to_numpy(zero_copy_only=False)


def _threshold_table(policy: Policy) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds, points) as (factors, width) arrays for the kernel: each factor's last pair repeated to the
    width, which reaches the same step (a value at or past the last threshold gets the last points)."""
    width = max(len(f.thresholds) for f in policy.factors)
    thresholds = np.empty((len(policy.factors), width))
    points = np.empty((len(policy.factors), width))
    for k, f in enumerate(policy.factors):
        c = len(f.thresholds)
        thresholds[k, :c], thresholds[k, c:] = f.thresholds, f.thresholds[-1]
        points[k, :c], points[k, c:] = f.points, f.points[-1]
    return thresholds, points


def apply_policy(policy: Policy, columns: dict, *, parallel: bool | None = None) -> dict[str, pa.Array]:
    """risk_tier, risk_points, risk_reasons and risk_policy for rows whose scores are in `columns`
    (name -> Arrow array). A factor whose column is absent gives no points."""
    n = len(next(iter(columns.values())))
    values = _pool.full((len(policy.factors), n), np.nan, np.float64)
    for k, f in enumerate(policy.factors):
        column = _numbers(columns.get(f.column))
        if column is not None:
            values[k] = column
    thresholds, points = _threshold_table(policy)
    total = _pool.empty(n, np.float64)
    tier = _pool.empty(n, np.int8)
    top = _pool.empty((n, MAX_REASONS), np.int8)
    n_top = _pool.empty(n, np.int8)
    args = (values, thresholds, points, policy.tier_points, total, tier, top, n_top)
    if (n >= SERIAL_BELOW if parallel is None else parallel):
        with PARALLEL_LOCK:
            K.policy_parallel(n, *args)
    else:
        K.policy_block(0, n, *args)
    return {
        "risk_tier": pa.DictionaryArray.from_arrays(pa.array(tier), pa.array(TIERS), safe=False),
        "risk_points": pa.array(total),
        "risk_reasons": _reasons(top, n_top, policy.factors, columns),
        "risk_policy": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int8)), pa.array([policy.version]),
                                                     safe=False),
    }


def _reason_texts(f: Factor, col) -> pa.Array:
    """The factor's reason for every row, {value} filled in column-wise ({value:.Nf} for N decimals). A column of
    integers or booleans holds few distinct values (a score, a count): each distinct value's text is made once and
    taken per row (150,000 Charlson reasons: 8.2 -> 1.4 ms against formatting every row)."""
    col = one_array(col)
    parts = list(string.Formatter().parse(f.reason))
    if not any(name for _, name, _, _ in parts):
        return pa.array([f.reason] * len(col), pa.string())
    if pa.types.is_integer(col.type) or pa.types.is_boolean(col.type):
        coded = col.dictionary_encode(null_encoding="encode")
        return _texts(parts, coded.dictionary).take(coded.indices)
    return _texts(parts, col)


def _texts(parts: list, col: pa.Array) -> pa.Array:
    """The reason's parts (string.Formatter().parse) filled in for every value of col; a null value reads "?"."""
    out: list = []
    for literal, name, spec, _ in parts:
        if literal:
            out.append(pa.scalar(literal))
        if name:
            out.append(pc.fill_null(_format(col, spec), "?"))
    return pc.binary_join_element_wise(*out, "")


def _format(col: pa.Array, spec: str) -> pa.Array:
    if pa.types.is_boolean(col.type):
        col = col.cast(pa.int8())
    if not spec:
        return col.cast(pa.string())
    if not (spec.startswith(".") and spec.endswith("f") and spec[1:-1].isdigit()):
        raise PolicyError(f"reason format {{value:{spec}}}: only {{value}} and {{value:.Nf}} are understood")
    digits = int(spec[1:-1])
    # Half away from zero on the decimal as written (0.445 -> 0.45, 1.005 -> 1.01): the binary noise of the
    # scaling is rounded off at 6 decimals first.
    scaled = pc.round(pc.round(pc.multiply(col.cast(pa.float64()), 10.0 ** digits), 6),
                      round_mode="half_towards_infinity").cast(pa.int64()).cast(pa.string())
    if digits == 0:
        return scaled
    padded = pc.utf8_lpad(scaled, digits + 1, "0")
    return pc.binary_join_element_wise(pc.utf8_slice_codeunits(padded, 0, -digits),
                                       pc.utf8_slice_codeunits(padded, -digits), ".")


def _reasons(top: np.ndarray, n_top: np.ndarray, factors: tuple[Factor, ...], columns: dict) -> pa.Array:
    """list<string>: per row the factors the kernel kept (top[i, :n_top[i]]), in the factors' words. Texts are made
    only for the (row, factor) pairs shown, one Arrow pass per factor."""
    n = len(n_top)
    shown = np.arange(MAX_REASONS) < n_top[:, None]
    row = np.nonzero(shown)[0]  # row-major: each row's reasons in rank order
    factor = top[shown]
    # The pairs grouped by factor (a stable radix sort of small integers), each factor's texts made in one go,
    # then put back in row order by the inverse of that grouping (a scatter, not a second sort).
    by_factor = np.argsort(factor, kind="stable")
    bounds = np.zeros(len(factors) + 1, np.int64)
    np.cumsum(np.bincount(factor, minlength=len(factors)), out=bounds[1:])
    parts = []
    for k, f in enumerate(factors):
        at = by_factor[bounds[k]:bounds[k + 1]]
        if at.size:
            col = one_array(columns[f.column])
            parts.append(_reason_texts(f, col.take(pa.array(row[at]))))
    if parts:
        back = np.empty_like(by_factor)
        back[by_factor] = np.arange(len(by_factor))
        values = pa.concat_arrays(parts).take(pa.array(back))
    else:
        values = pa.array([], pa.string())
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(n_top, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), values)
