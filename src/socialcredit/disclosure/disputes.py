"""Disputes on a clock: a subject contests a record or a list entry, its furnisher answers by
the deadline, an operator hears appeals.

States (table ``disputes``)::

    open ──answer verify──► verified ──appeal──► appealed ──decide──► upheld | overturned
      │  ──answer correct─► corrected ─appeal──┘
      │  ──answer delete──► deleted               (record status "deleted")
      └──deadline passed──► suppressed            (record status "suppressed")

The deadline is ``due_on`` = opening day + ``dispute_answer_days`` (the list's own for an
entry, else the policy's: 30 days, US FCRA §1681i(a)(1)(A); 15 for dishonest judgment debtors,
SPC Provisions 2017, Art. 12). A record is suppressed the day after ``due_on`` if unanswered
(:func:`run_deadlines`, run by ``socialcredit clocks run`` and inside ``serve``). A deleted,
suppressed or overturned record stops counting at once: the subject is re-evaluated in the
same transaction, so lists and gates follow within the gate's freshness target. While a
dispute is open, the entry it concerns is ``suspended`` if the policy says so.

Every step is a ledger event (``dispute.opened``, ``dispute.answered``, ``dispute.suppressed``,
``dispute.appealed``, ``dispute.decided``); refused attempts are ``access.refused`` events.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import and_, or_, select, update

from socialcredit.disclosure.notices import iso
from socialcredit.disclosure.repairs import end_entry
from socialcredit.errors import Conflict, InputError, NotFound, PermissionDenied
from socialcredit.freetext import clean_text
from socialcredit.policy.evaluate import evaluate_subjects
from socialcredit.policy.jurisdiction import local_today
from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.ledger import Batch
from socialcredit.store.tables import disputes, events, list_entries, records

__all__ = ["ANSWERS", "answer_dispute", "appeal_dispute", "decide_appeal", "dispute_dict",
           "disputes_of_furnisher", "open_dispute", "run_deadlines"]

ANSWERS = ("verify", "correct", "delete")
_ANSWERED = {"verify": "verified", "correct": "corrected", "delete": "deleted"}
MAX_TEXT = 2000


def _text(value: str, what: str) -> str:
    return clean_text(value, what, MAX_TEXT)


def dispute_dict(row: Any) -> dict[str, Any]:
    """A dispute as the API shows it: ``id, record_id, entry_id, status, reason, opened_at,
    due_on, answered_at, answer_note, appeal_reason, decided_by``."""
    return {k: getattr(row, k) for k in (
        "id", "record_id", "entry_id", "status", "reason", "opened_at", "due_on",
        "answered_at", "answer_note", "appeal_reason", "decided_by")}


def _refused(b: Batch, subject_id: int | None, what: str, reason: str, **details: Any) -> None:
    b.emit("access.refused", {"what": what, "reason": reason, **details}, subject_id=subject_id)


def _set_record(b: Batch, policy: Policy, record_id: int | None, subject_id: int, status: str,
                today: dt.date) -> None:
    """Give ``status`` to a record and to every later version of it (a correction must not
    bring back what a dispute took away), then re-evaluate the subject. A retired record
    stays retired (its payload is gone)."""
    seen: set[int] = set()
    while record_id is not None and record_id not in seen:
        seen.add(record_id)
        b.conn.execute(update(records).where(records.c.id == record_id,
                                             records.c.status != "retired").values(status=status))
        record_id = b.conn.execute(select(records.c.superseded_by).where(
            records.c.id == record_id)).scalar()
    evaluate_subjects(b, policy, [subject_id], today)


def _resolve(b: Batch, policy: Policy, row: Any, outcome: str, today: dt.date) -> None:
    """Carry a dispute's outcome against the subject (``suppressed``, ``deleted``,
    ``overturned``): a disputed entry ends whatever keeps it (a rating list has many records;
    a correction may follow), a disputed record and its later versions stop counting."""
    if row.entry_id is not None:
        end_entry(b, subject_id=row.subject_id, entry_id=row.entry_id,
                  condition=f"dispute_{outcome}", on=today,
                  note=f"dispute {row.id} {outcome}")
        if outcome == "deleted" and row.record_id is not None:  # the furnisher withdrew it
            _set_record(b, policy, row.record_id, row.subject_id, "deleted", today)
        else:
            evaluate_subjects(b, policy, [row.subject_id], today)
    else:
        _set_record(b, policy, row.record_id, row.subject_id,
                    "deleted" if outcome == "deleted" else "suppressed", today)


def open_dispute(store: Store, policy: Policy, *, subject_id: int, reason: str,
                 record_id: int | None = None, entry_id: int | None = None,
                 now: dt.datetime) -> dict[str, Any]:
    """Open a dispute of one of the subject's records or entries; return it.

    Raises:
        InputError: neither or both targets, an empty or over-long reason, an entry of an
            external list (contested with the list's own authority).
        NotFound: no such record or entry in this subject's file.
        Conflict: the same target already has a dispute in progress.
    """
    if (record_id is None) == (entry_id is None):
        raise InputError("dispute exactly one thing: give record_id or entry_id")
    text = _text(reason, "reason")
    today = local_today(policy.jurisdiction, now)
    days = policy.due_process.dispute_answer_days
    with store.batch(policy.version_hash) as b:
        furnisher_id: int | None
        if entry_id is not None:
            entry = b.conn.execute(select(list_entries).where(
                list_entries.c.id == entry_id)).first()
            if entry is None or entry.subject_id != subject_id:
                _refused(b, subject_id, "dispute.open", "not in the subject's file",
                         entry_id=entry_id)
                missing: NotFound | None = NotFound(f"there is no entry {entry_id} in your file")
            else:
                missing = None
                spec = policy.lists.get(entry.list)
                if spec is not None and spec.external:
                    raise InputError(
                        f"entry {entry_id} copies the external list {spec.title!r}: "
                        + " ".join((spec.how_to_contest or policy.how_to_contest).split()))
                if entry.status not in ("active", "warned", "suspended"):
                    raise Conflict(f"entry {entry_id} is {entry.status}: it refuses nothing "
                                   "any more, there is nothing to dispute")
                days = (spec.dispute_answer_days if spec and spec.dispute_answer_days
                        else days)
                record_id, furnisher_id = entry.record_id, entry.furnisher_id
        else:
            rec = b.conn.execute(select(records.c.subject_id, records.c.furnisher_id,
                                        records.c.status).where(
                records.c.id == record_id)).first()
            if rec is None or rec.subject_id != subject_id:
                _refused(b, subject_id, "dispute.open", "not in the subject's file",
                         record_id=record_id)
                missing = NotFound(f"there is no record {record_id} in your file")
            else:
                missing, furnisher_id = None, rec.furnisher_id
                if rec.status != "active":
                    raise Conflict(f"record {record_id} is {rec.status}: it counts for "
                                   "nothing any more, there is nothing to dispute")
                # the record behind a listing gets the listing's deadline, as its entry would
                lists = b.conn.execute(select(list_entries.c.list).where(
                    list_entries.c.record_id == record_id,
                    list_entries.c.status.in_(("active", "warned", "suspended")))).scalars()
                for n in lists:
                    own = policy.lists[n].dispute_answer_days if n in policy.lists else None
                    days = min(days, own) if own else days
        if missing is None:
            target = (or_(disputes.c.entry_id == entry_id,
                          and_(disputes.c.record_id == record_id, disputes.c.record_id.is_not(
                              None))) if entry_id is not None
                      else disputes.c.record_id == record_id)
            earlier = b.conn.execute(select(disputes.c.id, disputes.c.status, disputes.c.entry_id,
                                            disputes.c.answered_at).where(target)).all()
            for d in earlier:
                if d.status in ("open", "appealed"):
                    raise Conflict(f"dispute {d.id} about this is already in progress",
                                   details={"dispute_id": int(d.id)})
                if d.status in ("verified", "upheld") and (d.entry_id == entry_id
                                                           or entry_id is None):
                    raise Conflict(
                        f"dispute {d.id} about this was answered ({d.status}); appeal that "
                        "answer to the operator instead of disputing again",
                        details={"dispute_id": int(d.id)})
            did = b.next_id(disputes)
            due_on = (today + dt.timedelta(days=days)).isoformat()
            seq = b.emit("dispute.opened", {
                "dispute_id": did, "record_id": record_id, "entry_id": entry_id,
                "furnisher_id": furnisher_id, "due_on": due_on, "reason": text,
                "opened_at": iso(now)}, subject_id=subject_id)
            row = {"id": did, "subject_id": subject_id, "record_id": record_id,
                   "entry_id": entry_id, "furnisher_id": furnisher_id, "reason": text,
                   "opened_at": iso(now), "due_on": due_on, "status": "open",
                   "answered_at": None, "answer_note": None, "appeal_reason": None,
                   "decided_by": None, "seq": seq}
            b.add(disputes, row)
            if policy.due_process.suspend_listing_during_dispute:
                b.flush()
                evaluate_subjects(b, policy, [subject_id], today)
    if missing is not None:
        raise missing
    return {k: row[k] for k in ("id", "record_id", "entry_id", "status", "reason", "opened_at",
                                "due_on", "answered_at", "answer_note", "appeal_reason",
                                "decided_by")}


def disputes_of_furnisher(store: Store, furnisher_id: int | None, *,
                          status: str | None = "open") -> list[dict[str, Any]]:
    """Disputes about a furnisher's records (every furnisher's when ``furnisher_id`` is None),
    oldest deadline first; each also has ``furnisher_record_id`` and ``kind``."""
    stmt = (select(disputes, records.c.furnisher_record_id, records.c.kind)
            .outerjoin(records, records.c.id == disputes.c.record_id)
            .order_by(disputes.c.due_on, disputes.c.id))
    if furnisher_id is not None:
        stmt = stmt.where(disputes.c.furnisher_id == furnisher_id)
    if status is not None:
        stmt = stmt.where(disputes.c.status == status)
    with store.read() as conn:
        rows = conn.execute(stmt.limit(1000)).all()
    return [dispute_dict(r) | {"furnisher_record_id": r.furnisher_record_id, "kind": r.kind}
            for r in rows]


def answer_dispute(store: Store, policy: Policy, *, furnisher_id: int, dispute_id: int,
                   answer: str, note: str = "", now: dt.datetime) -> dict[str, Any]:
    """The furnisher's answer: ``verify`` (the record stands), ``correct`` (a corrected record
    was sent with ``corrects``), ``delete`` (the record is withdrawn).

    Raises:
        InputError: unknown answer; ``correct`` before the corrected record was sent.
        NotFound: no such dispute. PermissionDenied: not about this furnisher's record.
        Conflict: already answered, or past its deadline (the record is being suppressed).
    """
    if answer not in ANSWERS:
        raise InputError(f"answer must be one of {', '.join(ANSWERS)}")
    today = local_today(policy.jurisdiction, now)
    with store.batch(policy.version_hash) as b:
        row = b.conn.execute(select(disputes).where(disputes.c.id == dispute_id)).first()
        if row is None:
            raise NotFound(f"there is no dispute {dispute_id}")
        if row.furnisher_id != furnisher_id:
            _refused(b, row.subject_id, "dispute.answer", "another furnisher's dispute",
                     dispute_id=dispute_id, furnisher_id=furnisher_id)
            refused = True
        else:
            refused = False
            if row.status != "open":
                raise Conflict(f"dispute {dispute_id} is {row.status}, not open")
            if today.isoformat() > row.due_on:
                raise Conflict(f"dispute {dispute_id} was due on {row.due_on}; unanswered "
                               "disputes are suppressed")
            if answer == "correct":
                later = b.conn.execute(select(records.c.superseded_by).where(
                    records.c.id == row.record_id)).scalar()
                if later is None:
                    raise InputError(
                        "send the corrected record first (a record with `corrects` naming "
                        "the disputed one), then answer correct")
            status = _ANSWERED[answer]
            b.emit("dispute.answered", {"dispute_id": dispute_id, "answer": answer,
                                        "note": note[:MAX_TEXT], "answered_at": iso(now)},
                   subject_id=row.subject_id)
            b.conn.execute(update(disputes).where(disputes.c.id == dispute_id).values(
                status=status, answered_at=iso(now), answer_note=note[:MAX_TEXT] or None))
            if answer == "delete":
                _resolve(b, policy, row, "deleted", today)
            elif policy.due_process.suspend_listing_during_dispute:
                evaluate_subjects(b, policy, [row.subject_id], today)
    if refused:
        raise PermissionDenied(f"dispute {dispute_id} is not about one of your records")
    with store.read() as conn:
        return dispute_dict(conn.execute(select(disputes).where(
            disputes.c.id == dispute_id)).one())


def run_deadlines(store: Store, policy: Policy, *, now: dt.datetime) -> int:
    """Suppress the record of every open dispute past its ``due_on``; return how many.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    today = local_today(policy.jurisdiction, now)
    with store.read() as conn:
        late = conn.execute(select(disputes.c.id).where(
            disputes.c.status == "open", disputes.c.due_on < today.isoformat())).scalars().all()
    for did in late:
        with store.batch(policy.version_hash) as b:
            row = b.conn.execute(select(disputes).where(disputes.c.id == did)).one()
            if row.status != "open":
                continue
            b.emit("dispute.suppressed", {
                "dispute_id": did, "outcome": f"suppressed: not answered by {row.due_on}",
                "record_id": row.record_id, "entry_id": row.entry_id,
                "answered_at": iso(now)}, subject_id=row.subject_id)
            b.conn.execute(update(disputes).where(disputes.c.id == did).values(
                status="suppressed", answered_at=iso(now)))
            _resolve(b, policy, row, "suppressed", today)
    return len(late)


