"""Speed and accuracy benchmarks (not tests): run each with ``python -m benchmarks.NAME`` from the
checkout (see benchmarks/README.md); the tests import the helpers here as ``benchmarks.*``."""
