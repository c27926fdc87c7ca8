"""``simulate_us()``: a US population and its furnisher files, for the US policy.

Furnishers (:data:`US_FURNISHERS`), each one CSV file in the row contract of
:mod:`socialcredit.simulate.records` (``furnisher_record_id, kind, occurred_at, national_id``
— here an SSN — ``, phone, name, corrects``), plus ``birth_date`` and ``address`` (as a
Metro 2 base segment carries them), then the kind fields:

* ``bank-chase`` and ``card-capone`` (lenders): an ``account_current`` row for most of their
  customers, ``loan_default`` rows for delinquent tradelines with the date of first
  delinquency (FCRA §623(a)(5)), ``loan_repayment`` when some are paid in full;
* ``collector-midland`` (a debt buyer, furnisher kind ``lender``): for a share of the bank's
  seriously delinquent accounts, its own report after the purchase, naming the original
  creditor and account (Metro 2 K2 segment) and the same date of first delinquency — one
  obligation, reported twice;
* ``carrier-verizon`` (kind ``carrier``): the carrier's verified subscriber record
  (``phone_registration``) of the number of every person another furnisher reported with
  their SSN, once each, on a day within the last four years — the US policy's authoritative
  source of where sign-in codes and notices go (its ``identity.phone``), so listed people can
  sign in to ``/me``; drawn from its own random stream, so the other files do not change;
* ``ride-uber`` and ``ride-lyft`` (platforms): drivers' ratings of riders, by phone and name;
  for the :data:`VERIFIED_RIDER` share of riders who verified their identity with the platform
  the rows also carry the SSN (an assumption of this simulation: US platforms verify riders'
  ID documents, not SSNs; without a checksum-valid identifier a phone-only link leaves any
  listing ``pending_review``, DESIGN §3.2); a few riders are rated low.

``tickets.csv`` (``service, national_id, phone, platform``) holds one day of credit
applications (by SSN) and ride requests (by phone, on one platform). A fraction
``bad_row_rate`` of furnisher rows is deliberately broken: an SSN in a never-issued range
(area 000, 666 or 9xx) or an impossible date; the registry must quarantine them with a reason.

Figures (assumptions, illustrative, not calibrated): 60 % and 35 % of people hold an account
with the bank and the card issuer; 7 % and 5 % of those have a delinquent tradeline (of the
order of the delinquency rates in the New York Fed's Household Debt and Credit reports), half
of them 90 days or more past due; 40 % of the bank's serious delinquencies are sold to the
collector; 30 % of delinquencies are later paid in full. 20 % of people ride with Uber, 12 %
with Lyft; 4 % of riders are rated low (a mean near 2.8 stars).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from socialcredit.simulate.records import COMMON_COLUMNS
from socialcredit.simulate.runner import FurnisherFile, SimulationManifest
from socialcredit.simulate.us_people import POPULATION_COLUMNS, UsPerson, draw_people

__all__ = ["US_FURNISHERS", "US_TICKET_COLUMNS", "VERIFIED_RIDER", "simulate_us"]

#: name → (furnisher kind, record kinds, id prefix), in manifest order.
US_FURNISHERS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "bank-chase": ("lender", ("account_current", "loan_default", "loan_repayment"), "JPM"),
    "card-capone": ("lender", ("account_current", "loan_default", "loan_repayment"), "COF"),
    "collector-midland": ("lender", ("loan_default",), "MID"),
    "ride-uber": ("platform", ("ride_rating",), "UBR"),
    "ride-lyft": ("platform", ("ride_rating",), "LYF"),
    "carrier-verizon": ("carrier", ("phone_registration",), "VZW"),
}
US_TICKET_COLUMNS = ("service", "national_id", "phone", "platform")
_COLUMNS = (*COMMON_COLUMNS, "birth_date", "address", "loan_id", "loan_purpose",
            "amount_minor", "currency", "days_past_due", "original_creditor",
            "original_loan_id", "first_delinquency_date", "full", "rating", "trip_id",
            "registration_id")
_LENDERS = {"bank-chase": (0.60, 0.07, "card"), "card-capone": (0.35, 0.05, "card")}
_DAYS_PAST_DUE = (30, 60, 90, 120, 180)
_DPD_WEIGHTS = (0.3, 0.2, 0.2, 0.15, 0.15)
_RIDERS = {"ride-uber": 0.20, "ride-lyft": 0.12}
_LOW_RIDER = 0.04
#: Share of riders whose platform rows carry their SSN (module docstring).
VERIFIED_RIDER = 0.6
_STARS = (1, 2, 3, 4, 5)
_NORMAL_STARS = (0.01, 0.01, 0.03, 0.15, 0.80)
_LOW_STARS = (0.15, 0.25, 0.35, 0.15, 0.10)
#: Purchases per person in the day: credit applications and ride requests.
_CREDIT_PER_PERSON, _RIDES_PER_PERSON = 0.03, 0.10
#: People 90+ days delinquent apply for credit, and riders rated low request rides, this many
#: times as often as others (so refusals show, as the China simulator does for the listed).
_DELINQUENT_PROPENSITY = 5.0


def _row(p: UsPerson, kind: str, day: dt.date, rng: random.Random, *, ssn: bool = True,
         **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"kind": kind, "occurred_at": day.isoformat(), "name": p.name}
    if ssn:
        row.update(national_id=p.national_id, birth_date=p.birth_date.isoformat(),
                   address=p.address)
        if rng.random() < 0.8 or kind == "ride_rating":
            row["phone"] = p.phone
    else:
        row["phone"] = p.phone
    row.update(fields)
    return row


def _lender(rng: random.Random, name: str, people: list[UsPerson], as_of: dt.date,
            rows: dict[str, list[dict[str, Any]]], serious: dict[int, dict[str, Any]]) -> None:
    share, delinquent, purpose = _LENDERS[name]
    prefix = US_FURNISHERS[name][2]
    for p in people:
        if rng.random() >= share:
            continue
        loan = f"{prefix}-A{p.index:08d}"
        opened = as_of - dt.timedelta(days=rng.randint(200, 3000))
        rows[name].append(_row(p, "account_current", opened, rng, loan_id=loan,
                               loan_purpose=purpose))
        if rng.random() >= delinquent:
            continue
        dpd = rng.choices(_DAYS_PAST_DUE, weights=_DPD_WEIGHTS)[0]
        dfd = as_of - dt.timedelta(days=rng.randint(dpd + 1, 900))
        amount = rng.randint(200, 20_000) * 100
        default = _row(p, "loan_default", dfd + dt.timedelta(days=dpd), rng, loan_id=loan,
                       amount_minor=amount, currency="USD", days_past_due=dpd,
                       first_delinquency_date=dfd.isoformat())
        rows[name].append(default)
        if name == "bank-chase" and dpd >= 90 and rng.random() < 0.4:
            serious[p.index] = default
        elif rng.random() < 0.3:
            paid = min(as_of, dfd + dt.timedelta(days=dpd + rng.randint(10, 200)))
            rows[name].append(_row(p, "loan_repayment", paid, rng, loan_id=loan,
                                   amount_minor=amount, currency="USD", full=True))


def _collector(rng: random.Random, people: list[UsPerson], as_of: dt.date,
               serious: dict[int, dict[str, Any]], out: list[dict[str, Any]]) -> None:
    """The debt buyer's reports: same obligation, same date of first delinquency."""
    for index, default in sorted(serious.items()):
        reported = dt.date.fromisoformat(default["occurred_at"])
        day = min(as_of, reported + dt.timedelta(days=rng.randint(30, 120)))
        dfd = dt.date.fromisoformat(default["first_delinquency_date"])
        out.append(_row(people[index], "loan_default", day, rng,
                        loan_id=f"MID-{index:08d}", amount_minor=default["amount_minor"],
                        currency="USD", days_past_due=max(180, (day - dfd).days),
                        original_creditor="bank-chase", original_loan_id=default["loan_id"],
                        first_delinquency_date=default["first_delinquency_date"]))


