"""Bulk writes: many rows of one table in one statement, the database's own fast path.

The one place where the two stores' bulk loads differ (STYLE §8):

* PostgreSQL: ``COPY table (columns) FROM STDIN`` through psycopg's copy protocol, on the
  batch's own connection (same transaction: nothing lands if the batch rolls back);
* SQLite: one prepared ``INSERT`` run by the driver's ``executemany`` over plain tuples.

Both skip SQLAlchemy's per-row parameter processing, which cost more than the database itself
(bench/ingest_and_gate.py, bench/nation.py). They apply only where that processing does
nothing: every row names the same columns and no column left out has a Python-side default;
otherwise :func:`bulk_insert` falls back to SQLAlchemy's ``executemany`` (same result, slower).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table, insert

__all__ = ["bulk_insert", "driver_pages"]

_PAGE = 50_000


def _plain(table: Table, rows: Sequence[dict[str, Any]]) -> list[str] | None:
    """The columns of ``rows`` when they can be written raw (see the module docstring)."""
    cols = list(rows[0])
    names = set(cols)
    if any(len(r) != len(cols) or r.keys() != names for r in rows):
        return None
    for c in table.columns:
        if c.name not in names and (c.default is not None or c.onupdate is not None):
            return None
    if not names <= {c.name for c in table.columns}:
        return None  # let SQLAlchemy name the unknown column in its error
    return cols


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts of column name → Python value) into ``table`` on ``conn``.

    Raises:
        sqlalchemy.exc.IntegrityError / DataError / OperationalError: as an ``INSERT`` would
            (the store turns them into the registry's errors, :meth:`Store.batch`).
    """
    if not rows:
        return
    cols = _plain(table, rows)
    if cols is None:
        conn.execute(insert(table), list(rows))
        return
    quote = conn.dialect.identifier_preparer.quote
    target = f"{quote(table.name)} ({', '.join(quote(c) for c in cols)})"
    if conn.dialect.name == "postgresql":
        _copy(conn, target, cols, rows)
    else:
        marks = ", ".join("?" for _ in cols)
        conn.exec_driver_sql(f"INSERT INTO {target} VALUES ({marks})",
                             list(map(_getter(cols), rows)))


def _getter(cols: list[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A row dict → the tuple of its ``cols`` values, in C (``itemgetter``; one column
    still gives a tuple)."""
    if len(cols) == 1:
        col = cols[0]
        return lambda r: (r[col],)
    return itemgetter(*cols)


def _copy(conn: Connection, target: str, cols: list[str],
          rows: Sequence[dict[str, Any]]) -> None:
    import psycopg

    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    try:
        with raw.cursor() as cur, cur.copy(f"COPY {target} FROM STDIN") as copy:
            for r in map(_getter(cols), rows):
                copy.write_row(r)
    except psycopg.Error as e:  # the same errors an INSERT raises, as SQLAlchemy's types
        from sqlalchemy.exc import DBAPIError

        raise DBAPIError.instance(f"COPY {target} FROM STDIN", None, e,
                                  psycopg.Error) from e


def driver_pages(conn: Connection, sql: str, params: tuple[Any, ...] = (),
                 page: int = _PAGE, name: str = "replay",
                 ) -> Generator[list[tuple[Any, ...]], None, None]:
    """Run ``sql`` on the driver's own cursor (server-side on PostgreSQL, so a large table is
    streamed) and yield its rows in pages of plain tuples."""
    raw = conn.connection.driver_connection
    assert raw is not None
    if conn.dialect.name == "postgresql":
        cur = raw.cursor(name=name)
        cur.itersize = page
    else:
        cur = raw.cursor()
    try:
        cur.execute(sql, params) if params else cur.execute(sql)
        while True:
            rows = cur.fetchmany(page)
            if not rows:
                return
            yield rows
    finally:
        cur.close()
