"""Varde's scoring core: Numba kernels over Arrow columns. No I/O, no network."""

from .news2 import score_news2, warm_up
from .schema import RESULT_COLUMNS, SchemaError

__all__ = ["RESULT_COLUMNS", "SchemaError", "score_news2", "warm_up"]
