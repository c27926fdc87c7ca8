"""Re-run deterministic linkage over records that are still unlinked.

A record that carried only a phone stays unlinked until some record with a verified national ID
registers that phone to a subject; this links it then (ledger event ``record.linked``) and
re-evaluates the subjects it joins.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import bindparam, select, update

from socialcredit.policy.evaluate import evaluate_subjects
from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.tables import identifiers, records

__all__ = ["relink_unlinked"]

_CHUNK = 500


def relink_unlinked(store: Store, policy: Policy, *, as_of: dt.date) -> dict[str, Any]:
    """Return ``{"linked", "unlinked"}`` counts after linking what the phones now allow."""
    with store.batch(policy.version_hash) as b:
        unlinked = b.conn.execute(select(records.c.id, records.c.phone).where(
            records.c.subject_id.is_(None))).all()
        by_phone: dict[str, list[int]] = defaultdict(list)
        for rid, phone in unlinked:
            if phone:
                by_phone[phone].append(rid)
        phones = sorted(by_phone)
        moves: list[dict[str, int]] = []
        for i in range(0, len(phones), _CHUNK):
            for phone, sid in b.conn.execute(
                select(identifiers.c.value, identifiers.c.subject_id).where(
                    identifiers.c.kind == "phone", identifiers.c.valid_to.is_(None),
                    identifiers.c.value.in_(phones[i:i + _CHUNK]))
            ):
                for rid in by_phone[phone]:
                    b.emit("record.linked", {"record_id": rid, "subject_id": sid,
                                             "rule": "phone"}, subject_id=sid)
                    moves.append({"rid": rid, "sid": sid})
        if moves:
            b.conn.execute(update(records).where(records.c.id == bindparam("rid")).values(
                subject_id=bindparam("sid")), moves)
            b.flush()
            evaluate_subjects(b, policy, {m["sid"] for m in moves}, as_of)
    return {"linked": len(moves), "unlinked": len(unlinked) - len(moves)}
