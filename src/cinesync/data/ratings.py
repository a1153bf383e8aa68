"""Rating scales: each data set declares the one its ratings live on, and every path that accepts a
rating (a file loader, the HTTP API, the bot, the store) checks values against a ``RatingScale``.

``STARS`` (0.5..5 in steps of 0.5) is MovieLens' newer releases and the scale the store, the API
and the bot accept; ``WHOLE_STARS`` (1..5) the older MovieLens releases; ``TEN`` (1..10) the anime
set. A user's own file declares its scale with ``--rating-scale LOW:HIGH[:STEP]`` (default STARS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cinesync.errors import ConfigError, DataError


@dataclass(frozen=True)
class RatingScale:
    """Ratings from ``low`` to ``high`` (inclusive), on multiples of ``step`` counted from ``low``
    (``step`` None: any value in the range)."""

    low: float
    high: float
    step: float | None = None

    def __post_init__(self) -> None:
        for name in ("low", "high", "step"):
            v = getattr(self, name)
            if v is not None and not math.isfinite(v):
                raise ConfigError(f"rating scale {name} must be a finite number, got {v!r}")
        if self.low >= self.high:
            raise ConfigError(f"rating scale needs low < high, got {self.low} and {self.high}")
        if self.step is not None and not 0 < self.step <= self.high - self.low:
            raise ConfigError(f"rating scale step must be in (0, high - low], got {self.step}")

    def __str__(self) -> str:
        text = f"{self.low:g}..{self.high:g}"
        return text if self.step is None else f"{text} in steps of {self.step:g}"

    def invalid(self, values: np.ndarray) -> np.ndarray:
        """(n,) bool: the values that are not ratings on this scale (NaN, inf, outside, between steps)."""
        v = np.asarray(values, np.float64)
        bad = ~np.isfinite(v)
        with np.errstate(invalid="ignore"):
            bad |= (v < self.low - 1e-9) | (v > self.high + 1e-9)
            if self.step is not None:
                k = (v - self.low) / self.step
                bad |= np.abs(k - np.round(k)) > 1e-6
        return bad

    def problem(self, value: object) -> str | None:
        """Why ``value`` is not a rating on this scale (None if it is)."""
        if isinstance(value, bool):
            return f"rating must be a number on the scale {self}, got {value!r}"
        try:
            v = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return f"rating must be a number on the scale {self}, got {value!r}"
        if self.invalid(np.asarray([v]))[0]:
            return f"rating {value!r} is not on the scale {self}"
        return None

    def check(self, value: object) -> float:
        """``value`` as a float, or ``DataError`` (a ValueError) naming the scale."""
        why = self.problem(value)
        if why:
            raise DataError(why)
        return float(value)  # type: ignore[arg-type]


STARS = RatingScale(0.5, 5.0, 0.5)
WHOLE_STARS = RatingScale(1.0, 5.0, 1.0)
TEN = RatingScale(1.0, 10.0, 1.0)


def parse_scale(text: str) -> RatingScale:
    """``"1:10"`` / ``"1:10:1"`` / ``"0.5:5:0.5"`` -> RatingScale; ConfigError saying the form otherwise."""
    parts = [p.strip() for p in str(text).split(":")]
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        nums = []
    if len(nums) not in (2, 3):
        raise ConfigError(f"rating scale must be LOW:HIGH or LOW:HIGH:STEP, e.g. 1:10:1, got {text!r}")
    return RatingScale(nums[0], nums[1], nums[2] if len(nums) == 3 else None)