def _ratings(rng: random.Random, name: str, people: list[UsPerson], as_of: dt.date,
             out: list[dict[str, Any]], low_riders: set[int]) -> list[UsPerson]:
    riders = [p for p in people if rng.random() < _RIDERS[name]]
    prefix = US_FURNISHERS[name][2]
    trip = 0
    for p in riders:
        low = rng.random() < _LOW_RIDER
        if low:
            low_riders.add(p.index)
        verified = rng.random() < VERIFIED_RIDER
        for _ in range(rng.randint(5, 25)):
            trip += 1
            stars = rng.choices(_STARS, weights=_LOW_STARS if low else _NORMAL_STARS)[0]
            out.append(_row(p, "ride_rating", as_of - dt.timedelta(days=rng.randint(0, 170)),
                            rng, ssn=verified, rating=stars, trip_id=f"{prefix}-T{trip:09d}"))
    return riders


def _carrier(rng: random.Random, people: list[UsPerson], as_of: dt.date,
             rows: dict[str, list[dict[str, Any]]], out: list[dict[str, Any]]) -> None:
    """The carrier's subscriber records of everyone reported with their SSN (module docstring)."""
    reported = {r["national_id"] for rs in rows.values() for r in rs if "national_id" in r}
    for p in people:
        if p.national_id in reported:
            day = as_of - dt.timedelta(days=rng.randint(0, 4 * 365))
            out.append({"kind": "phone_registration", "occurred_at": day.isoformat(),
                        "national_id": p.national_id, "phone": p.phone, "name": p.name,
                        "birth_date": p.birth_date.isoformat(), "address": p.address,
                        "registration_id": f"VZW-S{p.index:09d}"})


