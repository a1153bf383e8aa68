"""Test helpers for people who write their own model: ``contract.RecommenderContract`` is the shared
test every built-in model passes (subclass it in a pytest module; see docs/models.md)."""
