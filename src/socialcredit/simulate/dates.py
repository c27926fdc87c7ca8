"""Calendar helpers for the simulator (pure functions of ``datetime.date``)."""

from __future__ import annotations

import datetime as dt
import random

__all__ = ["random_date", "shift_years"]


def shift_years(day: dt.date, years: int) -> dt.date:
    """Return ``day`` moved by ``years`` calendar years (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def random_date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    """Return a day drawn uniformly from ``start`` to ``end``, both inclusive."""
    span = (end - start).days
    if span <= 0:
        return start
    return start + dt.timedelta(days=rng.randint(0, span))
