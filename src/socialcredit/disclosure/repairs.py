"""Repair: an application to end a listing early because a removal condition is met.

Conditions (SPC Provisions on the List of Dishonest Judgment Debtors 2017, Art. 10): full
``performance`` of the obligation, a performed ``settlement``, the creditor's written
``consent``. The subject applies with a statement of the evidence (:func:`apply_for_repair`).
Two ways to a decision:

- automatically, when the evidence arrives as a record (``judgment_performance`` with
  ``full``, ``settlement_performed``, ``creditor_consent`` for the same case): the policy's
  removal rule ends the entry in the same transaction, and the next clock tick grants every
  open application on an entry so ended, and closes those on entries that ended otherwise
  (:func:`settle_repairs`);
- by an operator (:func:`decide_repair`): ``granted`` ends the entry on the day of the
  decision (evaluation honours granted repairs: ``entry.removed`` with reason
  ``repair:<condition>``), ``refused`` leaves it.

Each step is a ledger event (``repair.requested``, ``repair.decided``) and is notified.

Severity tiers (NDRC Order No. 36, where the policy has a ``repair`` section): an application,
and a grant, before the entry's tier allows repair (its shortest publication period from
``since``: :func:`socialcredit.disclosure.entry_terms.repair_terms`) is refused with
:class:`~socialcredit.errors.RepairTooEarly`, naming the day repair becomes possible; an
application is owed a decision by ``decide_by`` (its day plus ``repair.decision_days``). The
court's own removal records (SPC 2017, Art. 10) are not repairs and end an entry at any time.

A representative's restriction (an entry of a list with ``represents``) is never repaired on
its own: it follows the organisation's entry (SPC 2015, Art. 3, para. 2 restricts the
representative *because* the unit is listed), so an application or a grant for it is refused
with :class:`~socialcredit.errors.Conflict` (``details.reason``: ``follows_organisation``,
naming the organisation's entry and the day its own repair may be granted). Repairing the
organisation's entry ends the representatives' restrictions with it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, select, update

from socialcredit.disclosure.entry_terms import repair_terms
from socialcredit.disclosure.notices import iso
from socialcredit.errors import Conflict, InputError, NotFound, RepairTooEarly
from socialcredit.freetext import clean_text
from socialcredit.policy.evaluate import evaluate_subjects
from socialcredit.policy.jurisdiction import local_today
from socialcredit.policy.model import Policy
from socialcredit.policy.representatives import represented_by
from socialcredit.store import Store
from socialcredit.store.ledger import Batch
from socialcredit.store.tables import list_entries, repairs

__all__ = ["CONDITIONS", "apply_for_repair", "decide_by", "decide_repair", "end_entry",
           "open_repairs", "settle_repairs"]

CONDITIONS = ("performance", "settlement", "consent")
_FIELDS = ("id", "entry_id", "condition", "evidence", "opened_at", "status", "decided_at",
           "decided_by", "note")


def _as_dict(row: Any) -> dict[str, Any]:
    return {k: getattr(row, k) for k in _FIELDS}


def _not_yet(policy: Policy, entry: Any, today: dt.date) -> None:
    """Raise :class:`RepairTooEarly` when ``entry``'s tier allows no repair on ``today``."""
    terms = repair_terms(policy, entry.list, entry.ground, entry.since)
    if terms is not None and today.isoformat() < terms["repair_from"]:
        raise RepairTooEarly(
            f"entry {entry.id} is a {terms['tier']} case: repair may be granted from "
            f"{terms['repair_from']}, once its shortest publication period of "
            f"{terms['min_months']} months has run ({terms['legal_basis']})",
            details={"entry_id": entry.id, "tier": terms["tier"],
                     "repair_from": terms["repair_from"]})


def _not_alone(conn: Connection, policy: Policy, entry: Any, today: dt.date) -> None:
    """Raise :class:`Conflict` when ``entry`` is a representative's restriction (module
    docstring)."""
    spec = policy.lists.get(entry.list)
    if spec is None or spec.represents is None:
        return
    org, case = represented_by(entry.key)
    source = conn.execute(select(list_entries).where(
        list_entries.c.list == spec.represents.list, list_entries.c.subject_id == org,
        list_entries.c.key == case)).first()
    terms = None if source is None else repair_terms(policy, source.list, source.ground,
                                                     source.since)
    when = (f"; the enterprise's entry may be repaired from {terms['repair_from']} "
            f"({terms['tier']} case)" if terms is not None else "")
    raise Conflict(
        f"entry {entry.id} restricts you as the representative of an enterprise listed in "
        f"case {case}: it is not repaired on its own and ends with the enterprise's entry "
        f"{'' if source is None else source.id}{when}",
        details={"reason": "follows_organisation", "entry_id": entry.id,
                 "organisation_entry_id": None if source is None else int(source.id),
                 "repair_from": None if terms is None else terms["repair_from"],
                 "today": today.isoformat()})


