"""The furnishers and their non-court records: lenders, transport operators, ride-hail.

Figures (sources / assumptions):

* ~5 % of people have a loan default (PBOC credit reports show a few per cent of borrowers
  overdue); 55 % with the bank, 35 % with the payment app's micro-loans, 10 % with both;
  35 % of defaulted loans are later fully repaid, 15 % partly; 2 % of bank default reports are
  corrected (``days_past_due``).  Bank amounts are log-normal around 60 000 CNY, micro-loans
  around 3 000 CNY, in fen.
* ~0.05 % of people are reported as unruly passengers (75 % on flights, dated within the last
  year, the flight-ban window of NDRC/CAAC [2018] No. 385), ~0.3 % for fare evasion (85 % rail).
* ~10 % of people ride with the ride-hail platform, 3–30 rated trips each within the last 365
  days (the catalogue's retention for ride ratings); ratings are mostly 4–5 and about 1 % of
  riders average below 3.5.  70 % of riders have verified their national id.
* Other records carry ``national_id`` and ``name`` and, 60 % of the time, ``phone``.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Sequence

from socialcredit.simulate.courts import COURTS, Debtor
from socialcredit.simulate.dates import random_date, shift_years
from socialcredit.simulate.population import Person
from socialcredit.simulate.records import Draft, FurnisherSpec

__all__ = ["FURNISHERS", "generate_lenders", "generate_ride_hail", "generate_transport"]

_COURT_KINDS = ("court_judgment", "dishonesty_finding", "judgment_performance")
#: Every furnisher, in manifest order.
FURNISHERS: tuple[FurnisherSpec, ...] = (
    FurnisherSpec(COURTS[0][0], "court", "csv", _COURT_KINDS, "BJ1"),
    FurnisherSpec(COURTS[1][0], "court", "jsonl", _COURT_KINDS, "SHG"),
    FurnisherSpec("bank-icbc", "lender", "csv", ("loan_default", "loan_repayment"), "ICBC"),
    FurnisherSpec("pay-alipay", "payment", "jsonl", ("loan_default", "loan_repayment"), "ALI"),
    FurnisherSpec("air-caac", "transport", "csv", ("unruly_passenger", "fare_evasion"), "CAAC"),
    FurnisherSpec("rail-12306", "transport", "csv", ("fare_evasion", "unruly_passenger"), "CR"),
    FurnisherSpec("ride-didi", "platform", "jsonl", ("ride_rating",), "DIDI"),
)
#: Legal names of the lenders, used as ``creditor`` when they sue.
LENDER_NAMES = {"bank-icbc": "中国工商银行股份有限公司", "pay-alipay": "重庆蚂蚁消费金融有限公司"}

DEFAULT_SHARE = 0.05
UNRULY_SHARE = 0.0005
FARE_EVASION_SHARE = 0.003
RIDER_SHARE = 0.10
LOW_RATED_RIDER_SHARE = 0.009
PHONE_SHARE = 0.6
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
_RATING_CUM_NORMAL = (0.01, 0.02, 0.05, 0.22, 1.0)
_RATING_CUM_LOW = (0.25, 0.5, 0.75, 0.9, 1.0)


def _yuan(rng: random.Random, median: float, sigma: float) -> int:
    return max(10, int(rng.lognormvariate(math.log(median), sigma)))


def _draft(
    rng: random.Random,
    kind: str,
    day: dt.date,
    person: Person,
    fields: dict[str, str | int | bool],
    corrects: Draft | None = None,
) -> Draft:
    return Draft(
        kind, day, person, fields, with_phone=rng.random() < PHONE_SHARE, corrects=corrects
    )


def generate_lenders(
    rng: random.Random, people: Sequence[Person], as_of: dt.date
) -> tuple[dict[str, list[Draft]], list[Debtor]]:
    """Loan defaults and repayments per lender, and the borrowers with a default never fully
    repaid (one per person, candidates for a court judgment), in random order."""
    drafts: dict[str, list[Draft]] = {"bank-icbc": [], "pay-alipay": []}
    unpaid: list[Debtor] = []
    seq = 0
    start = shift_years(as_of, -4)
    for i in rng.sample(range(len(people)), round(len(people) * DEFAULT_SHARE)):
        person = people[i]
        r = rng.random()
        lenders = (
            ("bank-icbc",)
            if r < 0.55
            else ("pay-alipay",)
            if r < 0.9
            else ("bank-icbc", "pay-alipay")
        )
        for lender in lenders:
            for _ in range(1 if rng.random() < 0.8 else 2):
                seq += rng.randint(1, 9)
                day = random_date(rng, start, as_of)
                if lender == "bank-icbc":
                    loan_id = f"ICBC-{day.year}-{seq:08d}"
                    amount, dpd = _yuan(rng, 60_000, 1.0) * 100, rng.randint(30, 720)
                else:
                    loan_id = f"{rng.choice(('HB', 'JB'))}{seq:010d}"
                    amount = _yuan(rng, 3_000, 0.9) * 100 + rng.randrange(100)
                    dpd = rng.randint(1, 180)
                fields: dict[str, str | int | bool] = {
                    "loan_id": loan_id,
                    "amount_minor": amount,
                    "currency": "CNY",
                    "days_past_due": dpd,
                }
                default = _draft(rng, "loan_default", day, person, fields)
                drafts[lender].append(default)
                if lender == "bank-icbc" and rng.random() < 0.02:
                    drafts[lender].append(
                        _draft(
                            rng,
                            "loan_default",
                            day,
                            person,
                            {**fields, "days_past_due": dpd + 30},
                            default,
                        )
                    )
                r = rng.random()
                if r < 0.5 and day < as_of:
                    full = r < 0.35
                    paid = amount if full else max(1, amount * rng.randint(10, 80) // 100)
                    later = random_date(rng, day + dt.timedelta(days=1), as_of)
                    drafts[lender].append(
                        _draft(
                            rng,
                            "loan_repayment",
                            later,
                            person,
                            {
                                "loan_id": loan_id,
                                "amount_minor": paid,
                                "currency": "CNY",
                                "full": full,
                            },
                        )
                    )
                    if full:
                        continue
                unpaid.append(Debtor(person, LENDER_NAMES[lender], day))
    rng.shuffle(unpaid)
    first: dict[int, Debtor] = {}
    for debtor in unpaid:
        first.setdefault(debtor.person.index, debtor)
    return drafts, list(first.values())


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
        fields: dict[str, str | int | bool] = {
            "service": "air" if air else "rail_hsr",
            "conduct": rng.choices([c for c, _ in conduct], weights=[w for _, w in conduct])[0],
        }
        drafts["air-caac" if air else "rail-12306"].append(
            _draft(rng, "unruly_passenger", random_date(rng, year_ago, as_of), people[i], fields)
        )
    for i in rng.sample(range(n), round(n * FARE_EVASION_SHARE)):
        r = rng.random()
        if r < 0.15:
            service, furnisher, amount = "air", "air-caac", rng.randint(300, 3000) * 100
        else:
            service = "rail_hsr" if r < 0.66 else "rail"
            furnisher, amount = "rail-12306", rng.randint(40, 1200) * 50
        drafts[furnisher].append(
            _draft(
                rng,
                "fare_evasion",
                random_date(rng, start, as_of),
                people[i],
                {"service": service, "amount_minor": amount, "currency": "CNY"},
            )
        )
    return drafts


def generate_ride_hail(
    rng: random.Random, people: Sequence[Person], as_of: dt.date
) -> tuple[list[Draft], list[Person]]:
    """Driver ratings of riders (``ride-didi``) and the riders, in random order."""
    drafts: list[Draft] = []
    n = len(people)
    riders = [people[i] for i in rng.sample(range(n), round(n * RIDER_SHARE))]
    window = [as_of - dt.timedelta(days=d) for d in range(365)]
    trip = 0
    for rider in riders:
        cum = _RATING_CUM_LOW if rng.random() < LOW_RATED_RIDER_SHARE else _RATING_CUM_NORMAL
        verified = rng.random() < 0.7
        count = rng.randint(3, 30)
        ratings = rng.choices((1, 2, 3, 4, 5), cum_weights=cum, k=count)
        for rating in ratings:
            day = window[rng.randrange(365)]
            trip += rng.randint(1, 500)
            fields: dict[str, str | int | bool] = {
                "rating": rating,
                "trip_id": f"DD{day.year}{day.month:02d}{day.day:02d}{trip:010d}",
            }
            drafts.append(
                Draft(
                    "ride_rating",
                    day,
                    rider,
                    fields,
                    with_national_id=verified,
                    with_phone=True,
                    with_name=verified,
                )
            )
    return drafts, riders
