"""What the registry already holds of a furnisher's rows, read for one chunk of an ingest (a
facet of :mod:`socialcredit.ingest.pipeline`): the content hash of each ``furnisher_record_id``
already held (a re-send is a duplicate, a changed one is refused), the record a correction
targets, and the operator-confirmed link a correction inherits. Nothing here writes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from socialcredit.ingest.validate import ValidRecord
from socialcredit.store.tables import links, records

__all__ = ["correction_target", "held_records", "inherited_link"]


def held_records(conn: Connection, furnisher_id: int, ids: set[str],
                 ) -> dict[str, tuple[int, str]]:
    """``furnisher_record_id`` → ``(-1, content hash)`` of the records of ``furnisher_id``
    among ``ids`` already held (``-1``: no line of this file; read in slices of 500)."""
    out: dict[str, tuple[int, str]] = {}
    part = sorted(i for i in ids if i)
    for i in range(0, len(part), 500):
        for r in conn.execute(
            select(records.c.furnisher_record_id, records.c.content_hash).where(
                records.c.furnisher_id == furnisher_id,
                records.c.furnisher_record_id.in_(part[i:i + 500]))
        ):
            out[r.furnisher_record_id] = (-1, r.content_hash)
    return out


def correction_target(conn: Connection, furnisher_id: int, frid: str,
                      ) -> tuple[int, str, str | None]:
    """(record id, kind, ``furnisher_record_id`` of its correction or None) of an earlier
    record ``frid`` of ``furnisher_id``. Raises ``sqlalchemy.exc.NoResultFound`` when none is
    held (the caller checks first)."""
    row = conn.execute(select(records.c.id, records.c.kind, records.c.superseded_by
                              ).where(records.c.furnisher_id == furnisher_id,
                                      records.c.furnisher_record_id == frid)).one()
    later = None
    if row.superseded_by is not None:
        later = conn.execute(select(records.c.furnisher_record_id).where(
            records.c.id == row.superseded_by)).scalar()
    return int(row.id), str(row.kind), later


def inherited_link(conn: Connection, corrected: int, v: ValidRecord) -> Any:
    """The operator-confirmed link of the record a correction supersedes, when the correction
    names the person exactly as it did (same claimed ID, name, birth date and phone): a
    correction of the amount must not send the person back to review. None otherwise."""
    row = conn.execute(
        select(links, records.c.claimed_id, records.c.name, records.c.birth_date,
               records.c.phone)
        .join(records, records.c.id == links.c.record_id)
        .where(links.c.record_id == corrected)).first()
    if (row is None or row.rule != "manual" or row.status != "confirmed"
            or row.subject_id is None):
        return None
    same = (row.claimed_id, row.name, row.birth_date, row.phone) == (
        v.claimed_id, v.name, v.birth_date, v.phone)
    return row if same else None