def decide_by(policy: Policy, opened_at: str) -> str | None:
    """The day a decision on an application opened at ``opened_at`` is owed, or None."""
    if policy.repair is None:
        return None
    opened = local_today(policy.jurisdiction, dt.datetime.fromisoformat(opened_at))
    return (opened + dt.timedelta(days=policy.repair.decision_days)).isoformat()


def apply_for_repair(store: Store, *, subject_id: int, entry_id: int, condition: str,
                     evidence: str, now: dt.datetime,
                     policy: Policy | None = None) -> dict[str, Any]:
    """Apply to end one of the subject's active entries early. With ``policy`` (the HTTP and
    page routes always pass it) the entry's severity tier is checked and the answer has
    ``decide_by``.

    Raises:
        InputError: unknown condition; empty or over-long evidence. RepairTooEarly: before
            the tier's shortest publication period has run. NotFound: no such entry in the
            subject's file. Conflict: the entry is not active, already has an open
            application, or is a representative's restriction (with ``policy``; module
            docstring).
    """
    if condition not in CONDITIONS:
        raise InputError(f"condition must be one of {', '.join(CONDITIONS)}")
    text = clean_text(evidence, "statement of the evidence (receipt, settlement, letter of "
                      "the creditor)")
    with store.batch() as b:
        entry = b.conn.execute(select(list_entries).where(list_entries.c.id == entry_id)).first()
        if entry is None or entry.subject_id != subject_id:
            b.emit("access.refused", {"what": "repair.apply", "reason":
                                      "not in the subject's file", "entry_id": entry_id},
                   subject_id=subject_id)
            missing = True
        else:
            missing = False
            if entry.status not in ("active", "suspended"):
                raise Conflict(f"entry {entry_id} is {entry.status}: nothing to repair")
            if policy is not None:
                _not_alone(b.conn, policy, entry, local_today(policy.jurisdiction, now))
                _not_yet(policy, entry, local_today(policy.jurisdiction, now))
            busy = b.conn.execute(select(repairs.c.id).where(
                repairs.c.entry_id == entry_id, repairs.c.status == "open")).scalar()
            if busy is not None:
                raise Conflict(f"application {busy} for this entry is already open",
                               details={"repair_id": int(busy)})
            rid = b.next_id(repairs)
            seq = b.emit("repair.requested", {"repair_id": rid, "entry_id": entry_id,
                                              "condition": condition, "evidence": text,
                                              "opened_at": iso(now)}, subject_id=subject_id)
            row = {"id": rid, "subject_id": subject_id, "entry_id": entry_id,
                   "condition": condition, "evidence": text, "opened_at": iso(now),
                   "status": "open", "decided_at": None, "decided_on": None,
                   "decided_by": None, "note": None, "seq": seq}
            b.add(repairs, row)
    if missing:
        raise NotFound(f"there is no entry {entry_id} in your file")
    out = {k: row[k] for k in _FIELDS}
    if policy is not None:
        out["decide_by"] = decide_by(policy, iso(now))
    return out


def end_entry(b: Batch, *, subject_id: int, entry_id: int, condition: str, on: dt.date,
              note: str) -> None:
    """Record inside ``b`` that an entry ends on ``on`` for ``condition`` (an upheld dispute,
    an overturned review): a granted row in ``repairs``, which evaluation honours whatever
    records keep the entry (end reason ``condition``). The caller re-evaluates."""
    rid = b.next_id(repairs)
    opened = iso(dt.datetime.combine(on, dt.time(), tzinfo=dt.UTC))
    seq = b.emit("repair.recorded", {"repair_id": rid, "entry_id": entry_id,
                                     "condition": condition[:24], "on": on.isoformat(),
                                     "opened_at": opened, "note": note},
                 subject_id=subject_id)
    b.add(repairs, {"id": rid, "subject_id": subject_id, "entry_id": entry_id,
                    "condition": condition[:24], "evidence": note, "opened_at": opened,
                    "status": "granted", "decided_at": None, "decided_on": on.isoformat(),
                    "decided_by": "due process", "note": note, "seq": seq})
    b.flush()


