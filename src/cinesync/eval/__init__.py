"""Evaluation: metrics, named split protocols, the experiment runner, statistics and reports."""
