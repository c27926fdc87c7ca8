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
import random
from collections.abc import Sequence
from typing import NamedTuple

from socialcredit.simulate.dates import shift_years
from socialcredit.simulate.population import Person
from socialcredit.simulate.records import Draft, phone_draft

__all__ = ["FULL_TIME_SHARE", "SCHOOL", "STUDENT_SHARE", "Enrolment", "generate_school"]

SCHOOL = "school-pku"
STUDENT_SHARE = 0.45
FULL_TIME_SHARE = 0.85
_MIN_AGE, _MAX_AGE = 18, 24


class Enrolment(NamedTuple):
    """A student's enrolment: first day, day after the last, and full-time or not."""

    start: dt.date
    end: dt.date
    full_time: bool


def _age(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def generate_school(
    rng: random.Random, people: Sequence[Person], as_of: dt.date
) -> tuple[list[Draft], dict[int, Enrolment]]:
    """``student_status`` drafts of :data:`SCHOOL` and the enrolments by person index (people
    who enter after ``as_of`` have an enrolment but no record yet)."""
    drafts: list[Draft] = []
    enrolments: dict[int, Enrolment] = {}
    first = shift_years(as_of, -4)
    for person in people:
        if not _MIN_AGE <= _age(person.birth_date, as_of) <= _MAX_AGE:
            continue
        if rng.random() >= STUDENT_SHARE:
            continue
        entry = person.birth_date.year + 18 + (person.birth_date.month >= 9)
        years = rng.choice((3, 4))
        full_time = rng.random() < FULL_TIME_SHARE
        enrolments[person.index] = Enrolment(
            dt.date(entry, 9, 1), dt.date(entry + years, 7, 1), full_time
        )
        for year in range(entry, entry + years):
            day = dt.date(year, 9, 1) + dt.timedelta(days=rng.randint(0, 13))
            if first <= day <= as_of:
                drafts.append(
                    phone_draft(rng, "student_status", day, person, {"full_time": full_time})
                )
    return drafts, enrolments
