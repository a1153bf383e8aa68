"""The ensemble model: candidates from several members, per-candidate features, learned or fixed fusion.

``features`` (member scores/ranks, item and user statistics, time context), ``fusion`` (RRF, tuned
weighted sums, history-length-adaptive weights), ``ranker`` (LightGBM LambdaRank trained on
validation labels only), ``combiner`` (fit/apply any of them), ``augment`` (inner pools: the
protocol's holdout again inside train) and ``model`` (the registered ``ensemble`` Recommender).
Candidate sets live in ``cinesync.ranking.candidates``; the ``cinesync ensemble`` experiment in
``cinesync.experiments.ensemble``.
"""
