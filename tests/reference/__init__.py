"""Slow, obviously correct twins of the Varde kernels, written straight from docs/ for the tests to compare against."""
