"""One tick of the due-process clocks: what ``socialcredit clocks run`` does, and what
``serve`` does every ``settings.clocks_every_seconds``.

Order: suppress the records of disputes past their deadline (:func:`run_deadlines`), grant
the repair applications whose evidence record arrived (:func:`settle_repairs`); once per day
(the policy's local day it last ran is kept in ``cursors`` under ``retention``) end the
entries that reach their ``until``, start those whose warning period is over and evaluate the
records dated since the last run (:func:`evaluate_due`) and retire
the records past retention (:func:`run_retention`); then project the notices owed
(:func:`project_notices`) and serve them (:func:`deliver_notices`); last, given the registry's
signing key, sign a tree head over the ledger (:func:`socialcredit.store.tree_head.sign_latest`).
Each step is idempotent, so a tick may run again or be interrupted at any point.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, select, update

from socialcredit.disclosure.delivery import Adapter, deliver_notices
from socialcredit.disclosure.disputes import run_deadlines
from socialcredit.disclosure.notices import project_notices
from socialcredit.disclosure.repairs import settle_repairs
from socialcredit.disclosure.retention import run_retention
from socialcredit.policy.jurisdiction import local_today
from socialcredit.policy.model import Policy
from socialcredit.policy.sweeps import evaluate_due
from socialcredit.store import Store
from socialcredit.store.tables import cursors
from socialcredit.store.tree_head import sign_latest

__all__ = ["TickResult", "tick"]


@dataclass
class TickResult:
    """Counts of one tick: disputes suppressed, repairs granted automatically, entries
    expired and listed by the calendar, records retired, notices added, served and failed."""

    suppressed: int = 0
    repaired: int = 0
    expired: int = 0
    listed: int = 0
    retired: int = 0
    notices_added: int = 0
    served: int = 0
    failed: int = 0
    tree_size: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def tick(store: Store, policy: Policy, adapter: Adapter, *, now: dt.datetime,
         signer: Ed25519PrivateKey | None = None) -> TickResult:
    """Run the clocks once at ``now`` (UTC); the day is the policy's local day of ``now``.

    Raises:
        StoreUnavailable: the database cannot be reached (nothing is lost: run again).
    """
    result = TickResult()
    result.suppressed = run_deadlines(store, policy, now=now)
    result.repaired = settle_repairs(store, policy, now=now)
    today = local_today(policy.jurisdiction, now)
    day = today.toordinal()
    with store.read() as conn:
        last = conn.execute(select(cursors.c.seq).where(cursors.c.name == "retention")).scalar()
    if last is None or last < day:
        # records dated since the last run (on a first run: today's) were not yet evaluated
        # if they arrived before their own day began for the registry
        after = today - dt.timedelta(days=1) if last is None else dt.date.fromordinal(last)
        due = evaluate_due(store, policy, today, after=after)
        result.expired = sum(due.expired.values())
        result.listed = sum(due.listed.values())
        result.retired = run_retention(store, policy, today=today)
        with store.batch() as b:
            if last is None:
                b.conn.execute(insert(cursors).values(name="retention", seq=day))
            else:
                b.conn.execute(update(cursors).where(cursors.c.name == "retention").values(
                    seq=day))
    result.notices_added = project_notices(store, policy, now=now)
    served = deliver_notices(store, adapter, now=now)
    result.served, result.failed = served.served, served.failed
    if signer is not None:
        head = sign_latest(store, signer, now=now)
        result.tree_size = 0 if head is None else int(head["tree_size"])
    return result
