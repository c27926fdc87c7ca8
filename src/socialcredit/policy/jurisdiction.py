"""The jurisdiction's calendar: its local day, and how its periods are counted.

Ledger timestamps are UTC; everything dated — record dates, ``since``/``until`` of an entry,
deadlines, "today" of the gates and of the daily clock — is a *local date* in the policy's
``jurisdiction.time_zone`` (an IANA name read by the standard library's :mod:`zoneinfo`).
:func:`local_today` is the one way to turn the UTC now (or a UTC moment given) into that day;
every module that needs "today" calls it.

**Periods.** An entry's ``until`` is *exclusive*: on that local day, from local midnight, the
period has ended. :func:`period_until` computes it from the start day and a length in days or
months (a year is twelve months) under the policy's ``period_counting``:

``start_day_excluded`` — PRC Civil Code (2020), arts. 200-204: a period counted in days, months
or years does not count its start day and begins on the next day (art. 201); it ends at 24:00
of the last day (art. 203, second paragraph); for months and years the last day is the
corresponding day of the last month, or that month's last day when it has none (art. 202).
So a two-year listing from 2024-12-08 lasts through 2026-12-08 (``until`` 2026-12-09); a year
from 2024-02-29 lasts through 2025-02-28; a month from 2025-01-31 through 2025-02-28; ten days
from 2025-12-31 through 2026-01-10. Art. 203, first paragraph (a last day that is a statutory
holiday moves to the next working day) is **not applied**: it protects a party who must *act*
within a period, while a listing or restriction is a burden that this rule would lengthen, and
the registry holds no official holiday calendar (the State Council publishes the adjusted
working days each year). Art. 204 lets a law or the parties set another counting method; a
policy does so with ``start_day_included``.

``start_day_included`` — the start day is day one and the period ends at the end of the day
before the corresponding day (a day-count period of N days lasts N days including its start);
a year from 29 February ends with 27 February of a common year (``until`` 28 February).

An extension (SPC Provisions 2017, art. 2) is a further period that starts where the listing
ends: :func:`extend_until`.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["Counting", "Jurisdiction", "extend_until", "local_today",
           "period_until", "shift_months"]

#: How a period is counted (see the module docstring).
Counting = Literal["start_day_excluded", "start_day_included"]


class Jurisdiction(BaseModel):
    """``time_zone``: the IANA name of the jurisdiction's zone (``Asia/Shanghai``), required;
    ``period_counting``: how listing periods are counted; ``period_counting_basis``: the rule
    it applies (shown to operators, cited in reports)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_zone: str
    period_counting: Counting
    period_counting_basis: str = Field(min_length=3)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as "
                             "'Asia/Shanghai')") from e
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


def local_today(jurisdiction: Jurisdiction, now: dt.datetime | None = None) -> dt.date:
    """Today in the jurisdiction: the local date of ``now`` (a timezone-aware moment; a naive
    one is taken as UTC, as ledger timestamps are; default: the clock now). At 23:30 UTC on
    2026-12-07 it is 2026-12-08 in ``Asia/Shanghai``."""
    moment = now if now is not None else dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(jurisdiction.zone).date()


def shift_months(day: dt.date, months: int) -> dt.date:
    """The corresponding day ``months`` later: the same day number, or the month's last day
    when the month is shorter (31 January + 1 month = 28 or 29 February)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_until(start: dt.date, counting: Counting, *, days: int = 0,
                 months: int = 0) -> dt.date:
    """The exclusive end (first day no longer in it) of a period of ``days`` or ``months``
    starting on ``start``, counted by ``counting`` (module docstring)."""
    end = shift_months(start, months) + dt.timedelta(days=days)
    return end + dt.timedelta(days=1) if counting == "start_day_excluded" else end


def extend_until(until: dt.date, counting: Counting, *, months: int) -> dt.date:
    """The exclusive end after extending a period ending (exclusive) on ``until`` by
    ``months``: the extension starts where the period ends (its last day is the start day
    that is not counted under ``start_day_excluded``)."""
    if counting == "start_day_excluded":
        return period_until(until - dt.timedelta(days=1), counting, months=months)
    return period_until(until, counting, months=months)
