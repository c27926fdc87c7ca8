"""Benchmark: do the due-process promises hold over a simulated year? Kept and broken, per
promise, counted from the database.

    python bench/clocks.py [--people 3000] [--days 365] [--seed 1] [--start 2027-01-01]
                           [--database-url URL] [--skip-clock-days N] [--json | --markdown]

A registry (SQLite in a temp dir; with ``--database-url postgresql://...`` a fresh schema,
dropped afterwards) runs a copy of the default policy in which ``fare_evasion`` is kept 90 days
instead of 730 (:data:`SHORT_RETENTION_DAYS`: adverse records furnished during the year then
also reach the end of their retention, some while under dispute). It receives a simulated
population's history (``socialcredit.simulate`` with ``as_of`` = ``--start``: records of up to
four years before it; rows already past their kind's retention are not sent, and neither is a
correction past it), then lives ``--days`` days under a frozen wall clock (time-machine):
ledger event times (``utc_now()``), decision times, notice due and served times and dispute
deadlines are all simulated. Each simulated day, in the policy's local time (the registry's
days are local days: :mod:`socialcredit.policy.jurisdiction`; ``Asia/Shanghai``, UTC+8):

=====  =====================================================================================
00:10  ``evaluate_all(as_of=day)``: listings reaching their end date expire (the daily
       ``socialcredit evaluate`` an operator runs from cron; the clocks do not expire)
06:00  the clocks tick (``disclosure.clocks.tick``, FileAdapter): unanswered disputes past
       their deadline suppressed, retention (once a day, at the first tick), notices
       projected and served
09:00  furnishers send the day's records (``ingest_rows``, ``as_of`` = day): dishonesty
       findings, court judgments, full and partial performances (30 % of them reported 1-3 days
       late), loan defaults and repayments, fare evasions, unruly passengers, and the corrected
       records that a ``correct`` answer needs
10:00  subjects open disputes on a listing (60 %) or an adverse record (40 %; a quarter of
       those on a record whose retention ends before the dispute's deadline)
11:00  subjects appeal answered disputes, and ask for a human review of refusals
12:00  tick
14:00  furnishers answer the disputes they planned to answer today (80 % of disputes, on a
       day between opening and the deadline, both included; 20 % are ignored); the operator
       decides appeals and reviews
15:00  air tickets at a gate: random people, two listed people and one listed in the last
       three days (refusals are logged)
18:00  tick
=====  =====================================================================================

A tick is repeated at its slot while it still finds work (as ``serve``'s clock thread, every
few seconds, drains a backlog). The event rates (:data:`RATES`, per person and day) are about
20 times the simulator's, so that a few thousand people give hundreds of each event a year.

Promises, counted at the end of the last day from the ledger and the projections (never from
the simulation's own bookkeeping):

1. *Notices*: every event a subject must hear of (listing, removal, expiry, new adverse record,
   dispute steps and outcome, review outcome) and every logged refusal has a notice served
   within ``notice_within_hours`` of the event's ledger time; and every refusal at a gate came
   after the listing notice of the entry it rests on was served (nobody learns of a listing at
   the ticket counter).
2. *Removal after performance*: every full ``judgment_performance`` whose case matches a listing
   active when it arrived ends that listing (``entry.removed``) on the day it arrived (the SPC
   rules allow 3 working days; we aim for the same day).
3. *Disputes*: every dispute is answered by its ``due_on`` or suppressed on the day after, and a
   suppressed or deleted record lists nobody; disputes still open past their deadline are
   broken.
4. *Retention*: every record past its kind's ``retention_days`` is retired on the day it falls
   due (no earlier) and once (a retired record stays retired), its payload and identifiers
   erased and its ``record.accepted`` event tombstoned; the ledger verifies
   (``store.verify()``) every 91 days and at the end.
5. *Expiry*: every listing ends (``entry.expired``) on its ``until`` date.

Prints a table (kept, broken, pending: not yet due at the end) and the run time; exits 1 if
any promise is broken. ``--skip-clock-days N`` is a deliberately broken control: no tick runs
for N days from a third of the year, and the benchmark must report broken promises.
``--markdown`` prints the promises as the table ``bench/README.md`` quotes.

Longer than 400 lines on purpose: a benchmark is one script to read and run, its simulated
world, its measures and its report side by side.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import time_machine
import yaml
from sqlalchemy import select

from socialcredit.api.keys import add_furnisher, add_gate, authenticate, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.disclosure.clocks import TickResult, tick
from socialcredit.disclosure.delivery import FileAdapter
from socialcredit.disclosure.disputes import (
    answer_dispute,
    appeal_dispute,
    decide_appeal,
    disputes_of_furnisher,
    open_dispute,
)
from socialcredit.disclosure.reviews import decide_review, open_reviews, request_review
from socialcredit.errors import Conflict, InputError, NotFound
from socialcredit.gate import DecisionService, GateIndex
from socialcredit.ingest.pipeline import ingest_rows
from socialcredit.ingest.readers import RawRow, read_rows
from socialcredit.policy.model import Policy
from socialcredit.policy.sweeps import evaluate_all
from socialcredit.settings import Settings
from socialcredit.simulate import FURNISHERS, simulate
from socialcredit.simulate.courts import COURTS
from socialcredit.store import Store
from socialcredit.store.scratch import scratch_database
from socialcredit.store.tables import decisions, disputes, events, list_entries, notices, records

#: The shipped policy's zone: the simulated day's hours, and the day of every ledger time.
LOCAL = ZoneInfo(yaml.safe_load(Settings().policy_path.read_text(encoding="utf-8"))
                 ["jurisdiction"]["time_zone"])
#: Events per person and simulated day.
RATES = {"finding": 4e-4, "judgment": 2e-4, "loan_default": 2e-4, "fare_evasion": 1e-4,
         "unruly": 3e-5, "dispute": 4e-4}
P_FULL, P_PARTIAL, P_LATE_REPORT = 0.35, 0.10, 0.30
P_IGNORED, P_APPEAL, P_REVIEW = 0.20, 0.30, 0.20
P_DISPUTE_ENTRY, P_DISPUTE_OLD = 0.60, 0.10
#: Retention shortened in the run's copy of the default policy, so that adverse records
#: furnished during the year also reach the end of their retention (some under dispute).
SHORT_RETENTION_DAYS = {"fare_evasion": 90}
ANSWER_WEIGHTS = {"verify": 0.60, "delete": 0.25, "correct": 0.15}
TICKETS_PER_DAY, LISTED_TRAVELLERS = 100, 3
VERIFY_EVERY_DAYS = 91
#: Ledger event type → what the subject must be told (issue 6: notices).
OWED = {"entry.listed": "listing", "entry.removed": "removal", "entry.expired": "expiry",
        "record.accepted": "adverse record", "dispute.opened": "dispute step",
        "dispute.answered": "dispute step", "dispute.suppressed": "dispute outcome",
        "dispute.decided": "dispute outcome", "review.decided": "review outcome"}
_ENTRY_EVENTS = ("entry.listed", "entry.updated", "entry.removed", "entry.expired",
                 "entry.suspended")


def say(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def day_of(instant: str) -> dt.date:
    """The local day of a ledger time (stored in UTC)."""
    return dt.datetime.fromisoformat(instant).astimezone(LOCAL).date()


@dataclass
class Tally:
    """One promise: ``kept``, ``broken`` (``why`` counts the reasons), ``pending`` (not due
    by the end of the run); ``extra`` holds informational counts."""

    kept: int = 0
    broken: int = 0
    pending: int = 0
    why: Counter[str] = field(default_factory=Counter)
    extra: Counter[str] = field(default_factory=Counter)

    def ok(self) -> None:
        self.kept += 1

    def fail(self, why: str) -> None:
        self.broken += 1
        self.why[why] += 1

    def as_dict(self) -> dict[str, Any]:
        return {"kept": self.kept, "broken": self.broken, "pending": self.pending,
                "why": dict(self.why), "extra": dict(self.extra)}


@dataclass
class Plan:
    """What a furnisher will do about one dispute: answer on ``on`` (None: ignore it)."""

    on: dt.date | None
    answer: str = "verify"


class World:
    """The simulated registry, its furnishers and subjects, and their plans."""

    def __init__(self, reg: Registry, folder: Path, *, people: int, seed: int,
                 start: dt.date, days: int, skip_from: int, skip_days: int) -> None:
        self.reg, self.store, self.policy = reg, reg.store, reg.policy
        self.folder, self.start, self.days = folder, start, days
        self.end = start + dt.timedelta(days=days - 1)
        self.skip = {start + dt.timedelta(days=skip_from + i) for i in range(skip_days)}
        self.rng = np.random.default_rng(seed)
        self.n_people, self.seed = people, seed
        self.outbox: dict[dt.date, dict[str, list[dict[str, Any]]]] = defaultdict(
            lambda: defaultdict(list))
        self.plans: dict[int, Plan] = {}
        self.appeals: dict[dt.date, list[tuple[int, int]]] = defaultdict(list)
        self.appeal_decisions: dict[dt.date, list[int]] = defaultdict(list)
        self.review_decisions: dict[int, dt.date] = {}
        self.serial = 0
        self.counts: Counter[str] = Counter()
        self.ticks = TickResult()
        self.verifies: list[tuple[dt.date, bool, str]] = []
        self.adapter = FileAdapter(folder / "notices")
        self.step_s: dict[str, float] = defaultdict(float)

    # --- the clock -------------------------------------------------------------------------
    def at(self, day: dt.date, hhmm: str) -> dt.datetime:
        moment = dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=LOCAL)
        self.traveller.move_to(moment)
        return moment

    def run(self) -> None:
        with time_machine.travel(dt.datetime.combine(self.start, dt.time(0), tzinfo=LOCAL),
                                 tick=False) as traveller:
            self.traveller = traveller
            t0 = time.perf_counter()
            self.setup()
            self.step_s["setup"] = time.perf_counter() - t0
            for i in range(self.days):
                self.day(self.start + dt.timedelta(days=i))
                if (i + 1) % 30 == 0:
                    say(f"day {i + 1}/{self.days}: {dict(self.counts)}")

    # --- day 0 -----------------------------------------------------------------------------
    def setup(self) -> None:
        day = self.start
        self.at(day, "04:00")
        sim = self.folder / "sim"
        manifest = simulate(sim, subjects=self.n_people, seed=self.seed, as_of=day,
                            bad_row_rate=0.0)
        with (sim / manifest.population_file).open(encoding="utf-8") as fh:
            self.people = [(r["national_id"], r["phone"], r["name"]) for r in csv.DictReader(fh)]
        self.fids: dict[str, int] = {}
        for spec in FURNISHERS:
            add_furnisher(self.store, name=spec.name, kind=spec.kind)
            self.fids[spec.name] = furnisher_id(self.store, spec.name)
        self.names = {v: k for k, v in self.fids.items()}
        self.at(day, "05:00")
        for spec in FURNISHERS:
            rows, old = [], 0
            for raw in read_rows(sim / spec.file):
                kind = self.policy.catalogue.get(str(raw.data.get("kind")))
                occurred = dt.date.fromisoformat(str(raw.data["occurred_at"])[:10])
                if kind and occurred + dt.timedelta(days=kind.retention_days) < day:
                    old += 1  # a furnisher does not send what is past retention
                    continue
                rows.append(raw)
            self.counts["history past retention, not sent"] += old
            self._ingest(spec.name, rows, day, source=f"history:{spec.file}")
        self.gate = DecisionService(GateIndex(self.store, self.policy), today=day)
        self.gate.index.build()
        # a registered airline (an operator's check is not a refused sale, and is not told)
        self.airline = authenticate(self.store, add_gate(self.store, self.policy,
                                                         name="airline", services=["air"]))
        # a third of the listings active at the start are performed during the year
        with self.store.read() as conn:
            active = conn.execute(
                select(list_entries.c.key, list_entries.c.furnisher_id, records.c.national_id,
                       records.c.phone, records.c.name, records.c.payload)
                .join(records, records.c.id == list_entries.c.record_id)
                .where(list_entries.c.list == "dishonest_judgment_debtors",
                       list_entries.c.status == "active").order_by(list_entries.c.id)).all()
        for r in active:
            if self.rng.random() < 1 / 3:
                on = day + dt.timedelta(days=int(self.rng.integers(1, self.days)))
                payload = json.loads(r.payload)
                self._later(on, self.names[r.furnisher_id], "judgment_performance",
                            (r.national_id, r.phone, r.name), on, case_number=r.key,
                            amount_minor=payload["amount_minor"], currency="CNY", full=True)

    # --- one day ---------------------------------------------------------------------------
    def day(self, day: dt.date) -> None:
        steps = (("evaluate", "00:10", self.evaluate), ("tick", "06:00", self.tick),
                 ("ingest", "09:00", self.furnish), ("disputes", "10:00", self.open_disputes),
                 ("appeals", "11:00", self.appeal_and_review), ("tick", "12:00", self.tick),
                 ("answers", "14:00", self.answer), ("tickets", "15:00", self.tickets),
                 ("tick", "18:00", self.tick))
        for name, hhmm, step in steps:
            now = self.at(day, hhmm)
            t0 = time.perf_counter()
            step(day, now)
            self.step_s[name] += time.perf_counter() - t0
        if (day - self.start).days % VERIFY_EVERY_DAYS == VERIFY_EVERY_DAYS - 1 \
                or day == self.end:
            self.at(day, "23:00")
            t0 = time.perf_counter()
            v = self.store.verify()
            self.step_s["verify"] += time.perf_counter() - t0
            self.verifies.append((day, v.ok, v.reason or ""))

    def evaluate(self, day: dt.date, now: dt.datetime) -> None:
        stats = evaluate_all(self.store, self.policy, day)
        self.counts["expired"] += sum(stats.expired.values())

    def tick(self, day: dt.date, now: dt.datetime) -> None:
        if day in self.skip:
            return
        for _ in range(100):
            r = tick(self.store, self.policy, self.adapter, now=now)
            for k, v in r.as_dict().items():
                setattr(self.ticks, k, getattr(self.ticks, k) + v)
            if not (r.served or r.failed or r.notices_added):
                return

    def furnish(self, day: dt.date, now: dt.datetime) -> None:
        self._generate(day)
        for name, rows in sorted(self.outbox.pop(day, {}).items()):
            raw = [RawRow(i + 1, r) for i, r in enumerate(rows)]
            self._ingest(name, raw, day, source=f"day:{day}:{name}")

    def _ingest(self, name: str, rows: list[RawRow], day: dt.date, *, source: str) -> None:
        if not rows:
            return
        result = ingest_rows(self.store, self.policy, furnisher_id=self.fids[name], rows=rows,
                             source=source, as_of=day)
        self.counts["records accepted"] += result.accepted
        self.counts["records rejected"] += result.rejected
        if result.problems and self.counts["records rejected"] <= 5:
            say(f"rejected on {day}: {result.problems[:2]}")

    # --- furnishers' records ---------------------------------------------------------------
    def _n(self, rate: str) -> int:
        return int(self.rng.poisson(self.n_people * RATES[rate]))

    def _person(self) -> tuple[str, str, str]:
        return self.people[int(self.rng.integers(len(self.people)))]

    def _row(self, kind: str, who: tuple[str, str, str], occurred: dt.date,
             **fields: Any) -> dict[str, Any]:
        self.serial += 1
        nid, phone, name = who
        row = {"furnisher_record_id": f"CLK-{self.serial:08d}", "kind": kind,
               "occurred_at": occurred.isoformat(), "national_id": nid, "name": name, **fields}
        if phone and self.rng.random() < 0.6:
            row["phone"] = phone
        return row

    def _later(self, on: dt.date, furnisher: str, kind: str, who: tuple[str, str, str],
               occurred: dt.date, **fields: Any) -> None:
        if on <= self.end:
            self.outbox[on][furnisher].append(self._row(kind, who, occurred, **fields))

    def _amount(self) -> int:
        return int(self.rng.lognormal(np.log(5_000_000), 1.0)) + 100

    def _generate(self, day: dt.date) -> None:
        out = self.outbox[day]
        for _ in range(self._n("finding")):
            court, abbr, _region = COURTS[int(self.rng.integers(len(COURTS)))]
            who, amount = self._person(), self._amount()
            self.serial += 1
            case = f"({day.year}){abbr}执{self.serial}号"
            ground = int(self.rng.choice(6, p=[0.86, 0.02, 0.03, 0.04, 0.03, 0.02])) + 1
            out[court].append(self._row("dishonesty_finding", who, day, case_number=case,
                                        ground=ground, amount_minor=amount, currency="CNY"))
            u = self.rng.random()
            if u < P_FULL + P_PARTIAL:
                on = day + dt.timedelta(days=int(self.rng.integers(1, 181)))
                late = int(self.rng.integers(1, 4)) if self.rng.random() < P_LATE_REPORT else 0
                occurred = max(day, on - dt.timedelta(days=late))
                full = u < P_FULL
                self._later(on, court, "judgment_performance", who, occurred, case_number=case,
                            amount_minor=amount if full else amount // 3, currency="CNY",
                            full=full)
        for _ in range(self._n("judgment")):
            court, abbr, _region = COURTS[int(self.rng.integers(len(COURTS)))]
            self.serial += 1
            out[court].append(self._row("court_judgment", self._person(), day,
                                        case_number=f"({day.year}){abbr}民{self.serial}号",
                                        amount_minor=self._amount(), currency="CNY"))
        for _ in range(self._n("loan_default")):
            lender = ("bank-icbc", "pay-alipay")[int(self.rng.integers(2))]
            who, amount = self._person(), self._amount() // 10
            self.serial += 1
            loan = f"L{self.serial:09d}"
            out[lender].append(self._row("loan_default", who, day, loan_id=loan,
                                         amount_minor=amount, currency="CNY",
                                         days_past_due=int(self.rng.integers(30, 400))))
            if self.rng.random() < 0.3:
                on = day + dt.timedelta(days=int(self.rng.integers(10, 200)))
                self._later(on, lender, "loan_repayment", who, on, loan_id=loan,
                            amount_minor=amount, currency="CNY", full=True)
        for _ in range(self._n("fare_evasion")):
            service = str(self.rng.choice(["air", "rail_hsr", "rail", "metro"]))
            carrier = "air-caac" if service == "air" else "rail-12306"
            out[carrier].append(self._row("fare_evasion", self._person(), day, service=service,
                                          amount_minor=int(self.rng.integers(500, 200_000)),
                                          currency="CNY"))
        for _ in range(self._n("unruly")):
            conduct = str(self.rng.choice(["smoking_on_board", "occupying_seat",
                                           "violence_against_crew", "disrupting_order"]))
            out["air-caac"].append(self._row("unruly_passenger", self._person(), day,
                                             service="air", conduct=conduct))

    # --- disputes, appeals, reviews ----------------------------------------------------------
    def open_disputes(self, day: dt.date, now: dt.datetime) -> None:
        n = self._n("dispute")
        if not n:
            return
        adverse = sorted(k for k, s in self.policy.catalogue.items() if s.adverse)
        internal = sorted(k for k, s in self.policy.lists.items() if not s.external)
        with self.store.read() as conn:
            entries = conn.execute(select(list_entries.c.id, list_entries.c.subject_id).where(
                list_entries.c.status == "active", list_entries.c.list.in_(internal))
                .order_by(list_entries.c.id)).all()
            recs = conn.execute(select(records.c.id, records.c.subject_id, records.c.kind,
                                       records.c.occurred_at).where(
                records.c.status == "active", records.c.superseded_by.is_(None),
                records.c.subject_id.is_not(None), records.c.kind.in_(adverse))
                .order_by(records.c.id)).all()
        soon = (day + dt.timedelta(days=self.policy.due_process.dispute_answer_days))
        old = [r for r in recs if dt.date.fromisoformat(r.occurred_at) + dt.timedelta(
            days=self.policy.catalogue[r.kind].retention_days) < soon]
        for _ in range(n):
            u = self.rng.random()
            on_entry = bool(entries) and u < P_DISPUTE_ENTRY
            # some dispute a record that falls due for retention before their deadline
            pool = entries if on_entry else old if old and u > 1 - P_DISPUTE_OLD else recs
            if not pool:
                continue
            target = pool[int(self.rng.integers(len(pool)))]
            kw = {"entry_id": target.id} if on_entry else {"record_id": target.id}
            try:
                d = open_dispute(self.store, self.policy, subject_id=target.subject_id,
                                 reason="this is wrong: I paid / it was not me", now=now, **kw)
            except Conflict:
                self.counts["dispute already open"] += 1
                continue
            self.counts["disputes opened"] += 1
            self._plan(d, day)

    def _plan(self, d: dict[str, Any], day: dt.date) -> None:
        due = dt.date.fromisoformat(d["due_on"])
        if self.rng.random() < P_IGNORED:
            self.plans[d["id"]] = Plan(None)
            return
        on = day + dt.timedelta(days=int(self.rng.integers(0, (due - day).days + 1)))
        answer = str(self.rng.choice(list(ANSWER_WEIGHTS), p=list(ANSWER_WEIGHTS.values())))
        if answer == "correct" and not self._send_correction(d["record_id"], on):
            answer = "verify"
        self.plans[d["id"]] = Plan(on, answer)

    def _send_correction(self, record_id: int, on: dt.date) -> bool:
        """Queue the corrected record (a new amount) for the morning of ``on``."""
        with self.store.read() as conn:
            r = conn.execute(select(records).where(records.c.id == record_id)).one()
        payload = json.loads(r.payload)
        kept_until = dt.date.fromisoformat(r.occurred_at) + dt.timedelta(
            days=self.policy.catalogue[r.kind].retention_days)
        if "amount_minor" not in payload or on > min(self.end, kept_until):
            return False  # nothing to correct, or past retention on the day (not sent)
        payload["amount_minor"] = max(100, payload["amount_minor"] // 2)
        self.outbox[on][self.names[r.furnisher_id]].append(self._row(
            r.kind, (r.national_id, r.phone or "", r.name or ""),
            dt.date.fromisoformat(r.occurred_at), corrects=r.furnisher_record_id, **payload))
        return True

    def answer(self, day: dt.date, now: dt.datetime) -> None:
        for fid in sorted(self.fids.values()):
            for d in disputes_of_furnisher(self.store, fid):
                plan = self.plans.get(d["id"])
                if plan is None or plan.on != day:
                    continue
                try:
                    out = answer_dispute(self.store, self.policy, furnisher_id=fid,
                                         dispute_id=d["id"], answer=plan.answer,
                                         note="checked against the case file", now=now)
                except InputError:  # the correction did not land (e.g. retired meanwhile)
                    out = answer_dispute(self.store, self.policy, furnisher_id=fid,
                                         dispute_id=d["id"], answer="verify", now=now)
                self.counts[f"answered {out['status']}"] += 1
                if out["status"] in ("verified", "corrected") and self.rng.random() < P_APPEAL:
                    on = day + dt.timedelta(days=int(self.rng.integers(1, 6)))
                    self.appeals[on].append((int(d["id"]), self._subject_of(d["id"])))
        for did in self.appeal_decisions.pop(day, []):
            outcome = ("upheld", "overturned")[int(self.rng.integers(2))]
            decide_appeal(self.store, self.policy, operator="ops", dispute_id=did,
                          outcome=outcome, note="reviewed the file", now=now)
            self.counts[f"appeal {outcome}"] += 1
        for review in open_reviews(self.store):
            if self.review_decisions.get(review["id"]) == day:
                outcome = ("upheld", "overturned")[int(self.rng.integers(2))]
                decide_review(self.store, self.policy, operator="ops", review_id=review["id"],
                              outcome=outcome, now=now)
                self.counts[f"review {outcome}"] += 1

    def _subject_of(self, dispute_id: int) -> int:
        with self.store.read() as conn:
            return int(conn.execute(select(disputes.c.subject_id).where(
                disputes.c.id == dispute_id)).scalar_one())

    def appeal_and_review(self, day: dt.date, now: dt.datetime) -> None:
        for did, sid in self.appeals.pop(day, []):
            try:
                appeal_dispute(self.store, subject_id=sid, dispute_id=did,
                               reason="the furnisher ignored my receipt", now=now)
            except Conflict:
                continue
            self.counts["appeals"] += 1
            on = day + dt.timedelta(days=int(self.rng.integers(1, 11)))
            self.appeal_decisions[on].append(did)
        yesterday = (day - dt.timedelta(days=1)).isoformat()
        with self.store.read() as conn:
            refused = conn.execute(select(decisions.c.id, decisions.c.subject_id).where(
                decisions.c.outcome == "deny", decisions.c.at >= yesterday,
                decisions.c.at < day.isoformat()).order_by(decisions.c.at, decisions.c.id)
            ).all()
        for d in refused:
            if self.rng.random() >= P_REVIEW:
                continue
            try:
                r = request_review(self.store, subject_id=d.subject_id, decision_id=d.id,
                                   reason="I was refused but I have paid", now=now)
            except (Conflict, NotFound):
                continue
            self.counts["reviews"] += 1
            self.review_decisions[r["id"]] = day + dt.timedelta(
                days=int(self.rng.integers(1, 6)))

    def tickets(self, day: dt.date, now: dt.datetime) -> None:
        self.gate.index.refresh()
        self.gate.today = day
        travellers = [self._person()[0] for _ in range(TICKETS_PER_DAY)]
        recent = (day - dt.timedelta(days=3)).isoformat()
        with self.store.read() as conn:
            listed = conn.execute(select(records.c.national_id, list_entries.c.since).join(
                list_entries, list_entries.c.record_id == records.c.id).where(
                list_entries.c.status == "active", records.c.national_id.is_not(None),
                list_entries.c.list.in_(("dishonest_judgment_debtors", "unruly_passengers"))
            ).order_by(list_entries.c.id)).all()
        newly = [r for r in listed if r.since >= recent]
        # one of the newly listed (the ticket counter is where they would learn of it), the
        # rest from everyone listed
        for pool, k in ((newly, 1), (listed, LISTED_TRAVELLERS - 1)):
            if pool:
                picks = self.rng.choice(len(pool), size=min(k, len(pool)), replace=False)
                travellers += [pool[int(i)].national_id for i in picks]
        for nid in travellers:
            decision = self.gate.decide(service="air", national_id=nid, gate=self.airline)
            self.counts[f"tickets {decision.decision}"] += 1
        self.gate.flush()


# --- measuring, from the database ------------------------------------------------------------

def _timelines(conn: Any) -> dict[int, list[tuple[int, str, dict[str, Any]]]]:
    """entry id → its events ``(seq, at, payload)`` in ledger order; ``payload["_type"]`` is
    the event type."""
    out: dict[int, list[tuple[int, str, dict[str, Any]]]] = defaultdict(list)
    for ev in conn.execute(select(events.c.seq, events.c.type, events.c.at, events.c.payload)
                           .where(events.c.type.in_(_ENTRY_EVENTS)).order_by(events.c.seq)):
        payload = json.loads(ev.payload) | {"_type": ev.type}
        out[int(payload["entry_id"])].append((ev.seq, ev.at, payload))
    return out


def measure_notices(conn: Any, policy: Policy, end: dt.datetime) -> dict[str, Tally]:
    """Per notice kind: served within ``notice_within_hours`` of the event (or refusal)."""
    within = dt.timedelta(hours=policy.due_process.notice_within_hours)
    served = {r.ref: r.served_at for r in conn.execute(
        select(notices.c.ref, notices.c.served_at).where(notices.c.kind != "sign_in_code"))}
    kind_of_seq = dict(conn.execute(select(records.c.seq, records.c.kind)).all())
    adverse = {k for k, s in policy.catalogue.items() if s.adverse}
    tallies: dict[str, Tally] = defaultdict(Tally)

    def judge(what: str, ref: str, at: str) -> None:
        due = dt.datetime.fromisoformat(at) + within
        when = served.get(ref)
        tally = tallies[what]
        if when is not None and dt.datetime.fromisoformat(when) <= due:
            tally.ok()
        elif due > end:
            tally.pending += 1
        else:
            tally.fail("served late" if when else "never served")

    for ev in conn.execute(select(events.c.seq, events.c.at, events.c.type, events.c.payload)
                           .where(events.c.type.in_(sorted(OWED)),
                                  events.c.subject_id.is_not(None))):
        if ev.type == "record.accepted" and kind_of_seq.get(ev.seq) not in adverse:
            continue
        if ev.type == "entry.listed" and json.loads(ev.payload).get("status") != "active":
            continue  # listed and ended in one step: the end is what is told
        judge(OWED[ev.type], f"event:{ev.seq}", ev.at)
    for d in conn.execute(select(decisions.c.id, decisions.c.at).where(
            decisions.c.outcome == "deny", decisions.c.subject_id.is_not(None))):
        judge("refusal", f"decision:{d.id}", d.at)
    return dict(tallies)


def measure_refusals_after_notice(conn: Any, timelines: dict[int, Any]) -> Tally:
    """Each refusal came after the listing notice of every entry it names was served."""
    served = {r.ref: r.served_at for r in conn.execute(
        select(notices.c.ref, notices.c.served_at).where(notices.c.kind == "listing"))}
    tally = Tally()
    for d in conn.execute(select(decisions.c.at, decisions.c.reasons).where(
            decisions.c.outcome == "deny")):
        ok = True
        for reason in json.loads(d.reasons):
            entry_id = reason.get("entry_id")
            listed = [seq for seq, at, p in timelines.get(entry_id, ())
                      if at <= d.at and p["_type"] == "entry.listed"
                      and p["status"] == "active"]
            if not listed:
                continue  # an external list's entry: no listing event
            when = served.get(f"event:{listed[-1]}")
            ok = ok and when is not None and when <= d.at
        if ok:
            tally.ok()
        else:
            tally.fail("refused before the listing notice was served")
    return tally


def measure_removals(conn: Any, policy: Policy, timelines: dict[int, Any]) -> Tally:
    """Each full performance ended the listing(s) of its case active on arrival, that day."""
    tally = Tally()
    entry_of = {(r.list, r.subject_id, r.key): r.id for r in conn.execute(
        select(list_entries.c.id, list_entries.c.list, list_entries.c.subject_id,
               list_entries.c.key))}
    arrived = dict(conn.execute(select(events.c.seq, events.c.at).where(
        events.c.type == "record.accepted")).all())
    for name, spec in policy.lists.items():
        for rule in spec.removal:
            for r in conn.execute(select(records).where(records.c.kind == rule.kind,
                                                        records.c.subject_id.is_not(None))):
                payload = json.loads(r.payload)
                if not payload:
                    tally.extra["retired before measured"] += 1
                    continue
                if any(payload.get(k) != v for k, v in rule.when.items()):
                    continue
                key = r.furnisher_record_id if rule.key == "furnisher_record_id" \
                    else str(payload.get(rule.key))
                entry_id = entry_of.get((name, r.subject_id, key))
                history = timelines.get(entry_id, []) if entry_id is not None else []
                before = [p for seq, _at, p in history if seq < r.seq]
                if not before or before[-1]["status"] != "active" \
                        or not before[-1]["since"] <= r.occurred_at < before[-1]["until"]:
                    tally.extra["no active listing to remove"] += 1
                    continue
                after = [(at, p) for seq, at, p in history
                         if seq > r.seq and p["status"] != "active"]
                if not after or after[0][1]["status"] != "removed":
                    tally.fail("listing not removed")
                elif day_of(after[0][0]) != day_of(arrived[r.seq]):
                    tally.fail("removed on a later day")
                else:
                    tally.ok()
    return tally


def measure_disputes(conn: Any, end_day: dt.date) -> Tally:
    """Each dispute answered by ``due_on`` or suppressed the day after; its record then lists
    nobody when suppressed or deleted."""
    tally = Tally()
    first: dict[tuple[str, int], dt.date] = {}
    for ev in conn.execute(select(events.c.type, events.c.at, events.c.payload).where(
            events.c.type.in_(("dispute.answered", "dispute.suppressed")))
            .order_by(events.c.seq)):
        first.setdefault((ev.type, int(json.loads(ev.payload)["dispute_id"])), day_of(ev.at))
    status = dict(conn.execute(select(records.c.id, records.c.status)).all())
    entry_status = dict(conn.execute(select(list_entries.c.id, list_entries.c.status)).all())
    still_listing = set(conn.execute(select(list_entries.c.record_id).where(
        list_entries.c.status.in_(("active", "suspended")))).scalars())
    for d in conn.execute(select(disputes)):
        due = dt.date.fromisoformat(d.due_on)
        answered = first.get(("dispute.answered", d.id))
        suppressed = first.get(("dispute.suppressed", d.id))
        if answered is not None:
            tally.extra["answered"] += 1
            if answered > due:
                tally.fail("answered after the deadline")
                continue
        elif suppressed is not None:
            tally.extra["suppressed"] += 1
            if suppressed != due + dt.timedelta(days=1):
                tally.fail("suppressed late" if suppressed > due else "suppressed early")
                continue
        elif due < end_day:
            tally.fail("still open past the deadline")
            continue
        else:
            tally.pending += 1
            continue
        if d.status in ("suppressed", "deleted", "overturned"):
            if d.entry_id is not None:  # a disputed listing ends, whatever records keep it
                if entry_status.get(d.entry_id) in ("active", "suspended"):
                    tally.fail("listing still in force")
                    continue
            elif status.get(d.record_id) not in ("suppressed", "deleted", "retired"):
                tally.fail("record still active")
                continue
            elif d.record_id in still_listing:
                tally.fail("record still lists the subject")
                continue
        tally.ok()
    return tally


def measure_retention(conn: Any, policy: Policy, end_day: dt.date) -> Tally:
    """Each record past retention retired on the day due (or the day it arrived, if later),
    payload and identifiers erased, its ledger payload tombstoned."""
    tally = Tally()
    retired: dict[int, dt.date] = {}
    times: Counter[int] = Counter()
    for ev in conn.execute(select(events.c.at, events.c.payload).where(
            events.c.type == "record.retired").order_by(events.c.seq)):
        record_id = int(json.loads(ev.payload)["record_id"])
        retired.setdefault(record_id, day_of(ev.at))
        times[record_id] += 1
    arrived = {seq: day_of(at) for seq, at in conn.execute(select(events.c.seq, events.c.at)
                                                           .where(events.c.type ==
                                                                  "record.accepted"))}
    tombstoned = set(conn.execute(select(events.c.seq).where(
        events.c.type == "record.accepted", events.c.payload.like('{"_tombstone"%'))).scalars())
    for r in conn.execute(select(records.c.id, records.c.kind, records.c.occurred_at,
                                 records.c.status, records.c.seq, records.c.payload,
                                 records.c.national_id, records.c.phone, records.c.name)):
        spec = policy.catalogue.get(r.kind)
        if spec is None:
            continue
        due = max(dt.date.fromisoformat(r.occurred_at) + dt.timedelta(days=spec.retention_days
                                                                      + 1), arrived[r.seq])
        on = retired.get(r.id)
        if due > end_day:
            if on is not None:
                tally.fail("retired before its retention ended")
            else:
                tally.pending += 1
        elif on is None or r.status != "retired":
            tally.fail("not retired")
        elif on != due:
            tally.fail("retired late" if on > due else "retired early")
        elif r.payload != "{}" or r.national_id or r.phone or r.name \
                or r.seq not in tombstoned:
            tally.fail("retired but not erased")
        elif times[r.id] > 1:
            tally.fail("retired more than once (its status changed after retirement)")
        else:
            tally.ok()
    return tally


def measure_expiry(timelines: dict[int, Any], end_day: dt.date) -> Tally:
    """Each listing expires on its ``until`` date (or the day it was listed, when the record
    came in already past it)."""
    tally = Tally()
    for history in timelines.values():
        first = day_of(history[0][1])
        for i, (_seq, _at, p) in enumerate(history):
            if p["status"] != "active" or not p.get("until"):
                continue
            if i + 1 < len(history) and history[i + 1][2]["status"] == "active":
                continue  # superseded by an update: judged on that one
            until = max(dt.date.fromisoformat(p["until"]), first)
            end = history[i + 1] if i + 1 < len(history) else None
            if end is not None and end[2]["status"] != "expired" \
                    and day_of(end[1]) <= until:
                continue  # ended otherwise, before its time ran out
            if until > end_day:
                if end is not None and end[2]["status"] == "expired":
                    tally.fail("expired early")
                else:
                    tally.pending += 1
            elif end is None or end[2]["status"] != "expired":
                tally.fail("still active after its until date")
            elif day_of(end[1]) != until:
                tally.fail("expired late" if day_of(end[1]) > until else "expired early")
            else:
                tally.ok()
    return tally


def measure(store: Store, policy: Policy, world: World) -> dict[str, Tally]:
    end_day = world.end
    end = dt.datetime.combine(end_day + dt.timedelta(days=1), dt.time(0), tzinfo=LOCAL)
    hours = policy.due_process.notice_within_hours
    out: dict[str, Tally] = {}
    with store.read() as conn:
        timelines = _timelines(conn)
        for what, tally in sorted(measure_notices(conn, policy, end).items()):
            out[f"notice within {hours} h: {what}"] = tally
        out["listing notice served before any refusal"] = measure_refusals_after_notice(
            conn, timelines)
        out["removal on the day a full performance arrives"] = measure_removals(
            conn, policy, timelines)
        out["dispute answered by due_on or suppressed the day after"] = measure_disputes(
            conn, end_day)
        out["retention: retired on the day due, erased, tombstoned"] = measure_retention(
            conn, policy, end_day)
        out["listing expires on its until date"] = measure_expiry(timelines, end_day)
    ledger = Tally()
    for day, ok, reason in world.verifies:
        if ok:
            ledger.ok()
        else:
            ledger.fail(f"{day}: {reason}")
    out["ledger verifies after tombstones"] = ledger
    return out


def report(results: dict[str, Tally], world: World, timing: dict[str, float]) -> None:
    width = max(len(k) for k in results) + 2
    print(f"{'promise':<{width}}{'kept':>8}{'broken':>8}{'pending':>9}")
    for name, t in results.items():
        print(f"{name:<{width}}{t.kept:>8,}{t.broken:>8,}{t.pending:>9,}")
        for why, n in t.why.most_common():
            print(f"{'':<4}broken: {why}: {n:,}")
        if t.extra:
            print(f"{'':<4}" + ", ".join(f"{k} {v:,}" for k, v in sorted(t.extra.items())))
    broken = sum(t.broken for t in results.values())
    print(f"\nbroken promises: {broken:,} (target 0)")
    print("run: " + ", ".join(f"{k} {v:,}" for k, v in sorted(world.counts.items())))
    print("clocks: " + ", ".join(f"{k} {v:,}" for k, v in world.ticks.as_dict().items()))
    steps = ", ".join(f"{k} {v:.1f}" for k, v in sorted(world.step_s.items()))
    print(f"time: setup {timing['setup_s']:.1f} s, {world.days} days {timing['year_s']:.1f} s "
          f"({timing['year_s'] / world.days * 1000:.0f} ms a day; steps s: {steps}), "
          f"measure {timing['measure_s']:.1f} s")


def markdown(results: dict[str, Tally]) -> str:
    """The promises as the Markdown table ``bench/README.md`` quotes (``--markdown``): one row
    per promise, its informational counts in parentheses; ``tests/test_bench_tables.py``
    compares the quoted tables with a fresh run."""
    lines = ["| promise | kept | broken | pending |", "|---|---|---|---|"]
    for name, t in results.items():
        extra = ", ".join(f"{k} {v:,}" for k, v in sorted(t.extra.items()))
        label = f"{name} ({extra})" if extra else name
        lines.append(f"| {label} | {t.kept:,} | {t.broken:,} | {t.pending:,} |")
    return "\n".join(lines)


def make_registry(folder: Path, url: str) -> Registry:
    """A registry on ``url`` with a copy of the default policy (retention shortened as in
    :data:`SHORT_RETENTION_DAYS`) and its notices in ``folder``, schema created."""
    policy = yaml.safe_load(Settings().policy_path.read_text(encoding="utf-8"))
    for kind, days in SHORT_RETENTION_DAYS.items():
        policy["catalogue"][kind]["retention_days"] = days
    (folder / "policy.yaml").write_text(yaml.safe_dump(policy, allow_unicode=True),
                                        encoding="utf-8")
    reg = Registry(Settings(database_url=url, notices_dir=folder / "notices",
                            policy_path=folder / "policy.yaml"))
    reg.ensure_schema()
    return reg


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=3000, help="simulated population (3000)")
    ap.add_argument("--days", type=int, default=365, help="simulated days (365)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2027, 1, 1),
                    help="first simulated day (2027-01-01)")
    ap.add_argument("--database-url", default=None,
                    help="PostgreSQL URL: run in a fresh schema, dropped afterwards")
    ap.add_argument("--skip-clock-days", type=int, default=0,
                    help="control run: no tick for N days from a third of the year (must "
                         "break promises)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--markdown", action="store_true",
                    help="print the promises as the Markdown table bench/README.md quotes")
    args = ap.parse_args(argv)
    if args.days < 2 or args.people < 100:
        ap.error("--days must be at least 2 and --people at least 100")
    with tempfile.TemporaryDirectory(prefix="sc-clocks-") as tmp, \
            scratch_database(args.database_url, Path(tmp), prefix="bench_") as url:
        folder = Path(tmp)
        reg = make_registry(folder, url)
        world = World(reg, folder, people=args.people, seed=args.seed, start=args.start,
                      days=args.days, skip_from=args.days // 3, skip_days=args.skip_clock_days)
        say(f"{args.people:,} people, {args.days} days from {args.start} on "
            f"{reg.store.dialect}" + (f"; control: no clocks for {args.skip_clock_days} days "
                                      f"from {min(world.skip)}" if world.skip else ""))
        t0 = time.perf_counter()
        world.run()
        year_s = time.perf_counter() - t0
        setup_s = world.step_s.pop("setup")
        t1 = time.perf_counter()
        results = measure(reg.store, reg.policy, world)
        timing = {"setup_s": setup_s, "year_s": year_s - setup_s,
                  "measure_s": time.perf_counter() - t1, "total_s": time.perf_counter() - t0}
        dialect = reg.store.dialect
        reg.close()
    if args.markdown:
        print(markdown(results))
    elif args.json:
        print(json.dumps({"people": args.people, "days": args.days, "start": str(args.start),
                          "dialect": dialect, "skip_clock_days": args.skip_clock_days,
                          "promises": {k: v.as_dict() for k, v in results.items()},
                          "counts": dict(world.counts), "clocks": world.ticks.as_dict(),
                          "steps_s": dict(world.step_s), **timing}, indent=2))
    else:
        report(results, world, timing)
    return 1 if any(t.broken for t in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
