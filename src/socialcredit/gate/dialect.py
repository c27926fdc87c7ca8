"""The one place where SQLite and PostgreSQL differ for gate writes: counter upserts."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from socialcredit.store.tables import decision_counts

__all__ = ["increment_counts"]


def increment_counts(conn: Connection, counts: Mapping[tuple[str, str], int]) -> None:
    """``decision_counts[service, outcome] += n`` for each item, as one upsert per row."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    for (service, outcome), n in sorted(counts.items()):
        stmt = insert(decision_counts).values(service=service, outcome=outcome, count=n)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["service", "outcome"],
            set_={"count": decision_counts.c.count + stmt.excluded.count}))
