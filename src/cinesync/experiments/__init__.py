"""Experiment runners that compose the layers below: the leaderboard (``cinesync evaluate``), cold
start, movie <-> TV cross-domain, the ensemble study and the two-tower fusion ablation.

Nothing below this layer imports from it; the command line and the Python API call into it.
"""
