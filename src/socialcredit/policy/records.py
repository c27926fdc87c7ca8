"""The records the policy reads, streamed from the store: one query behind incremental
evaluation (:mod:`.evaluate`), the Parquet export of the batch engines (:mod:`.batch`) and the
what-if (:mod:`.whatif`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import Connection, select

from socialcredit.policy.rules import RecordView
from socialcredit.store.ledger import parse_json
from socialcredit.store.tables import furnishers, records

__all__ = ["record_views"]


def record_views(conn: Connection, kinds: Iterable[str],
                 subject_ids: list[int] | None = None) -> Iterator[RecordView]:
    """The records evaluation reads — status ``active``, not superseded, linked to a subject,
    of ``kinds`` — of ``subject_ids`` (None: every subject), streamed in (subject, id) order.
    The one query behind incremental evaluation, the Parquet export and the what-if."""
    names = dict(conn.execute(select(furnishers.c.id, furnishers.c.name)).all())
    stmt = (select(records.c.id, records.c.subject_id, records.c.furnisher_id,
                   records.c.furnisher_record_id, records.c.kind, records.c.occurred_at,
                   records.c.payload)
            .where(records.c.superseded_by.is_(None), records.c.status == "active",
                   records.c.kind.in_(sorted(kinds)),
                   records.c.subject_id.in_(subject_ids) if subject_ids is not None
                   else records.c.subject_id.is_not(None))
            .order_by(records.c.subject_id, records.c.id)
            # streamed by this statement only (a connection-wide option would stream the
            # batch's writes too)
            .execution_options(stream_results=True, yield_per=10_000))
    # rows unpacked as tuples and payloads read by parse_json: reading back a chunk's subjects
    # was a quarter of an ingest's CPU (bench/nation.py)
    for rid, sid, fid, frid, kind, occurred, payload in conn.execute(stmt):
        yield RecordView(rid, sid, fid, names[fid], frid, kind, occurred, parse_json(payload))
