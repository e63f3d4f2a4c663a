"""Varde's scoring core: Numba kernels over Arrow columns. No I/O, no network."""

from . import news2, trend
from .news2 import score_news2
from .schema import RESULT_COLUMNS, SchemaError


def warm_up() -> None:
    """Compile (or load from the on-disk cache) the NEWS2 and trend kernels, so that no request pays for it."""
    news2.warm_up()
    trend.warm_up()

__all__ = ["RESULT_COLUMNS", "SchemaError", "score_news2", "warm_up"]
