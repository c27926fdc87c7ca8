"""The US synthetic population (for the US policy, ``policy/us.yaml``).

``population.csv`` (ground truth for tests) has the columns ``person_id, national_id, phone,
name, birth_date, state, address``: ``national_id`` a valid SSN (``AAA-GG-SSSS``, never in the
never-issued ranges: area 000, 666, 900-999; group 00; serial 0000), ``phone`` an E.164 +1
number with an area code of the person's state, ``name`` given name first (Latin script),
``birth_date`` ISO, ``state`` the USPS code, ``address`` a one-line US address ending in the
state and ZIP code (USPS Publication 28), as furnishers send it.

Figures: people are 18 to 80, weighted by the 2020 Census's adult age structure (rounded);
they live in the 24 states of :data:`STATES`, weighted by their 2020 Census populations
(millions, rounded). Names are drawn from short lists of common US given and family names;
namesakes are frequent on purpose. Illustrative, not calibrated.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

__all__ = ["POPULATION_COLUMNS", "STATES", "UsPerson", "draw_people", "random_ssn"]

POPULATION_COLUMNS = ("person_id", "national_id", "phone", "name", "birth_date", "state",
                      "address")

#: USPS code → (2020 Census population in millions, rounded; an area code; a city; ZIP prefix).
STATES: dict[str, tuple[float, str, str, str]] = {
    "CA": (39.5, "213", "Los Angeles", "900"), "TX": (29.1, "214", "Dallas", "752"),
    "FL": (21.5, "305", "Miami", "331"), "NY": (20.2, "212", "New York", "100"),
    "PA": (13.0, "215", "Philadelphia", "191"), "IL": (12.8, "312", "Chicago", "606"),
    "OH": (11.8, "614", "Columbus", "432"), "GA": (10.7, "404", "Atlanta", "303"),
    "NC": (10.4, "704", "Charlotte", "282"), "MI": (10.1, "313", "Detroit", "482"),
    "NJ": (9.3, "201", "Jersey City", "073"), "VA": (8.6, "804", "Richmond", "232"),
    "WA": (7.7, "206", "Seattle", "981"), "AZ": (7.2, "602", "Phoenix", "850"),
    "MA": (7.0, "617", "Boston", "021"), "TN": (6.9, "615", "Nashville", "372"),
    "IN": (6.8, "317", "Indianapolis", "462"), "MD": (6.2, "410", "Baltimore", "212"),
    "MO": (6.2, "314", "St. Louis", "631"), "WI": (5.9, "414", "Milwaukee", "532"),
    "CO": (5.8, "303", "Denver", "802"), "MN": (5.7, "612", "Minneapolis", "554"),
    "LA": (4.7, "504", "New Orleans", "701"), "NM": (2.1, "505", "Albuquerque", "871"),
}
_STATE_CODES = tuple(STATES)
_STATE_WEIGHTS = tuple(v[0] for v in STATES.values())
#: (first age, last age, weight per year of age), rounded from the 2020 Census.
_AGE_BANDS = ((18, 24, 0.9), (25, 34, 1.0), (35, 44, 0.95), (45, 54, 0.9), (55, 64, 0.95),
              (65, 74, 0.75), (75, 80, 0.45))
_AGES = tuple(a for lo, hi, _ in _AGE_BANDS for a in range(lo, hi + 1))
_AGE_WEIGHTS = tuple(w for lo, hi, w in _AGE_BANDS for _ in range(lo, hi + 1))
_GIVEN = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
          "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
          "Thomas", "Sarah", "Maria", "Jose", "Wei", "Aisha", "DeShawn", "Nguyen")
_FAMILY = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
           "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
           "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Nguyen", "Kim", "Patel")
_STREETS = ("Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Park Ave", "Elm St", "Washington Blvd",
            "Lake Rd", "Hill St", "Pine Ct")


@dataclass(frozen=True, slots=True)
class UsPerson:
    """One simulated US person (module docstring)."""

    index: int
    person_id: str
    national_id: str
    phone: str
    name: str
    birth_date: dt.date
    state: str
    address: str

    def row(self) -> list[str]:
        return [self.person_id, self.national_id, self.phone, self.name,
                self.birth_date.isoformat(), self.state, self.address]


def random_ssn(rng: random.Random) -> str:
    """A valid SSN ``AAA-GG-SSSS`` outside the never-issued ranges (module docstring) and
    other than the advertised 078-05-1120 and 457-55-5462."""
    while True:
        area = rng.randint(1, 899)
        if area == 666:
            continue
        ssn = f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
        if ssn not in ("078-05-1120", "457-55-5462"):
            return ssn


def draw_people(rng: random.Random, n: int, as_of: dt.date) -> list[UsPerson]:
    """``n`` people, distinct SSNs and phones, born so that they are 18-80 on ``as_of``."""
    out: list[UsPerson] = []
    ssns: set[str] = set()
    phones: set[str] = set()
    states = rng.choices(_STATE_CODES, weights=_STATE_WEIGHTS, k=n)
    ages = rng.choices(_AGES, weights=_AGE_WEIGHTS, k=n)
    for i in range(n):
        ssn = random_ssn(rng)
        while ssn in ssns:
            ssn = random_ssn(rng)
        ssns.add(ssn)
        state = states[i]
        _, area, city, zip3 = STATES[state]
        phone = ""
        while not phone or phone in phones:  # exchange 2xx-9xx, never 555 (fictional use)
            exchange = rng.randint(200, 999)
            if exchange != 555:
                phone = f"+1{area}{exchange}{rng.randint(0, 9999):04d}"
        phones.add(phone)
        birth = as_of - dt.timedelta(days=365 * ages[i] + rng.randint(1, 364))
        address = (f"{rng.randint(1, 9999)} {rng.choice(_STREETS)}, {city}, {state} "
                   f"{zip3}{rng.randint(1, 99):02d}")
        out.append(UsPerson(i, f"U{i + 1:07d}", ssn, phone,
                            f"{rng.choice(_GIVEN)} {rng.choice(_FAMILY)}", birth, state,
                            address))
    return out
