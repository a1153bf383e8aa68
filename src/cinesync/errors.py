"""Exceptions with messages meant for people: each names what was wrong and where."""


class CineSyncError(Exception):
    """Base class for every error CineSync raises on purpose."""


class DataError(CineSyncError, ValueError):
    """A data file or table is malformed (names the file, line and problem)."""


class UnknownIdError(CineSyncError, KeyError):
    """An external user or item id is not in the id index."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else "unknown id"


class ConfigError(CineSyncError, ValueError):
    """A model or protocol configuration is invalid."""


class NotFittedError(CineSyncError, RuntimeError):
    """A model was asked to score before it was fitted."""
