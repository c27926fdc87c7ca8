"""Court records: judgments, dishonesty findings (the blacklist trigger), performances, and the
court's later rulings on a listing (extension, revocation, a lifted restriction).

Figures (sources / assumptions):

* about 3 % of people have at least one enforcement case (judgment, on or after their 18th
  birthday); 40 % of them are loan defaulters sued by their lender, the rest private or
  commercial debts;
* a judgment leads to a dishonesty finding (SPC Provisions 2013/2017, Art. 1) with probability
  :data:`FINDING_PROBABILITY`, 30–365 days later — tuned so that, after performances, officers'
  exemptions and the two-year listing period, about 1 % of people are actively listed, as on
  the real list (13.49 M people of 1.4 B, SPC figure);
* ground 1 ("able to perform but refuses") is by far the most common ground (illustrative
  weights in :data:`GROUND_WEIGHTS`);
* every finding names the person's ``debtor_role``: :data:`OFFICER_SHARE` (5 %) name the legal
  representative or officer of a company debtor (``company_officer``; SPC 2017, Art. 3 lists
  the company, so the policy exempts them), the rest the ``debtor`` (assumption);
* about 20 % of findings are later fully performed (a ``judgment_performance`` with
  ``full=true`` dated after the finding), 10 % partly; half the judgments without a finding
  are fully performed within 200 days;
* :data:`REVOKED_SHARE` (2 %) of findings are revoked by a ruling on the debtor's objection
  (``listing_revoked``, 5–60 days after; SPC 2017, Arts. 11-12), and none of these is
  performed;
* :data:`EXTENSION_SHARE` (50 %) of the unperformed findings on a serious ground (2 or 3) are
  extended (``listing_extended``, ``years`` 1, 2 or 3 with weights 50/30/20) on a day within
  the listing, at least 90 days after the finding (SPC 2017, Art. 2(2); assumption);
* :data:`LIFT_SHARE` (8 %) of findings whose listing runs in the 60 days before ``as_of`` get a
  ``restriction_lifted`` in those days (SPC 2015, Art. 9: a flight or a train for medical care or
  a funeral): ``air`` 50 %, ``rail_hsr`` 30 %, ``rail_first_class`` 10 %, ``hotel_star`` 10 %,
  ``until`` 3–30 days later (10 % without ``until``: for the rest of the listing);
* 3 % of judgments are corrected (a second ``court_judgment`` with ``corrects`` and a new
  amount).  Amounts are log-normal around 50 000 CNY, in fen.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from socialcredit.simulate.dates import random_date, shift_years
from socialcredit.simulate.population import Person
from socialcredit.simulate.records import Draft, Value

__all__ = [
    "COURTS",
    "EXTENSION_SHARE",
    "FINDING_PROBABILITY",
    "GROUND_WEIGHTS",
    "LIFT_SHARE",
    "LISTING_YEARS",
    "OFFICER_SHARE",
    "REVOKED_SHARE",
    "CourtOutcome",
    "Debtor",
    "generate_courts",
]

#: (furnisher name, case-number court abbreviation, region prefix it mostly serves)
COURTS: tuple[tuple[str, str, str], ...] = (
    ("court-beijing-no1", "京01", "11"),
    ("court-shanghai-high", "沪", "31"),
)
JUDGMENT_SHARE = 0.03
FROM_LOAN_SHARE = 0.4
FINDING_PROBABILITY = 0.72
GROUND_WEIGHTS: tuple[float, ...] = (0.86, 0.02, 0.03, 0.04, 0.03, 0.02)
LISTING_YEARS = 2  # SPC Provisions 2017, Art. 2: listed for two years
OFFICER_SHARE = 0.05
REVOKED_SHARE = 0.02
EXTENSION_SHARE = 0.5
EXTENSION_YEARS: tuple[tuple[int, float], ...] = ((1, 0.5), (2, 0.3), (3, 0.2))
LIFT_SHARE = 0.08
LIFT_WINDOW_DAYS = 60
LIFT_SERVICES: tuple[tuple[str, float], ...] = (
    ("air", 0.5),
    ("rail_hsr", 0.3),
    ("rail_first_class", 0.1),
    ("hotel_star", 0.1),
)
PHONE_SHARE = 0.6
_CREDITORS = (
    "中国建设银行股份有限公司北京市分行",
    "招商银行股份有限公司信用卡中心",
    "上海浦江建设工程有限公司",
    "北京华信商贸有限公司",
    "深圳前海小额贷款有限公司",
    "广州白云物业管理有限公司",
)


class Debtor(NamedTuple):
    """A defaulted borrower a lender may sue: the lender's legal name and the default date."""

    person: Person
    creditor: str
    since: dt.date