def open_repairs(store: Store) -> list[dict[str, Any]]:
    """The operator's queue, oldest first."""
    with store.read() as conn:
        rows = conn.execute(select(repairs).where(repairs.c.status == "open")
                            .order_by(repairs.c.id)).all()
    return [_as_dict(r) for r in rows]


def decide_repair(store: Store, policy: Policy, *, operator: str, repair_id: int,
                  outcome: str, note: str = "", now: dt.datetime) -> dict[str, Any]:
    """``granted`` (the entry ends today, reason ``repair:<condition>``: publication,
    sharing and sanctions end together, NDRC Order No. 36, Art. 3) or ``refused``.

    Raises:
        InputError: unknown outcome. RepairTooEarly: a grant before the entry's tier allows
            it. NotFound: no such application. Conflict: decided, or a representative's
            restriction (module docstring).
    """
    if outcome not in ("granted", "refused"):
        raise InputError("outcome must be granted or refused")
    today = local_today(policy.jurisdiction, now)
    with store.batch(policy.version_hash) as b:
        row = b.conn.execute(select(repairs).where(repairs.c.id == repair_id)).first()
        if row is None:
            raise NotFound(f"there is no repair application {repair_id}")
        if row.status != "open":
            raise Conflict(f"repair application {repair_id} was already {row.status} by "
                           f"{row.decided_by} at {row.decided_at}",
                           details={"status": row.status, "decided_by": row.decided_by,
                                    "decided_at": row.decided_at})
        if outcome == "granted":
            entry = b.conn.execute(select(list_entries).where(
                list_entries.c.id == row.entry_id)).first()
            if entry is not None:
                _not_alone(b.conn, policy, entry, today)
                _not_yet(policy, entry, today)
        b.emit("repair.decided", {"repair_id": repair_id, "entry_id": row.entry_id,
                                  "outcome": outcome, "note": note[:2000],
                                  "operator": operator, "decided_at": iso(now),
                                  "decided_on": today.isoformat()},
               subject_id=row.subject_id)
        b.conn.execute(update(repairs).where(repairs.c.id == repair_id).values(
            status=outcome, decided_at=iso(now), decided_on=today.isoformat(),
            decided_by=operator, note=note[:2000] or None))
        if outcome == "granted":
            evaluate_subjects(b, policy, [row.subject_id], today)
        out = b.conn.execute(select(repairs).where(repairs.c.id == repair_id)).one()
    return _as_dict(out)


#: The end reason of the removal rule that proves each condition (policy removal rules).
_PROOF = {"performance": "performed", "settlement": "settled", "consent": "creditor_consent"}


def settle_repairs(store: Store, policy: Policy, *, now: dt.datetime) -> int:
    """Close every open application whose entry has ended: ``granted`` when the evidence
    record of its condition ended it (removal reason ``performed``, ``settled``,
    ``creditor_consent``), else ``closed`` with how it ended (expiry, a dispute, a review).
    Return how many were granted."""
    with store.read() as conn:
        done = conn.execute(
            select(repairs.c.id, list_entries.c.status, list_entries.c.end_reason)
            .join(list_entries, list_entries.c.id == repairs.c.entry_id)
            .where(repairs.c.status == "open",
                   list_entries.c.status.in_(("removed", "expired")))).all()
    granted, today = 0, local_today(policy.jurisdiction, now)
    for rid, status, end_reason in done:
        with store.batch(policy.version_hash) as b:
            row = b.conn.execute(select(repairs).where(repairs.c.id == rid)).one()
            if row.status != "open":
                continue
            proved = status == "removed" and end_reason == _PROOF.get(row.condition)
            outcome = "granted" if proved else "closed"
            note = ("the evidence record arrived" if proved else
                    f"the entry ended otherwise ({status}: {end_reason})")
            granted += proved
            b.emit("repair.decided", {"repair_id": rid, "entry_id": row.entry_id,
                                      "outcome": outcome, "note": note, "operator": None,
                                      "decided_at": iso(now),
                                      "decided_on": today.isoformat()},
                   subject_id=row.subject_id)
            b.conn.execute(update(repairs).where(repairs.c.id == rid).values(
                status=outcome, decided_at=iso(now), decided_on=today.isoformat(),
                decided_by="automatic", note=note))
    return granted
