"""Ensembles: candidates from several members, per-candidate features, learned or fixed fusion.

``candidates`` (union of member top-N), ``features`` (member scores/ranks, item and user
statistics, time context), ``fusion`` (RRF, tuned weighted sums, history-length-adaptive
weights), ``ranker`` (LightGBM LambdaRank trained on validation labels only), ``model``
(the registered ``ensemble`` Recommender) and ``experiment`` (the ``cinesync ensemble`` run).
"""
