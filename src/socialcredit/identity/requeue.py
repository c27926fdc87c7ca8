"""The review pairs linkage opens outside the model (a facet of
:mod:`socialcredit.identity.link`; the model's own are in
:mod:`socialcredit.identity.probabilistic`).

* :func:`requeue_phone_links` — a phone found shared sends the records it linked alone back to
  review, one open pair per user of the number;
* :func:`pair_status` — the status a new pair starts in: a record already superseded by a
  correction gets its pairs closed, as a correction closes its open ones (so the order in which
  one chunk links and corrects changes nothing; ``audit replay`` applies the same rule).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update

from socialcredit.store.ledger import Batch
from socialcredit.store.tables import link_candidates, links, records

__all__ = ["pair_status", "requeue_phone_links"]


def pair_status(conn: Any, record_ids: list[int]) -> dict[int, str]:
    """The status a new review pair of each record starts in: ``closed`` for a record already
    superseded by a correction (as its open pairs close when it is superseded, so the order in
    which a chunk links and corrects changes nothing), else ``open``."""
    done = set(conn.execute(select(records.c.id).where(
        records.c.id.in_(record_ids), records.c.superseded_by.is_not(None))).scalars())
    return {rid: "closed" if rid in done else "open" for rid in record_ids}


def requeue_phone_links(batch: Batch, phone: str, since: str,
                        users: tuple[int, ...]) -> set[int]:
    """Records linked by ``phone`` alone (links rule ``phone``) dated ``since`` or later go
    back to review: their link becomes ``pending`` (``record.linked`` with that status) and
    every subject in ``users`` becomes an open candidate. Returns the subjects touched."""
    conn = batch.conn
    batch.flush()
    rows = conn.execute(
        select(links.c.record_id, links.c.subject_id)
        .join(records, records.c.id == links.c.record_id)
        .where(links.c.rule == "phone", links.c.status == "confirmed", records.c.phone == phone,
               records.c.occurred_at >= since)).all()
    touched: set[int] = set()
    status = pair_status(conn, [r.record_id for r in rows])
    why = {"phone": {"level": f"a shared phone since {since}: the number alone does not tell "
                              "who", "weight": None}}
    for r in rows:
        # the review pairs it opens are in the event (`audit replay` rebuilds them)
        queued = [{"candidate_id": batch.next_id(link_candidates), "subject_id": sid}
                  for sid in dict.fromkeys((r.subject_id, *users))]
        seq = batch.emit("record.linked", {"record_id": r.record_id, "subject_id": r.subject_id,
                                           "rule": "phone", "status": "pending",
                                           "reason": "shared phone", "queued": queued,
                                           "explanation": why}, subject_id=r.subject_id)
        conn.execute(update(links).where(links.c.record_id == r.record_id).values(
            status="pending", seq=seq))
        for q in queued:
            batch.add(link_candidates, {
                "id": q["candidate_id"], "record_id": r.record_id,
                "subject_id": q["subject_id"], "match_weight": 0.0, "match_probability": 0.5,
                "explanation": json.dumps(why, sort_keys=True), "model_version": None,
                "status": status[r.record_id], "created_seq": seq})
        touched.add(int(r.subject_id))
    return touched