def appeal_dispute(store: Store, *, subject_id: int, dispute_id: int, reason: str,
                   now: dt.datetime) -> dict[str, Any]:
    """The subject appeals a furnisher's answer to an operator.

    Raises:
        NotFound: not one of the subject's disputes. Conflict: not verified or corrected.
        InputError: empty or over-long reason.
    """
    text = _text(reason, "reason for the appeal")
    with store.batch() as b:
        row = b.conn.execute(select(disputes).where(disputes.c.id == dispute_id)).first()
        if row is None or row.subject_id != subject_id:
            _refused(b, subject_id, "dispute.appeal", "not the subject's dispute",
                     dispute_id=dispute_id)
            missing = True
        else:
            missing = False
            if row.status not in ("verified", "corrected"):
                raise Conflict(f"dispute {dispute_id} is {row.status}: only an answered "
                               "dispute (verified or corrected) can be appealed")
            b.emit("dispute.appealed", {"dispute_id": dispute_id, "reason": text},
                   subject_id=subject_id)
            b.conn.execute(update(disputes).where(disputes.c.id == dispute_id).values(
                status="appealed", appeal_reason=text))
    if missing:
        raise NotFound(f"there is no dispute {dispute_id} in your file")
    with store.read() as conn:
        return dispute_dict(conn.execute(select(disputes).where(
            disputes.c.id == dispute_id)).one())


