"""Retention: records past their catalogue ``retention_days`` are erased.

A record is past retention when ``occurred_at + retention_days < today`` (the catalogue's
figure for its kind, e.g. 1,825 days — five years — for court records, after the Regulation
on the Administration of the Credit Investigation Industry (2013), Art. 16). For a kind with an
obligation key, the date is the obligation's anchor — its first delinquency or first report —
and all its reports retire together, so a late re-report does not keep it (US FCRA §605(c);
:func:`socialcredit.policy.obligations.due_by_anchor`). For each such
record, in one transaction per chunk:

- the ``records`` row keeps only what the file must still say (id, kind, date, furnisher) —
  its payload, national ID, phone, name and the identity kept for linkage (claimed ID,
  birth date, address, flags, link explanation, open review pairs) are erased and its status
  becomes ``retired``;
- its ``record.accepted`` ledger event is replaced by a hashed tombstone
  (:func:`socialcredit.store.ledger.tombstone`), so ``audit verify`` still passes;
- a ``record.retired`` event says so, and the subject is re-evaluated: a listing that rested
  on the record ends, and gates follow within their freshness target.

A record of a relation that is still in force is not retired: an ``organisation_registered``
while the organisation is not deregistered (its latest ``organisation_status`` is not
``deregistered``), a ``representative_appointed`` while the person still holds the role (no
later ``representative_ended``, no successor as legal representative) and the organisation is
registered. Its retention counts from the day the relation ends, as Art. 16 of the 2013
Regulation counts the five years "from the day the conduct or event ends"
(自不良行为或者事件终止之日起); we apply that rule to these non-adverse records too, since
erasing them would erase a current representative's restriction (issue #13).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

from sqlalchemy import Connection, select, update

from socialcredit.policy.evaluate import evaluate_subjects
from socialcredit.policy.model import Policy
from socialcredit.policy.obligations import due_by_anchor
from socialcredit.policy.representations import APPOINTED, representations
from socialcredit.store import Store
from socialcredit.store.ledger import tombstone
from socialcredit.store.tables import link_candidates, links, records

__all__ = ["due_for_retention", "run_retention"]


def due_for_retention(store: Store, policy: Policy, today: dt.date) -> list[int]:
    """Ids of records (not yet retired) past their kind's retention on ``today``."""
    out: list[int] = []
    with store.read() as conn:
        for kind, spec in policy.catalogue.items():
            cutoff = (today - dt.timedelta(days=spec.retention_days)).isoformat()
            if spec.obligation is not None:  # from the obligation's first delinquency
                out += due_by_anchor(conn, policy, kind, cutoff)
                continue
            out += conn.execute(select(records.c.id).where(
                records.c.kind == kind, records.c.status != "retired",
                records.c.occurred_at < cutoff)).scalars().all()
        held = _in_force(conn, policy, out, today)
    return sorted(set(out) - held)


_REGISTERED = "organisation_registered"


def _in_force(conn: Connection, policy: Policy, ids: list[int], today: dt.date) -> set[int]:
    """Those of ``ids`` that record a relation in force on ``today`` or ended within its
    kind's retention (module docstring)."""
    rows = [r for i in range(0, len(ids), 500) for r in conn.execute(
        select(records.c.id, records.c.kind, records.c.subject_id).where(
            records.c.id.in_(ids[i:i + 500]), records.c.kind.in_((_REGISTERED, APPOINTED)),
            records.c.subject_id.is_not(None)))]
    orgs = sorted({int(r.subject_id) for r in rows})
    if not orgs:
        return set()
    day = today.isoformat()
    gone: dict[int, str | None] = {}  # the latest status: deregistered on that day, else None
    for i in range(0, len(orgs), 500):
        for s in conn.execute(select(records.c.subject_id, records.c.occurred_at,
                                     records.c.payload).where(
                records.c.subject_id.in_(orgs[i:i + 500]),
                records.c.kind == "organisation_status", records.c.status == "active",
                records.c.superseded_by.is_(None), records.c.occurred_at <= day)
                .order_by(records.c.occurred_at, records.c.id)):
            dereg = json.loads(s.payload).get("status") == "deregistered"
            gone[int(s.subject_id)] = s.occurred_at if dereg else None
    until = {rep.record_id: rep.until for reps in representations(conn, orgs, day).values()
             for rep in reps}
    keep: set[int] = set()
    for r in rows:
        if r.kind == APPOINTED and int(r.id) not in until:
            continue  # never held (ended the day it began, or incomplete)
        ends = [x for x in (gone.get(int(r.subject_id)),
                            until.get(int(r.id)) if r.kind == APPOINTED else None) if x]
        cutoff = (today - dt.timedelta(days=policy.catalogue[r.kind].retention_days)).isoformat()
        if not ends or min(ends) >= cutoff:
            keep.add(int(r.id))
    return keep


def run_retention(store: Store, policy: Policy, *, today: dt.date, chunk: int = 1000) -> int:
    """Retire every record past retention on ``today``; return how many.

    Raises:
        StoreUnavailable: the database cannot be reached (what was done stays done; run
            again to finish).
    """
    ids = due_for_retention(store, policy, today)
    for i in range(0, len(ids), chunk):
        part = ids[i:i + chunk]
        with store.batch(policy.version_hash) as b:
            rows = b.conn.execute(select(
                records.c.id, records.c.seq, records.c.kind, records.c.subject_id,
                records.c.furnisher_id, records.c.furnisher_record_id, records.c.occurred_at,
                records.c.content_hash, records.c.corrects_id, records.c.superseded_by,
            ).where(records.c.id.in_(part))).all()
            touched: dict[int, list[int]] = defaultdict(list)
            for r in rows:
                tombstone(b.conn, r.seq, reason="retention", on=today.isoformat())
                b.emit("record.retired", {
                    "record_id": r.id, "kind": r.kind,
                    "retention_days": policy.catalogue[r.kind].retention_days
                    if r.kind in policy.catalogue else None,
                    # what the record keeps once its record.accepted payload is erased, so
                    # `audit replay` rebuilds the retired row from the ledger alone
                    "furnisher_id": r.furnisher_id, "furnisher_record_id": r.furnisher_record_id,
                    "occurred_at": r.occurred_at, "content_hash": r.content_hash,
                    "corrects_id": r.corrects_id, "superseded_by": r.superseded_by,
                    "accepted_seq": r.seq}, subject_id=r.subject_id)
                if r.subject_id is not None:
                    touched[r.subject_id].append(r.id)
            b.conn.execute(update(records).where(records.c.id.in_(part)).values(
                status="retired", payload="{}", national_id=None, phone=None, name=None,
                claimed_id=None, birth_date=None, address=None, flags=None))
            # what linkage kept of it goes too: the explanation (it quotes the comparison
            # levels) and any open review pair (a retired record is linked to no one anew)
            b.conn.execute(update(links).where(links.c.record_id.in_(part)).values(
                explanation="{}"))
            b.conn.execute(update(link_candidates).where(
                link_candidates.c.record_id.in_(part), link_candidates.c.status == "open")
                .values(status="closed", explanation="{}"))
            evaluate_subjects(b, policy, list(touched), today)
    return len(ids)
