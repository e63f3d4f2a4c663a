"""Varde: NEWS2 deterioration and complex-needs risk scoring for Norwegian health and care services."""

__version__ = "0.1.0"