def _decided_at(conn: Any, row: Any) -> str | None:
    """When the appeal of dispute ``row`` was decided: the time of its ``dispute.decided``
    ledger event (the table keeps who, not when)."""
    for payload, at in conn.execute(
            select(events.c.payload, events.c.at).where(
                events.c.type == "dispute.decided", events.c.subject_id == row.subject_id)
            .order_by(events.c.seq.desc())):
        if json.loads(payload).get("dispute_id") == row.id:
            return str(at)
    return None


def decide_appeal(store: Store, policy: Policy, *, operator: str, dispute_id: int,
                  outcome: str, note: str = "", now: dt.datetime) -> dict[str, Any]:
    """An operator decides an appeal: ``upheld`` (the record stands) or ``overturned`` (the
    record is suppressed and the subject re-evaluated).

    Raises:
        InputError: unknown outcome. NotFound: no such dispute. Conflict: not appealed.
    """
    if outcome not in ("upheld", "overturned"):
        raise InputError("outcome must be upheld or overturned")
    with store.batch(policy.version_hash) as b:
        row = b.conn.execute(select(disputes).where(disputes.c.id == dispute_id)).first()
        if row is None:
            raise NotFound(f"there is no dispute {dispute_id}")
        if row.status != "appealed" and row.decided_by:
            at = _decided_at(b.conn, row)
            raise Conflict(f"dispute {dispute_id} was already decided ({row.status}) by "
                           f"{row.decided_by} at {at}",
                           details={"status": row.status, "decided_by": row.decided_by,
                                    "decided_at": at})
        if row.status != "appealed":
            raise Conflict(f"dispute {dispute_id} is {row.status}, not appealed",
                           details={"status": row.status})
        b.emit("dispute.decided", {"dispute_id": dispute_id, "outcome": outcome,
                                   "note": note[:MAX_TEXT], "operator": operator},
               subject_id=row.subject_id)
        b.conn.execute(update(disputes).where(disputes.c.id == dispute_id).values(
            status=outcome, decided_by=operator, answer_note=note[:MAX_TEXT] or row.answer_note))
        if outcome == "overturned":
            _resolve(b, policy, row, "overturned", local_today(policy.jurisdiction, now))
    with store.read() as conn:
        return dispute_dict(conn.execute(select(disputes).where(
            disputes.c.id == dispute_id)).one())
