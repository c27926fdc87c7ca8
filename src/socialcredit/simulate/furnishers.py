"""The furnishers, and the transport operators' records (unruly passengers, fare evasion).

The furnishers (:data:`FURNISHERS`): two courts (:mod:`socialcredit.simulate.courts`), a bank
and a payment app (:mod:`socialcredit.simulate.lenders`), a school
(:mod:`socialcredit.simulate.school`), the air and rail operators (here), two ride-hail
platforms (:mod:`socialcredit.simulate.ride`) and a carrier's real-name registrations
(:mod:`socialcredit.simulate.carrier`): the carrier reports the people the others did; then
the market regulator and the tax authority (kind ``regulator``), who report enterprises
(:mod:`socialcredit.simulate.enterprises`).

Figures (sources / assumptions):

* ~0.05 % of people are reported as unruly passengers (75 % on flights, dated within the last
  year, the flight-ban window of NDRC/CAAC [2018] No. 385), ~0.3 % for fare evasion (15 % air,
  85 % rail);
* :data:`REPEAT_EVADER_SHARE` (12 %) of rail fare evaders evade three to five times within 300
  days, and another :data:`TWICE_EVADER_SHARE` (15 %) twice at any time (assumption; NDRC et
  al. [2018] No. 384 restricts repeat evaders from high-speed rail);
* records carry ``national_id`` and ``name`` and, 60 % of the time, ``phone``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence

from socialcredit.simulate.carrier import CARRIER
from socialcredit.simulate.courts import COURTS
from socialcredit.simulate.dates import random_date, shift_years
from socialcredit.simulate.enterprises import ENTERPRISE_SPECS
from socialcredit.simulate.population import Person
from socialcredit.simulate.records import Draft, FurnisherSpec, Value, phone_draft
from socialcredit.simulate.school import SCHOOL

__all__ = ["FURNISHERS", "generate_transport"]

_COURT_KINDS = (
    "court_judgment",
    "dishonesty_finding",
    "judgment_performance",
    "listing_extended",
    "listing_revoked",
    "restriction_lifted",
)
_LOAN_KINDS = ("loan_default", "loan_repayment")
_BOTH = ("person", "organisation")  # a court hears enterprises' cases too
#: Every furnisher, in manifest order.
FURNISHERS: tuple[FurnisherSpec, ...] = (
    FurnisherSpec(COURTS[0][0], "court", "csv", _COURT_KINDS, "BJ1", _BOTH),
    FurnisherSpec(COURTS[1][0], "court", "jsonl", _COURT_KINDS, "SHG", _BOTH),
    FurnisherSpec("bank-icbc", "lender", "csv", _LOAN_KINDS, "ICBC"),
    FurnisherSpec("pay-alipay", "payment", "jsonl", _LOAN_KINDS, "ALI"),
    FurnisherSpec(SCHOOL, "school", "csv", ("student_status",), "PKU"),
    FurnisherSpec("air-caac", "transport", "csv", ("unruly_passenger", "fare_evasion"), "CAAC"),
    FurnisherSpec("rail-12306", "transport", "csv", ("fare_evasion", "unruly_passenger"), "CR"),
    FurnisherSpec("ride-didi", "platform", "jsonl", ("ride_rating",), "DIDI"),
    FurnisherSpec("ride-caocao", "platform", "csv", ("ride_rating",), "CAO"),
    FurnisherSpec(CARRIER, "carrier", "csv", ("phone_registration",), "CMCC"),
    *ENTERPRISE_SPECS,
)

UNRULY_SHARE = 0.0005
FARE_EVASION_SHARE = 0.003
REPEAT_EVADER_SHARE = 0.12
TWICE_EVADER_SHARE = 0.15
_AIR_CONDUCT = (
    ("smoking_on_board", 0.35),
    ("disrupting_order", 0.5),
    ("violence_against_crew", 0.15),
)
_RAIL_CONDUCT = (
    ("occupying_seat", 0.5),
    ("smoking_on_board", 0.3),
    ("disrupting_order", 0.15),
    ("violence_against_crew", 0.05),
)


def _evasion_days(rng: random.Random, start: dt.date, as_of: dt.date, rail: bool) -> list[dt.date]:
    """Days a fare evader evades: once, twice, or (rail only) three to five times in 300 days."""
    r = rng.random()
    if rail and r < REPEAT_EVADER_SHARE:
        lo = random_date(rng, start, as_of - dt.timedelta(days=300))
        hi = lo + dt.timedelta(days=300)
        return [random_date(rng, lo, hi) for _ in range(rng.randint(3, 5))]
    times = 2 if r < REPEAT_EVADER_SHARE + TWICE_EVADER_SHARE else 1
    return [random_date(rng, start, as_of) for _ in range(times)]


def generate_transport(
    rng: random.Random, people: Sequence[Person], as_of: dt.date
) -> dict[str, list[Draft]]:
    """Unruly-passenger and fare-evasion records of ``air-caac`` and ``rail-12306``."""
    drafts: dict[str, list[Draft]] = {"air-caac": [], "rail-12306": []}
    n = len(people)
    year_ago, start = as_of - dt.timedelta(days=364), shift_years(as_of, -4)
    for i in rng.sample(range(n), round(n * UNRULY_SHARE)):
        air = rng.random() < 0.75
        conduct = _AIR_CONDUCT if air else _RAIL_CONDUCT
        fields: dict[str, Value] = {
            "service": "air" if air else "rail_hsr",
            "conduct": rng.choices([c for c, _ in conduct], weights=[w for _, w in conduct])[0],
        }
        drafts["air-caac" if air else "rail-12306"].append(
            phone_draft(
                rng, "unruly_passenger", random_date(rng, year_ago, as_of), people[i], fields
            )
        )
    for i in rng.sample(range(n), round(n * FARE_EVASION_SHARE)):
        rail = rng.random() >= 0.15
        for day in _evasion_days(rng, start, as_of, rail):
            if rail:
                service = "rail_hsr" if rng.random() < 0.6 else "rail"
                furnisher, amount = "rail-12306", rng.randint(40, 1200) * 50
            else:
                service, furnisher, amount = "air", "air-caac", rng.randint(300, 3000) * 100
            fields = {"service": service, "amount_minor": amount, "currency": "CNY"}
            drafts[furnisher].append(phone_draft(rng, "fare_evasion", day, people[i], fields))
    return drafts
