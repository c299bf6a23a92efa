"""Figures that hold: a median of repetitions with its spread, and a verdict only when the whole
spread is on one side of the target."""

from __future__ import annotations

import statistics
from typing import Any


def spread(values: list[float], digits: int = 3) -> dict[str, float]:
    """The median of repetitions' values, and their min and max."""
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def shown(figure: dict[str, float]) -> str:
    return f"{figure['median']} ({figure['min']} to {figure['max']})"


def judged(figure: dict[str, Any], target: float, *, at_most: bool = True) -> str:
    """met / **missed** when the whole spread is on one side of ``target``, else within noise."""
    low, high = figure["min"], figure["max"]
    if at_most:
        return "met" if high <= target else "**missed**" if low > target else "within noise"
    return "met" if low >= target else "**missed**" if high < target else "within noise"
