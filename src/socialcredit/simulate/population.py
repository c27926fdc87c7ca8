"""The synthetic population: people with identity numbers, phones, names and birth dates.

``population.csv`` (the ground truth the tests check against) has the columns
``person_id, national_id, phone, name, birth_date, sex, region_code``: ``person_id`` is
``P0000001``…, ``national_id`` an 18-character CN resident identity number, ``phone`` an E.164
+86 mobile number, ``name`` Han script family name first, ``birth_date`` ISO ``YYYY-MM-DD``,
``sex`` ``M``/``F`` and ``region_code`` the 6-digit code embedded in ``national_id``.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from socialcredit.simulate.dates import shift_years
from socialcredit.simulate.identifiers import REGIONS, national_id, random_mobile, region_valid
from socialcredit.simulate.names import draw_names

__all__ = ["POPULATION_COLUMNS", "Person", "generate_population", "write_population"]

POPULATION_COLUMNS = (
    "person_id",
    "national_id",
    "phone",
    "name",
    "birth_date",
    "sex",
    "region_code",
)

MIN_AGE, MAX_AGE = 18, 80
#: Share of men: 2020 census sex ratio 105.07 men per 100 women (NBS, 7th census).
_MALE_SHARE = 105.07 / 205.07
#: (first age, last age, relative people per single year of age), rounded from the NBS 2020
#: census single-year age table (e.g. ~15 M per year at 18–24, ~22 M at 45–59).
_AGE_BANDS: tuple[tuple[int, int, float], ...] = (
    (18, 24, 0.75),
    (25, 34, 1.05),
    (35, 44, 0.90),
    (45, 59, 1.10),
    (60, 69, 0.75),
    (70, 80, 0.40),
)
_AGES = tuple(age for lo, hi, _ in _AGE_BANDS for age in range(lo, hi + 1))
_AGE_CUM = list(itertools.accumulate(w for lo, hi, w in _AGE_BANDS for _ in range(lo, hi + 1)))
_REGION_CODES = tuple(code for code, _ in REGIONS)
_FALLBACK_REGION = "110101"  # Beijing Dongcheng: valid in every birth year


@dataclass(frozen=True, slots=True)
class Person:
    """One simulated person (see the module docstring for the fields)."""

    index: int
    person_id: str
    national_id: str
    phone: str
    name: str
    birth_date: dt.date
    sex: str
    region_code: str


def _regions_by_year(years: range) -> dict[int, tuple[str, ...]]:
    """Region codes python-stdnum accepts per birth year (Beijing Dongcheng as a fallback)."""
    return {
        year: tuple(c for c in _REGION_CODES if region_valid(c, year)) or (_FALLBACK_REGION,)
        for year in years
    }


def generate_population(rng: random.Random, subjects: int, as_of: dt.date) -> list[Person]:
    """Draw ``subjects`` people aged 18–80 on ``as_of`` with unique identity numbers and phones."""
    # first and last possible birth day (as ordinals) for each age in whole years on as_of
    birth_span = {
        age: (shift_years(as_of, -(age + 1)).toordinal() + 1, shift_years(as_of, -age).toordinal())
        for age in _AGES
    }
    regions = _regions_by_year(range(as_of.year - MAX_AGE - 1, as_of.year - MIN_AGE + 1))
    sexes = ["M" if rng.random() < _MALE_SHARE else "F" for _ in range(subjects)]
    ages = rng.choices(_AGES, cum_weights=_AGE_CUM, k=subjects)
    names = draw_names(rng, sexes)
    people: list[Person] = []
    used_ids: set[str] = set()
    used_phones: set[str] = set()
    for index, (sex, age, name) in enumerate(zip(sexes, ages, names, strict=True)):
        first, last = birth_span[age]
        birth = dt.date.fromordinal(rng.randint(first, last))
        region = rng.choice(regions[birth.year])
        while True:
            seq = rng.randrange(500) * 2 + 1 if sex == "M" else rng.randrange(1, 500) * 2
            nid = national_id(region, birth, seq)
            if nid not in used_ids:
                break
        used_ids.add(nid)
        phone = random_mobile(rng)
        while phone in used_phones:
            phone = random_mobile(rng)
        used_phones.add(phone)
        people.append(
            Person(
                index=index,
                person_id=f"P{index + 1:07d}",
                national_id=nid,
                phone=phone,
                name=name,
                birth_date=birth,
                sex=sex,
                region_code=region,
            )
        )
    return people


def write_population(path: Path, people: Sequence[Person]) -> None:
    """Write ``population.csv`` (columns :data:`POPULATION_COLUMNS`, UTF-8, header first)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(POPULATION_COLUMNS)
        writer.writerows(
            (
                p.person_id,
                p.national_id,
                p.phone,
                p.name,
                p.birth_date.isoformat(),
                p.sex,
                p.region_code,
            )
            for p in people
        )
