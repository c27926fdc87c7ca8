"""The due-process overlay of evaluation: what repairs, disputes and unconfirmed links make of
an entry the rules imply, before :mod:`socialcredit.policy.evaluate` writes it or
:mod:`socialcredit.reports.whatif` shows it.

:func:`load_due_process` reads the state for some subjects in one go (granted repairs and
due-process outcomes, open disputes, links not confirmed by an operator);
:func:`apply_due_process` applies it to one desired entry. Neither writes anything.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, select, true

from socialcredit.policy.model import Policy
from socialcredit.policy.rules import DesiredEntry
from socialcredit.store.tables import (
    disputes,
    furnishers,
    links,
    list_entries,
    records,
    repairs,
)

__all__ = ["DueProcessState", "apply_due_process", "load_due_process"]

#: Repair conditions (an application); other rows of ``repairs`` end an entry for a due
#: process outcome (``dispute_suppressed``, ``review_overturned`` ...).
_REPAIRS = ("performance", "settlement", "consent")


@dataclass
class DueProcessState:
    """What due process says about some subjects' entries, read from the registry: granted
    repairs and due-process outcomes (entry key → condition, day), open disputes (records and
    entry keys), and records resting on a link not confirmed by an operator (record id → link
    row; ``(subject, kind, furnisher)`` → those record ids, for rating lists). An entry key is
    ``(list, subject_id, key)``."""

    granted: dict[tuple[str, int, str], tuple[str, str | None]]
    disputed_records: set[int]
    disputed_entries: set[tuple[str, int, str]]
    unconfirmed: dict[int, Any]
    by_source: dict[tuple[int, str, str], list[int]]


def load_due_process(conn: Connection, policy: Policy, subject_ids: list[int] | None,
                     ) -> DueProcessState:
    """Read :class:`DueProcessState` for ``subject_ids`` (None: every subject)."""
    def of(col: Any) -> Any:
        return col.in_(subject_ids) if subject_ids is not None else true()

    granted = {(r.list, r.subject_id, r.key): (r.condition, r.decided_on)
               for r in conn.execute(
                   select(list_entries.c.list, list_entries.c.subject_id, list_entries.c.key,
                          repairs.c.condition, repairs.c.decided_on)
                   .join(repairs, repairs.c.entry_id == list_entries.c.id)
                   .where(of(repairs.c.subject_id), repairs.c.status == "granted"))}
    disputed_records: set[int] = set()
    disputed_entries: set[tuple[str, int, str]] = set()
    if policy.due_process.suspend_listing_during_dispute:
        for r in conn.execute(
                select(disputes.c.record_id, list_entries.c.list, list_entries.c.subject_id,
                       list_entries.c.key)
                .outerjoin(list_entries, list_entries.c.id == disputes.c.entry_id)
                .where(of(disputes.c.subject_id), disputes.c.status == "open")):
            if r.record_id is not None:
                disputed_records.add(r.record_id)
            if r.list is not None:
                disputed_entries.add((r.list, r.subject_id, r.key))
    unconfirmed = {r.record_id: r for r in conn.execute(select(links).where(
        of(links.c.subject_id), links.c.status.in_(("pending", "confirmed")),
        links.c.rule != "manual"))}
    by_source: dict[tuple[int, str, str], list[int]] = defaultdict(list)
    if unconfirmed:
        # a rating entry rests on every rating of its platform, not only on the one that
        # crossed the line
        for rid, sid, kind, source in conn.execute(
                select(records.c.id, records.c.subject_id, records.c.kind, furnishers.c.name)
                .join(furnishers, furnishers.c.id == records.c.furnisher_id)
                .join(links, links.c.record_id == records.c.id)
                .where(of(links.c.subject_id), links.c.status.in_(("pending", "confirmed")),
                       links.c.rule != "manual")):
            by_source[(sid, kind, source)].append(rid)
    return DueProcessState(granted, disputed_records, disputed_entries, unconfirmed, by_source)


def apply_due_process(policy: Policy, state: DueProcessState, d: DesiredEntry,
                      ) -> tuple[DesiredEntry, list[int]]:
    """The entry as due process leaves it, and the unconfirmed records it rests on.

    * A granted repair or due-process outcome ends an active entry on the day of the grant
      (reason ``repair:<condition>`` for an application, else the outcome that ended it).
    * Under ``due_process.suspend_listing_during_dispute``, an active entry whose record or
      entry is disputed is ``suspended``.
    * An active or warned entry resting on a record not linked by its own checksum-valid ID
      nor confirmed by an operator is ``pending_review`` (DESIGN §3.2: "a list entry that
      triggers sanctions needs a checksum-valid identifier or a human-confirmed link").
    """
    key = (d.list, d.subject_id, d.key)
    if d.status == "active" and key in state.granted:
        condition, day = state.granted[key]
        d = replace(d, status="removed", ended_on=day,
                    end_reason=f"repair:{condition}" if condition in _REPAIRS else condition)
    if d.status == "active" and (d.record_id in state.disputed_records
                                 or key in state.disputed_entries):
        d = replace(d, status="suspended")
    resting: list[int] = []
    if d.status in ("active", "warned"):
        resting = [d.record_id] if d.record_id in state.unconfirmed else []
        rule = policy.lists[d.list].rating
        if rule is not None and d.platform is not None:
            resting += state.by_source.get((d.subject_id, rule.kind, d.platform), [])
        if resting:
            d = replace(d, status="pending_review")
    return d, list(dict.fromkeys(resting))
