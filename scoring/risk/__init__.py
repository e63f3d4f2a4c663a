"""Complex-needs risk from GP journal extracts: published scores over Arrow list columns of codes."""

from .charlson import charlson_columns

__all__ = ["charlson_columns"]
