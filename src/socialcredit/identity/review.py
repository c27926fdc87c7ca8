"""Human decisions on identity: the link review queue, merges and splits (issue #3).

* **Review queue.** Pairs (record, candidate subject) that probabilistic linkage could not
  decide (:mod:`socialcredit.identity.probabilistic`) wait in ``link_candidates``.
  :func:`accept_candidate` confirms one (the record moves to that subject if it was tentatively
  elsewhere; its ``pending_review`` entries become active); :func:`reject_candidate` refuses it
  (the record goes to the next open candidate, still pending, or is left unlinked).
  :func:`unlink_record` detaches a wrongly linked record after a dispute.
* **Merge.** :func:`merge_subjects` moves every record, identifier, name and list entry of the
  absorbed subject to the survivor (two subjects found to be one person, e.g. an external
  list's subject and a registry subject, or a re-issued national ID); the absorbed subject is
  kept, marked ``merged_into``, so that a split can restore it.
* **Split.** :func:`split_merge` undoes a merge: what was moved and is still on the survivor
  goes back.

Each step is a ledger event with the subject's id (``record.linked``, ``record.unlinked``,
``link.rejected`` for every refused pair, ``subject.merged`` / ``subject.absorbed``,
``subject.split`` / ``subject.restored``); both subjects are re-evaluated in the same
transaction, so lists, the gate index (which follows ``record.`` and ``subject.`` events) and
notices follow within the gate's freshness target.

Errors: :class:`NotFound` (no such candidate, record, subject or merge),
:class:`Conflict` (already decided, merged, or split), :class:`InputError` (empty reason,
merging a subject into itself).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import func, select, update

from socialcredit.errors import Conflict, InputError, NotFound
from socialcredit.freetext import clean_text
from socialcredit.identity.channel import channel_of, set_first_channel
from socialcredit.policy.evaluate import evaluate_subjects
from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.ledger import Batch
from socialcredit.store.tables import (
    furnishers,
    identifiers,
    link_candidates,
    links,
    list_entries,
    merges,
    names,
    records,
    subjects,
)

__all__ = [
    "accept_candidate",
    "merge_subjects",
    "reject_candidate",
    "review_queue",
    "split_merge",
    "unlink_record",
]


def review_queue(store: Store, *, limit: int = 50, offset: int = 0,
                 status: str = "open") -> dict[str, Any]:
    """``{"data": [pair...], "count"}``: candidates with ``status``, highest weight first.

    A pair: ``id``, ``match_weight``, ``match_probability``, ``explanation`` (comparison →
    ``{level, weight}``), ``status``, ``record`` (``id``, ``furnisher``, ``kind``,
    ``occurred_at``, ``name``, ``birth_date``, ``claimed_id``, ``phone``, ``tentative``: the
    record currently rests on this subject) and ``subject`` (``id``, ``national_id``, ``name``,
    ``birth_date``).
    """
    with store.read() as conn:
        count = conn.execute(select(func.count()).select_from(link_candidates).where(
            link_candidates.c.status == status)).scalar_one()
        rows = conn.execute(
            select(link_candidates, records.c.kind, records.c.occurred_at,
                   records.c.name.label("record_name"), records.c.birth_date.label("rb"),
                   records.c.claimed_id, records.c.phone,
                   records.c.subject_id.label("current"), furnishers.c.name.label("furnisher"),
                   subjects.c.national_id, subjects.c.name.label("subject_name"),
                   subjects.c.birth_date.label("sb"))
            .join(records, records.c.id == link_candidates.c.record_id)
            .join(furnishers, furnishers.c.id == records.c.furnisher_id)
            .join(subjects, subjects.c.id == link_candidates.c.subject_id)
            .where(link_candidates.c.status == status)
            .order_by(link_candidates.c.match_weight.desc(), link_candidates.c.id)
            .limit(limit).offset(offset)).all()
    data = [{
        "id": r.id, "match_weight": round(r.match_weight, 3),
        "match_probability": r.match_probability,
        "explanation": json.loads(r.explanation), "status": r.status,
        "record": {"id": r.record_id, "furnisher": r.furnisher, "kind": r.kind,
                   "occurred_at": r.occurred_at, "name": r.record_name, "birth_date": r.rb,
                   "claimed_id": r.claimed_id, "phone": r.phone,
                   "tentative": r.current == r.subject_id},
        "subject": {"id": r.subject_id, "national_id": r.national_id,
                    "name": r.subject_name, "birth_date": r.sb},
    } for r in rows]
    return {"data": data, "count": count}


def _candidate(b: Batch, candidate_id: int) -> Any:
    row = b.conn.execute(select(link_candidates).where(
        link_candidates.c.id == candidate_id)).first()
    if row is None:
        raise NotFound(f"no link candidate {candidate_id}",
                       details={"candidate_id": candidate_id})
    if row.status != "open":
        raise Conflict(f"link candidate {candidate_id} is already {row.status} (by "
                       f"{row.decided_by} at {row.decided_at})",
                       details={"candidate_id": candidate_id, "status": row.status,
                                "decided_by": row.decided_by, "decided_at": row.decided_at})
    return row


def _move_record(b: Batch, record_id: int, subject_id: int | None) -> int | None:
    """Point a record (and its corrections) at ``subject_id``; return its former subject."""
    before = b.conn.execute(select(records.c.subject_id).where(
        records.c.id == record_id)).scalar()
    b.conn.execute(update(records).where(records.c.id == record_id).values(
        subject_id=subject_id))
    return None if before is None else int(before)


def accept_candidate(store: Store, policy: Policy, candidate_id: int, *, by: str,
                     note: str | None = None, as_of: dt.date) -> dict[str, Any]:
    """Confirm a pair of the review queue (see the module docstring); returns
    ``{"record_id", "subject_id", "moved_from"}``. Raises Conflict when the candidate subject
    has been merged into another since (accept the survivor's pair instead)."""
    text = clean_text(note, "note") if note else None
    with store.batch(policy.version_hash) as b:
        c = _candidate(b, candidate_id)
        _live_subject(b, c.subject_id)
        at = b.at
        before = _move_record(b, c.record_id, c.subject_id)
        b.emit("record.linked", {"record_id": c.record_id, "subject_id": c.subject_id,
                                 "rule": "manual", "status": "confirmed",
                                 "candidate_id": c.id, "by": by, "note": text},
               subject_id=c.subject_id)
        b.conn.execute(update(link_candidates).where(link_candidates.c.id == c.id).values(
            status="accepted", decided_at=at, decided_by=by, note=text))
        b.conn.execute(update(link_candidates).where(
            link_candidates.c.record_id == c.record_id, link_candidates.c.status == "open"
        ).values(status="closed", decided_at=at, decided_by=by))
        b.conn.execute(update(links).where(links.c.record_id == c.record_id).values(
            subject_id=c.subject_id, rule="manual", status="confirmed", decided_by=by,
            seq=b.seq))
        touched = {c.subject_id} | ({before} if before is not None else set())
        b.flush()
        evaluate_subjects(b, policy, touched, as_of)
    return {"record_id": c.record_id, "subject_id": c.subject_id,
            "moved_from": before if before != c.subject_id else None}


def reject_candidate(store: Store, policy: Policy, candidate_id: int, *, by: str,
                     note: str | None = None, as_of: dt.date) -> dict[str, Any]:
    """Refuse a pair of the review queue; returns ``{"record_id", "subject_id"}`` with the
    record's subject afterwards (the next open candidate, still pending, or None)."""
    text = clean_text(note, "note") if note else None
    with store.batch(policy.version_hash) as b:
        c = _candidate(b, candidate_id)
        b.emit("link.rejected", {"candidate_id": c.id, "record_id": c.record_id,
                                 "subject_id": c.subject_id, "by": by, "note": text},
               subject_id=c.subject_id)
        b.conn.execute(update(link_candidates).where(link_candidates.c.id == c.id).values(
            status="rejected", decided_at=b.at, decided_by=by, note=text))
        current = b.conn.execute(select(records.c.subject_id).where(
            records.c.id == c.record_id)).scalar()
        after = current
        touched: set[int] = set()
        if current == c.subject_id:
            nxt = b.conn.execute(select(link_candidates).where(
                link_candidates.c.record_id == c.record_id, link_candidates.c.status == "open")
                .order_by(link_candidates.c.match_weight.desc(), link_candidates.c.id)
            ).first()
            after = None if nxt is None else int(nxt.subject_id)
            _detach(b, c.record_id, c.subject_id, after, by=by,
                    reason=f"candidate {c.id} rejected", candidate_id=c.id)
            touched = {c.subject_id} | ({after} if after is not None else set())
        b.flush()
        evaluate_subjects(b, policy, touched, as_of)
    return {"record_id": c.record_id, "subject_id": after}


def _detach(b: Batch, record_id: int, old: int, new: int | None, *, by: str,
            reason: str, candidate_id: int, refused: bool = False) -> None:
    """Move a record off ``old``: to ``new`` (still pending) or to nobody. ``candidate_id``:
    the pair rejected, or (``refused``: an operator's unlink) the refused pair it adds."""
    b.emit("record.unlinked", {"record_id": record_id, "subject_id": old, "by": by,
                               "reason": reason, "candidate_id": candidate_id,
                               "refused": refused}, subject_id=old)
    _move_record(b, record_id, new)
    if new is None:
        b.conn.execute(update(links).where(links.c.record_id == record_id).values(
            subject_id=None, status="rejected", decided_by=by, seq=b.seq))
    else:
        b.emit("record.linked", {"record_id": record_id, "subject_id": new,
                                 "rule": "probabilistic", "status": "pending", "by": by},
               subject_id=new)
        b.conn.execute(update(links).where(links.c.record_id == record_id).values(
            subject_id=new, status="pending", seq=b.seq))


def unlink_record(store: Store, policy: Policy, record_id: int, *, by: str, reason: str,
                  as_of: dt.date) -> dict[str, Any]:
    """Detach a record from its subject (a wrong link found by a dispute): the record is left
    unlinked, its link ``rejected``, its candidates closed and the pair refused for good
    (``socialcredit link`` may still find the record's real subject). Records linked by their own
    checksum-valid national ID cannot be detached (correct or delete them instead)."""
    text = clean_text(reason, "reason")
    with store.batch(policy.version_hash) as b:
        rec = b.conn.execute(select(records.c.subject_id, records.c.national_id).where(
            records.c.id == record_id)).first()
        if rec is None:
            raise NotFound(f"no record {record_id}", details={"record_id": record_id})
        if rec.subject_id is None:
            raise Conflict(f"record {record_id} is not linked", details={"record_id": record_id})
        if rec.national_id is not None:
            raise Conflict(f"record {record_id} carries the subject's checksum-valid national "
                           "ID: its furnisher must correct or delete it",
                           details={"record_id": record_id})
        if b.conn.execute(select(links.c.record_id).where(
                links.c.record_id == record_id)).first() is None:
            b.add(links, {"record_id": record_id, "subject_id": rec.subject_id,
                          "rule": "manual", "status": "rejected", "explanation": "{}",
                          "decided_by": by, "seq": b.seq + 1})
            b.flush()
        refused = b.next_id(link_candidates)
        _detach(b, record_id, int(rec.subject_id), None, by=by, reason=text,
                candidate_id=refused, refused=True)
        b.conn.execute(update(link_candidates).where(
            link_candidates.c.record_id == record_id, link_candidates.c.status == "open"
        ).values(status="closed", decided_at=b.at, decided_by=by))
        # only this pair is refused: later linkage may find the record's real subject
        b.add(link_candidates, {"id": refused, "record_id": record_id,
                                "subject_id": int(rec.subject_id), "match_weight": 0.0,
                                "match_probability": 0.0, "explanation": "{}",
                                "model_version": None, "status": "rejected",
                                "created_seq": b.seq, "decided_at": b.at, "decided_by": by,
                                "note": text})
        b.flush()
        evaluate_subjects(b, policy, {int(rec.subject_id)}, as_of)
    return {"record_id": record_id, "subject_id": None, "was": int(rec.subject_id)}


def _live_subject(b: Batch, sid: int) -> Any:
    row = b.conn.execute(select(subjects.c.id, subjects.c.merged_into, subjects.c.kind).where(
        subjects.c.id == sid)).first()
    if row is None:
        raise NotFound(f"no subject {sid}", details={"subject_id": sid})
    if row.kind != "person":  # an organisation is its code: never linked to or merged
        raise Conflict(f"subject {sid} is an organisation: links and merges join persons only",
                       details={"subject_id": sid, "kind": row.kind})
    if row.merged_into is not None:
        raise Conflict(f"subject {sid} is merged into subject {row.merged_into}",
                       details={"subject_id": sid, "merged_into": row.merged_into})
    return row


def merge_subjects(store: Store, policy: Policy, *, survivor: int, absorbed: int, by: str,
                   reason: str, as_of: dt.date) -> dict[str, Any]:
    """Merge ``absorbed`` into ``survivor`` (see the module docstring). Returns ``{"merge_id",
    "records", "identifiers", "entries"}`` (counts moved). An entry of the absorbed subject
    with the same list and key as one of the survivor's is not moved (the survivor's stands;
    re-evaluation ends the other). The survivor gets the absorbed subject's trusted channel when
    it has none.

    Raises:
        Conflict: the two subjects have different trusted channels (an operator confirms the
            person's phone on one first: a merge never decides where codes go).
    """
    text = clean_text(reason, "reason")
    if survivor == absorbed:
        raise InputError("a subject cannot be merged into itself",
                         details={"subject_id": survivor})
    with store.batch(policy.version_hash) as b:
        _live_subject(b, survivor)
        _live_subject(b, absorbed)
        conn = b.conn
        kept, other = channel_of(conn, survivor), channel_of(conn, absorbed)
        if kept and other and kept != other:
            # a merge must not decide where a person's codes and notices go (issue #20): two
            # furnishers can set up a convincing duplicate holding their own phone
            raise Conflict(
                f"subjects {survivor} and {absorbed} have different trusted channels: confirm "
                "the person's phone first (`socialcredit contact set`, after an identity "
                "check) on one of them so that both agree, then merge",
                details={"survivor_id": survivor, "absorbed_id": absorbed})
        rec_ids = list(conn.execute(select(records.c.id).where(
            records.c.subject_id == absorbed).order_by(records.c.id)).scalars())
        ident_ids = list(conn.execute(select(identifiers.c.id).where(
            identifiers.c.subject_id == absorbed).order_by(identifiers.c.id)).scalars())
        taken = {(e.list, e.key) for e in conn.execute(select(
            list_entries.c.list, list_entries.c.key).where(
            list_entries.c.subject_id == survivor))}
        entry_ids = [e.id for e in conn.execute(select(
            list_entries.c.id, list_entries.c.list, list_entries.c.key).where(
            list_entries.c.subject_id == absorbed).order_by(list_entries.c.id))
            if (e.list, e.key) not in taken]
        own = set(conn.execute(select(names.c.name).where(
            names.c.subject_id == survivor)).scalars())
        name_list = sorted(set(conn.execute(select(names.c.name).where(
            names.c.subject_id == absorbed)).scalars()) - own)
        # open review pairs naming the absorbed subject (those about its own records move
        # with the records) now name the survivor
        moving = set(rec_ids)
        candidates = [c.id for c in conn.execute(
            select(link_candidates.c.id, link_candidates.c.record_id).where(
                link_candidates.c.subject_id == absorbed, link_candidates.c.status == "open")
            .order_by(link_candidates.c.id)) if c.record_id not in moving]
        moved = {"records": rec_ids, "identifiers": ident_ids, "entries": entry_ids,
                 "names": name_list}
        merge_id = b.next_id(merges)
        payload = {"merge_id": merge_id, "survivor_id": survivor, "absorbed_id": absorbed,
                   "by": by, "reason": text, **moved, "candidates": candidates}
        seq = b.emit("subject.merged", payload, subject_id=survivor)
        b.emit("subject.absorbed", {"merge_id": merge_id, "into": survivor},
               subject_id=absorbed)
        _move(b, moved, absorbed, survivor)
        moved["candidates"] = candidates
        _move_candidates(b, candidates, survivor)
        conn.execute(update(subjects).where(subjects.c.id == absorbed).values(
            merged_into=survivor))
        if other and not kept:  # the absorbed person's own channel serves the merged file
            set_first_channel(b, survivor, other, source="merge", merged_from=absorbed)
        b.add(merges, {"id": merge_id, "survivor_id": survivor, "absorbed_id": absorbed,
                       "status": "merged", "reason": text, "merged_by": by,
                       "merged_seq": seq, "moved": json.dumps(moved)})
        b.flush()
        evaluate_subjects(b, policy, {survivor, absorbed}, as_of)
    return {"merge_id": merge_id, "records": len(rec_ids), "identifiers": len(ident_ids),
            "entries": len(entry_ids)}


def _move(b: Batch, moved: dict[str, list[Any]], src: int, dst: int) -> None:
    conn = b.conn
    for table, key in ((records, "records"), (identifiers, "identifiers"),
                       (list_entries, "entries")):
        ids = moved[key]
        for i in range(0, len(ids), 500):
            conn.execute(update(table).where(table.c.id.in_(ids[i:i + 500]),
                                             table.c.subject_id == src)
                         .values(subject_id=dst))
    if moved["names"]:
        conn.execute(update(names).where(names.c.subject_id == src,
                                         names.c.name.in_(moved["names"]))
                     .values(subject_id=dst))
    for table in (links, link_candidates):
        ids = moved["records"]
        for i in range(0, len(ids), 500):
            conn.execute(update(table).where(table.c.record_id.in_(ids[i:i + 500]),
                                             table.c.subject_id == src)
                         .values(subject_id=dst))


def _move_candidates(b: Batch, ids: list[int], to: int) -> None:
    for i in range(0, len(ids), 500):
        b.conn.execute(update(link_candidates).where(
            link_candidates.c.id.in_(ids[i:i + 500]), link_candidates.c.status == "open")
            .values(subject_id=to))


def split_merge(store: Store, policy: Policy, merge_id: int, *, by: str, reason: str,
                as_of: dt.date) -> dict[str, Any]:
    """Undo merge ``merge_id``: what it moved and is still on the survivor returns to the
    absorbed subject, which is live again (Conflict while the survivor is itself merged into a
    third subject: split that later merge first). Returns ``{"merge_id", "records", "identifiers",
    "entries"}`` (counts moved back)."""
    text = clean_text(reason, "reason")
    with store.batch(policy.version_hash) as b:
        m = b.conn.execute(select(merges).where(merges.c.id == merge_id)).first()
        if m is None:
            raise NotFound(f"no merge {merge_id}", details={"merge_id": merge_id})
        if m.status != "merged":
            raise Conflict(f"merge {merge_id} was already split",
                           details={"merge_id": merge_id})
        later = b.conn.execute(select(subjects.c.merged_into).where(
            subjects.c.id == m.survivor_id)).scalar()
        if later is not None:
            raise Conflict(f"subject {m.survivor_id} was merged into subject {later} after "
                           f"merge {merge_id}: split that merge first",
                           details={"merge_id": merge_id, "merged_into": later})
        moved = json.loads(m.moved)
        seq = b.emit("subject.split", {"merge_id": merge_id, "survivor_id": m.survivor_id,
                                       "absorbed_id": m.absorbed_id, "by": by,
                                       "reason": text}, subject_id=m.survivor_id)
        b.emit("subject.restored", {"merge_id": merge_id, "from": m.survivor_id},
               subject_id=m.absorbed_id)
        _move(b, moved, m.survivor_id, m.absorbed_id)
        _move_candidates(b, moved.get("candidates", []), m.absorbed_id)
        b.conn.execute(update(subjects).where(subjects.c.id == m.absorbed_id).values(
            merged_into=None))
        b.conn.execute(update(merges).where(merges.c.id == merge_id).values(
            status="split", split_by=by, split_reason=text, split_seq=seq))
        b.flush()
        evaluate_subjects(b, policy, {m.survivor_id, m.absorbed_id}, as_of)
    return {"merge_id": merge_id, "records": len(moved["records"]),
            "identifiers": len(moved["identifiers"]), "entries": len(moved["entries"])}