def _break(rng: random.Random, row: dict[str, Any]) -> None:
    """Make one row bad the way furnishers do (module docstring)."""
    if "national_id" in row and rng.random() < 0.75:
        area = rng.choice(("000", "666", f"9{rng.randint(0, 99):02d}"))
        row["national_id"] = area + row["national_id"][3:]
    else:
        row["occurred_at"] = row["occurred_at"][:8] + "31" if row["occurred_at"][5:7] in (
            "02", "04", "06", "09", "11") else row["occurred_at"][:5] + "02-30"


def _write(path: Path, header: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header, lineterminator="\n", extrasaction="raise")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("true" if v is True else "false" if v is False else v)
                        for k, v in r.items()})


def simulate_us(out_dir: Path, *, subjects: int, seed: int, as_of: dt.date,
                bad_row_rate: float = 0.003,
                progress: Callable[[int], None] | None = None) -> SimulationManifest:
    """Write a US population of ``subjects`` people, its furnisher files, one day of tickets
    and ``manifest.json`` to ``out_dir`` (module docstring); the same arguments give the same
    bytes. Returns the manifest (the shape of :func:`socialcredit.simulate.simulate`'s).

    Raises:
        ValueError: ``subjects`` below 1 or ``bad_row_rate`` outside [0, 1).
    """
    if subjects < 1:
        raise ValueError("subjects must be at least 1")
    if not 0.0 <= bad_row_rate < 1.0:
        raise ValueError("bad_row_rate must be in [0, 1)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"us-{seed}")
    people = draw_people(rng, subjects, as_of)
    with (out_dir / "population.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(POPULATION_COLUMNS)
        w.writerows(p.row() for p in people)
    if progress is not None:
        progress(len(people))
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in US_FURNISHERS}
    serious: dict[int, dict[str, Any]] = {}
    for name in _LENDERS:
        _lender(rng, name, people, as_of, rows, serious)
    _collector(rng, people, as_of, serious, rows["collector-midland"])
    low_riders: set[int] = set()
    riders = {name: _ratings(rng, name, people, as_of, rows[name], low_riders)
              for name in _RIDERS}
    carrier_rng = random.Random(f"us-carrier-{seed}")
    _carrier(carrier_rng, people, as_of, rows, rows["carrier-verizon"])
    files = []
    for name, (kind, _, prefix) in US_FURNISHERS.items():
        ordered = sorted(rows[name], key=lambda r: r["occurred_at"])
        bad = 0
        for n, r in enumerate(ordered, start=1):
            r["furnisher_record_id"] = f"{prefix}-{n:08d}"
            own = carrier_rng if kind == "carrier" else rng
            if own.random() < bad_row_rate:
                _break(own, r)
                bad += 1
        _write(out_dir / f"{name}.csv", _COLUMNS, ordered)
        files.append(FurnisherFile(name=name, kind=kind, file=f"{name}.csv",
                                   rows=len(ordered), bad_rows=bad))
    delinquent = {r["national_id"] for name in _LENDERS for r in rows[name]
                  if r["kind"] == "loan_default" and r["days_past_due"] >= 90}
    tickets: list[dict[str, Any]] = []
    for p in people:
        weight = _DELINQUENT_PROPENSITY if p.national_id in delinquent else 1.0
        if rng.random() < _CREDIT_PER_PERSON * weight:
            tickets.append({"service": "credit", "national_id": p.national_id})
    for name, share in ((n, _RIDES_PER_PERSON / sum(_RIDERS.values()) * s)
                        for n, s in _RIDERS.items()):
        for p in riders[name]:
            weight = _DELINQUENT_PROPENSITY if p.index in low_riders else 1.0
            if rng.random() < share * 3 * weight:
                tickets.append({"service": "ride_hail", "phone": p.phone, "platform": name})
    rng.shuffle(tickets)
    _write(out_dir / "tickets.csv", US_TICKET_COLUMNS, tickets)
    manifest = SimulationManifest(subjects=subjects, seed=seed, as_of=as_of,
                                  furnishers=tuple(files), tickets_file="tickets.csv",
                                  population_file="population.csv")
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    return manifest
