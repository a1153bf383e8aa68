"""Tests of the model zoo: the shared contract and per-model checks."""
