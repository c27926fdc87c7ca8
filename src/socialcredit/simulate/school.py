"""The school furnisher: ``student_status`` of young people enrolled in higher education.

Figures (sources / assumptions):

* :data:`STUDENT_SHARE` (45 %) of people aged 18–24 on ``as_of`` are or were enrolled: the gross
  enrolment rate of higher education was 60.2 % in 2023 (MOE, Statistical Bulletin on the
  Development of National Education 2023), spread over five of these seven years of age;
* they enter in September of the year they turn 18 (19 when born from September on), in a
  three-year vocational programme or a four-year undergraduate one with equal probability
  (similar numbers of new students in 2023: 5.55 M vocational, 4.78 M undergraduate, same
  bulletin);
* :data:`FULL_TIME_SHARE` (85 %) study full time (assumption: the part-time adult and online
  programmes mostly enrol older people);
* the school confirms enrolment once a year, at registration in the first two weeks of
  September (``student_status`` with ``full_time``), within the four simulated years.

One furnisher, ``school-pku`` (kind ``school``), stands for every school of the simulated
population; a real registry has one furnisher per school or the MOE's student registry.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from socialcredit.simulate.dates import shift_years
from socialcredit.simulate.people import PeopleBlock, date_parts
from socialcredit.simulate.records import PHONE_SHARE

__all__ = ["FULL_TIME_SHARE", "SCHOOL", "STUDENT_SHARE", "Enrolment", "school_block"]

SCHOOL = "school-pku"
STUDENT_SHARE = 0.45
FULL_TIME_SHARE = 0.85
_MIN_AGE, _MAX_AGE = 18, 24
_EPOCH = dt.date(1970, 1, 1)


class Enrolment(NamedTuple):
    """A student's enrolment: first day, day after the last, and full-time or not."""

    start: dt.date
    end: dt.date
    full_time: bool


def _september_first(years: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of 1 September of each year."""
    months = (years - 1970) * 12 + 8
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def school_block(
    rng: np.random.Generator, block: PeopleBlock, as_of: dt.date
) -> tuple[dict[str, pa.Array], dict[int, Enrolment]]:
    """``student_status`` rows of :data:`SCHOOL` for ``block`` (spool columns, see
    :mod:`socialcredit.simulate.spool`, in generation order) and the enrolments by block index
    (people who enter after ``as_of`` have an enrolment but no record yet)."""
    year, month, day = date_parts(block.birth)
    age = as_of.year - year - ((as_of.month * 100 + as_of.day) < (month * 100 + day))
    young = np.nonzero((age >= _MIN_AGE) & (age <= _MAX_AGE))[0]
    who = young[rng.random(len(young)) < STUDENT_SHARE]
    k = len(who)
    entry = year[who] + 18 + (month[who] >= 9)
    years = rng.choice(np.array([3, 4]), k)
    full_time = rng.random(k) < FULL_TIME_SHARE
    enrolments = {
        int(i): Enrolment(dt.date(int(e), 9, 1), dt.date(int(e + y), 7, 1), bool(f))
        for i, e, y, f in zip(who, entry, years, full_time, strict=True)
    }
    person = np.repeat(np.arange(k), years)
    nth = np.arange(len(person)) - np.repeat(np.cumsum(years) - years, years)
    days = _september_first(entry[person] + nth) + rng.integers(0, 14, len(person))
    first = shift_years(as_of, -4)
    keep = (days >= (first - _EPOCH).days) & (days <= (as_of - _EPOCH).days)
    person, days = person[keep], days[keep]
    phone = rng.random(len(person)) < PHONE_SHARE
    rows = pa.array(who[person])
    return {
        "_day": pa.array(days.astype(np.int32)),
        "_key": pa.array((block.index << 32) + np.arange(len(days))),
        "kind": pa.array(["student_status"] * len(days)),
        "occurred_at": pa.array(days.astype(np.int32), pa.date32()),
        "national_id": block.national_id.take(rows),
        "phone": pc.if_else(pa.array(phone), block.phone.take(rows), None),
        "name": block.name.take(rows),
        "full_time": pa.array(full_time[person]),
    }, enrolments
