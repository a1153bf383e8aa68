"""Metrics: pure functions of top-k lists and held-out targets (used by training's early stopping
and by evaluation). ``accuracy``: full-ranking and rating metrics; ``candidates``: the same metrics
for rankings restricted to a candidate set (the ensemble's)."""

from cinesync.metrics.accuracy import (
    hits,
    mae,
    per_user_absolute_error,
    per_user_squared_error,
    random_expectation,
    ranking_metrics,
    rmse,
    sampled_ranking_metrics,
)

__all__ = ["hits", "mae", "per_user_absolute_error", "per_user_squared_error", "random_expectation",
           "ranking_metrics", "rmse", "sampled_ranking_metrics"]
