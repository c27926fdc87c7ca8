"""Lender records: loan defaults and repayments of the bank and the payment app's micro-loans.

Figures (sources / assumptions):

* ~5 % of people have a loan default (PBOC credit reports show a few per cent of borrowers
  overdue); 55 % with the bank, 35 % with the payment app's micro-loans, 10 % with both; one
  default each (80 %) or two; defaults fall on or after the borrower's 18th birthday.  Bank
  amounts are log-normal around 60 000 CNY, micro-loans around 3 000 CNY, in fen.
* :data:`SEVERAL_DEFAULTS_SHARE` (8 %) of defaulters instead default on two to four loans
  within 300 days, each log-normal around 25 000 CNY and 90–360 days past due, so that many of
  them reach 50 000 CNY within a year (assumption: borrowers in debt to several lenders at
  once); :data:`STUDENT_SEVERAL_DEFAULTS_SHARE` (30 %) of defaulting students do, while enrolled
  or in the year after (assumption: borrowing from one lender to repay another was the pattern
  of the campus-loan cases behind Yinjianfa [2017] No. 26);
* 35 % of defaulted loans are later fully repaid, 15 % partly; 2 % of bank default reports are
  corrected (``days_past_due``);
* ``loan_purpose`` is reported on every default: micro-loans are ``consumer`` credit; bank
  loans are ``consumer`` (60 %), ``business`` (25 %) or ``mortgage`` (15 %) — illustrative;
* :data:`CAMPUS_SHARE` (60 %) of the bank loans of students (see
  :mod:`socialcredit.simulate.school`) are ``campus`` loans, defaulting while enrolled or in the
  year after (so are their bank loans among several defaults); log-normal around 20 000 CNY
  (assumption: campus debts snowballed to tens of thousands of yuan in the cases that led to
  the 2017 rules).  Since Yinjianfa [2017] No. 26 only banks may lend to students on campus,
  so micro-loans are never ``campus``.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from socialcredit.simulate.courts import Debtor
from socialcredit.simulate.dates import random_date, shift_years
from socialcredit.simulate.population import Person
from socialcredit.simulate.records import Draft, Value, phone_draft
from socialcredit.simulate.school import Enrolment

__all__ = [
    "CAMPUS_SHARE",
    "DEFAULT_SHARE",
    "LENDER_NAMES",
    "SEVERAL_DEFAULTS_SHARE",
    "STUDENT_SEVERAL_DEFAULTS_SHARE",
    "generate_lenders",
]

#: Legal names of the lenders, used as ``creditor`` when they sue.
LENDER_NAMES = {"bank-icbc": "中国工商银行股份有限公司", "pay-alipay": "重庆蚂蚁消费金融有限公司"}
DEFAULT_SHARE = 0.05
SEVERAL_DEFAULTS_SHARE = 0.08
STUDENT_SEVERAL_DEFAULTS_SHARE = 0.3
CAMPUS_SHARE = 0.6
_BANK_PURPOSES = (("consumer", 0.6), ("business", 0.25), ("mortgage", 0.15))


class _Loan(NamedTuple):
    lender: str
    day: dt.date
    amount_minor: int
    days_past_due: int
    purpose: str


def _yuan(rng: random.Random, median: float, sigma: float) -> int:
    return max(10, int(rng.lognormvariate(math.log(median), sigma)))


def _bank_purpose(rng: random.Random) -> str:
    return rng.choices([p for p, _ in _BANK_PURPOSES], weights=[w for _, w in _BANK_PURPOSES])[0]


def _campus_span(
    first: dt.date, as_of: dt.date, enrolment: Enrolment | None
) -> tuple[dt.date, dt.date] | None:
    """Days a campus loan may default: while enrolled or in the year after, from ``first``."""
    if enrolment is None:
        return None
    lo = max(first, enrolment.start + dt.timedelta(days=60))
    hi = min(as_of, shift_years(enrolment.end, 1))
    return (lo, hi) if lo <= hi else None


def _single_loans(
    rng: random.Random, first: dt.date, as_of: dt.date, enrolment: Enrolment | None
) -> list[_Loan]:
    r = rng.random()
    lenders = (
        ("bank-icbc",) if r < 0.55 else ("pay-alipay",) if r < 0.9 else ("bank-icbc", "pay-alipay")
    )
    loans = []
    for lender in lenders:
        for _ in range(1 if rng.random() < 0.8 else 2):
            if lender == "pay-alipay":
                amount = _yuan(rng, 3_000, 0.9) * 100 + rng.randrange(100)
                day = random_date(rng, first, as_of)
                loans.append(_Loan(lender, day, amount, rng.randint(1, 180), "consumer"))
                continue
            span = _campus_span(first, as_of, enrolment)
            if span is not None and rng.random() < CAMPUS_SHARE:
                day, purpose = random_date(rng, *span), "campus"
                amount = _yuan(rng, 20_000, 1.0) * 100
            else:
                day, purpose = random_date(rng, first, as_of), _bank_purpose(rng)
                amount = _yuan(rng, 60_000, 1.0) * 100
            loans.append(_Loan(lender, day, amount, rng.randint(30, 720), purpose))
    return loans


def _several_loans(
    rng: random.Random, first: dt.date, as_of: dt.date, campus: tuple[dt.date, dt.date] | None
) -> list[_Loan]:
    lo_bound, hi_bound = campus or (first, as_of)
    lo = random_date(rng, lo_bound, max(lo_bound, hi_bound - dt.timedelta(days=300)))
    hi = min(as_of, lo + dt.timedelta(days=300))
    loans = []
    for _ in range(rng.choice((2, 3, 3, 4))):
        bank = rng.random() < 0.7
        day = random_date(rng, lo, hi)
        if not bank:
            purpose = "consumer"
        elif campus and day <= campus[1] and rng.random() < CAMPUS_SHARE:
            purpose = "campus"
        else:
            purpose = _bank_purpose(rng)
        lender = "bank-icbc" if bank else "pay-alipay"
        amount = _yuan(rng, 25_000, 0.4) * 100
        loans.append(_Loan(lender, day, amount, rng.randint(90, 360), purpose))
    return loans


def generate_lenders(
    rng: random.Random,
    people: Sequence[Person],
    as_of: dt.date,
    enrolments: Mapping[int, Enrolment],
    counters: dict[str, int] | None = None,
) -> tuple[dict[str, list[Draft]], list[Debtor]]:
    """Loan defaults and repayments per lender, and the borrowers with a default never fully
    repaid (one per person, candidates for a court judgment), in random order.
    ``enrolments`` (person index → :class:`Enrolment`) decides who may have campus loans;
    ``counters["loan"]``, the last loan number, is advanced in place (unique across blocks)."""
    drafts: dict[str, list[Draft]] = {"bank-icbc": [], "pay-alipay": []}
    unpaid: list[Debtor] = []
    counters = {} if counters is None else counters
    seq = counters.get("loan", 0)
    start = shift_years(as_of, -4)
    for i in rng.sample(range(len(people)), round(len(people) * DEFAULT_SHARE)):
        person = people[i]
        first = min(as_of, max(start, shift_years(person.birth_date, 18)))
        span = _campus_span(first, as_of, enrolments.get(i))
        several = STUDENT_SEVERAL_DEFAULTS_SHARE if span else SEVERAL_DEFAULTS_SHARE
        if rng.random() < several:
            loans = _several_loans(rng, first, as_of, span)
        else:
            loans = _single_loans(rng, first, as_of, enrolments.get(i))
        for lender, day, amount, dpd, purpose in loans:
            seq += rng.randint(1, 9)
            if lender == "bank-icbc":
                loan_id = f"ICBC-{day.year}-{seq:08d}"
            else:
                loan_id = f"{rng.choice(('HB', 'JB'))}{seq:010d}"
            fields: dict[str, Value] = {
                "loan_id": loan_id,
                "amount_minor": amount,
                "currency": "CNY",
                "days_past_due": dpd,
                "loan_purpose": purpose,
            }
            default = phone_draft(rng, "loan_default", day, person, fields)
            drafts[lender].append(default)
            if lender == "bank-icbc" and rng.random() < 0.02:
                drafts[lender].append(
                    phone_draft(
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
                repayment: dict[str, Value] = {
                    "loan_id": loan_id,
                    "amount_minor": paid,
                    "currency": "CNY",
                    "full": full,
                }
                drafts[lender].append(phone_draft(rng, "loan_repayment", later, person, repayment))
                if full:
                    continue
            unpaid.append(Debtor(person, LENDER_NAMES[lender], day))
    counters["loan"] = seq
    rng.shuffle(unpaid)
    first_debt: dict[int, Debtor] = {}
    for debtor in unpaid:
        first_debt.setdefault(debtor.person.index, debtor)
    return drafts, list(first_debt.values())
