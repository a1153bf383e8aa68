"""CineSync: movie & TV recommendation engine.

History in, scores out: every model scores a batch of user histories; ranking,
filtering and id mapping live outside the models.
"""

__version__ = "0.1.0"
