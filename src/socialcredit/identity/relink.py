"""Re-run deterministic linkage over records that are still unlinked.

A record that carried only a phone stays unlinked until some record with a verified national ID
registers that phone to a subject; this links it then (ledger event ``record.linked``) and
re-evaluates the subjects it joins.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update

from socialcredit.policy.evaluate import evaluate_subjects
from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.tables import identifiers, records

__all__ = ["relink_unlinked"]


def relink_unlinked(store: Store, policy: Policy, *, as_of: dt.date) -> dict[str, Any]:
    """Return ``{"linked", "unlinked"}`` counts after linking what the phones now allow."""
    linked = 0
    with store.batch(policy.version_hash) as b:
        rows = b.conn.execute(
            select(records.c.id, identifiers.c.subject_id)
            .join(identifiers, (identifiers.c.kind == "phone")
                  & (identifiers.c.value == records.c.phone)
                  & identifiers.c.valid_to.is_(None))
            .where(records.c.subject_id.is_(None), records.c.phone.is_not(None))
        ).all()
        touched = set()
        for rid, sid in rows:
            b.emit("record.linked", {"record_id": rid, "subject_id": sid, "rule": "phone"},
                   subject_id=sid)
            b.conn.execute(update(records).where(records.c.id == rid).values(subject_id=sid))
            touched.add(sid)
            linked += 1
        b.flush()
        if touched:
            evaluate_subjects(b, policy, touched, as_of)
        remaining = len(b.conn.execute(select(records.c.id).where(
            records.c.subject_id.is_(None))).all())
    return {"linked": linked, "unlinked": remaining}