@dataclass
class CourtOutcome:
    """Drafts per court furnisher and the ground truth: indices of people with a dishonesty
    finding that is not exempt (company officer), performed or revoked and whose listing
    (:data:`LISTING_YEARS` plus any extension, from the finding) still runs on ``as_of``."""

    drafts: dict[str, list[Draft]] = field(default_factory=dict)
    active: set[int] = field(default_factory=set)


def _yuan(rng: random.Random, median: float, sigma: float) -> int:
    return max(100, int(rng.lognormvariate(math.log(median), sigma)))


def _court_for(rng: random.Random, person: Person) -> int:
    for i, (_, _, prefix) in enumerate(COURTS):
        if person.region_code.startswith(prefix) and rng.random() < 0.9:
            return i
    return rng.randrange(len(COURTS))


_FINDING_ORDER = ("case_number", "ground", "amount_minor", "currency", "debtor_role")


def _rulings(
    rng: random.Random,
    drafts: list[Draft],
    person: Person,
    case_number: str,
    listed_on: dt.date,
    ground: int,
    as_of: dt.date,
    revoked: bool,
    performed_on: dt.date | None,
) -> bool:
    """Append the court's later rulings on a listing from ``listed_on`` (revocation, extension,
    a lifted restriction) to ``drafts``; return whether the listing still runs on ``as_of``."""

    def add(kind: str, day: dt.date, fields: dict[str, Value]) -> None:
        drafts.append(
            Draft(
                kind,
                day,
                person,
                {"case_number": case_number, **fields},
                with_phone=rng.random() < PHONE_SHARE,
            )
        )

    until = shift_years(listed_on, LISTING_YEARS)
    stop = performed_on
    if revoked:
        day = listed_on + dt.timedelta(days=rng.randint(5, 60))
        if day <= as_of:
            add("listing_revoked", day, {})
            stop = day
    if stop is None and ground in (2, 3) and rng.random() < EXTENSION_SHARE:
        lo = listed_on + dt.timedelta(days=90)
        hi = min(until - dt.timedelta(days=1), as_of)
        if lo <= hi:
            years = rng.choices([y for y, _ in EXTENSION_YEARS], [w for _, w in EXTENSION_YEARS])
            add("listing_extended", random_date(rng, lo, hi), {"years": years[0]})
            until = shift_years(until, years[0])
    lo = max(listed_on + dt.timedelta(days=1), as_of - dt.timedelta(days=LIFT_WINDOW_DAYS))
    hi = min(until, stop or until, as_of + dt.timedelta(days=1)) - dt.timedelta(days=1)
    if lo <= hi and rng.random() < LIFT_SHARE:
        day = random_date(rng, lo, hi)
        services = rng.choices([s for s, _ in LIFT_SERVICES], [w for _, w in LIFT_SERVICES])
        lift: dict[str, Value] = {"service": services[0]}
        if rng.random() >= 0.1:
            lift["until"] = (day + dt.timedelta(days=rng.randint(3, 30))).isoformat()
        add("restriction_lifted", day, lift)
    return stop is None and as_of < until


