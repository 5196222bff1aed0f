"""Benchmarks: `make bench` (or `python -m bench`) runs them; figures come from here, never
from timed tests."""