def generate_courts(
    rng: random.Random,
    people: Sequence[Person],
    as_of: dt.date,
    debtors: Sequence[Debtor],
    counters: dict[tuple[int, int], int] | None = None,
) -> CourtOutcome:
    """Simulate enforcement cases; ``debtors`` are defaulted borrowers their lender may sue
    (sued at least 60 days after the default).  ``counters`` (court index, year) → last case
    number is advanced in place, so case numbers stay unique across blocks of people."""
    out = CourtOutcome(drafts={name: [] for name, _, _ in COURTS})
    target = round(len(people) * JUDGMENT_SHARE)
    cases: list[tuple[Person, Debtor | None]] = [
        (d.person, d) for d in debtors[: round(target * FROM_LOAN_SHARE)]
    ]
    taken = {p.index for p, _ in cases}
    for i in rng.sample(range(len(people)), min(len(people), target + len(cases))):
        if len(cases) >= target:
            break
        if i not in taken:
            cases.append((people[i], None))
    counters = {} if counters is None else counters
    start, last = shift_years(as_of, -4), as_of - dt.timedelta(days=30)
    for person, debtor in cases:
        adult = max(start, shift_years(person.birth_date, 18))
        n_cases = rng.choices((1, 2, 3), cum_weights=(85, 97, 100))[0]
        for case in range(n_cases):
            court = _court_for(rng, person)
            name, abbr, _ = COURTS[court]
            lender = debtor.creditor if debtor is not None and case == 0 else None
            if lender is not None and debtor is not None:
                d0 = random_date(rng, min(debtor.since + dt.timedelta(days=60), last), last)
            else:
                d0 = random_date(rng, adult, last)
            key = (court, d0.year)
            counters[key] = counters.get(key, 0) + rng.randint(1, 40)
            case_number = f"({d0.year}){abbr}执{counters[key]}号"
            amount = _yuan(rng, 50_000, 1.2) * 100
            fields: dict[str, Value] = {
                "case_number": case_number,
                "amount_minor": amount,
                "currency": "CNY",
            }
            if lender is not None:
                fields["creditor"] = lender
            elif rng.random() < 0.7:
                fields["creditor"] = (
                    rng.choice(_CREDITORS) if rng.random() < 0.6 else rng.choice(people).name
                )
            phone = rng.random() < PHONE_SHARE
            drafts = out.drafts[name]
            judgment = Draft("court_judgment", d0, person, fields, with_phone=phone)
            drafts.append(judgment)
            if rng.random() < 0.03:
                amount = max(100, round(amount * rng.uniform(0.7, 1.3) / 100) * 100)
                drafts.append(
                    Draft(
                        "court_judgment",
                        d0,
                        person,
                        {**fields, "amount_minor": amount},
                        with_phone=phone,
                        corrects=judgment,
                    )
                )
            money: dict[str, Value] = {
                "case_number": case_number,
                "amount_minor": amount,
                "currency": "CNY",
            }
            d1 = d0 + dt.timedelta(days=rng.randint(30, 365))
            if rng.random() < FINDING_PROBABILITY and d1 <= as_of:
                ground = rng.choices(range(1, 7), weights=GROUND_WEIGHTS)[0]
                officer = rng.random() < OFFICER_SHARE
                finding: dict[str, Value] = {
                    **money,
                    "ground": ground,
                    "debtor_role": "company_officer" if officer else "debtor",
                }
                drafts.append(
                    Draft(
                        "dishonesty_finding",
                        d1,
                        person,
                        {k: finding[k] for k in _FINDING_ORDER},
                        with_phone=rng.random() < PHONE_SHARE,
                    )
                )
                revoked = not officer and rng.random() < REVOKED_SHARE
                r = rng.random()
                performed_on = None
                if r < 0.3 and d1 < as_of and not revoked:
                    performed = r < 0.2
                    paid = amount if performed else max(1, amount * rng.randint(10, 80) // 100)
                    day = random_date(rng, d1 + dt.timedelta(days=1), as_of)
                    performed_on = day if performed else None
                    drafts.append(
                        Draft(
                            "judgment_performance",
                            day,
                            person,
                            {**money, "amount_minor": paid, "full": performed},
                            with_phone=rng.random() < PHONE_SHARE,
                        )
                    )
                if not officer and _rulings(
                    rng, drafts, person, case_number, d1, ground, as_of, revoked, performed_on
                ):
                    out.active.add(person.index)
            elif rng.random() < 0.5:
                d2 = d0 + dt.timedelta(days=rng.randint(10, 200))
                if d2 <= as_of:
                    drafts.append(
                        Draft(
                            "judgment_performance",
                            d2,
                            person,
                            {**money, "full": True},
                            with_phone=rng.random() < PHONE_SHARE,
                        )
                    )
    return out
