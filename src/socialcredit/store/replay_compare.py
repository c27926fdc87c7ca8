"""Comparing a replayed table with the live one (the facet of :mod:`socialcredit.store.replay`
that finds and names the first differing row).

Two passes, so that an untouched registry costs one read of each live table:

1. *fast*: the live rows, streamed in key order by the driver's own cursor in pages, are compared
   page by page with the replayed rows sorted the same way in memory (one list comparison per
   page, in C). Equal to the end: the table is the same.
2. *exact*, only for a table the fast pass saw differ: its replayed rows are written to a
   scratch database, both the live table and the scratch copy are walked in key order, as the
   database returns and types them, and the first row that differs is named
   (:class:`Difference`).

Key order is the one Python's tuple comparison gives: code-point order for text, which is
SQLite's default and ``COLLATE "C"`` on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import String as SAString

from socialcredit.store.bulk import driver_pages
from socialcredit.store.replay_tables import TableSpec
from socialcredit.store.tables import metadata

__all__ = ["Difference", "TableResult", "compared_columns", "first_difference", "same_rows"]


@dataclass(frozen=True)
class Difference:
    """The first row of ``table`` that differs. ``key``: column → value of the row's key;
    ``what``: ``missing`` (replayed, not in the live table), ``extra`` (live, not implied by the
    ledger) or ``changed`` (then ``column`` with the ``live`` and ``replayed`` values)."""

    table: str
    key: dict[str, Any]
    what: str
    column: str | None = None
    live: Any = None
    replayed: Any = None

    def describe(self) -> str:
        where = ", ".join(f"{k}={v!r}" for k, v in self.key.items())
        if self.what == "missing":
            return f"{self.table} row ({where}) follows from the ledger but is missing"
        if self.what == "extra":
            return f"{self.table} row ({where}) is not implied by any ledger event"
        return (f"{self.table} row ({where}): {self.column} is {self.live!r} but the ledger "
                f"says {self.replayed!r}")


@dataclass(frozen=True)
class TableResult:
    """One compared table: ``rows`` replayed, ``live_rows`` read, the first ``difference``."""

    table: str
    rows: int
    live_rows: int
    difference: Difference | None = None


def compared_columns(spec: TableSpec) -> list[str]:
    """The key columns, then the other compared columns: the order of every row tuple."""
    return [*spec.key, *(c for c in spec.columns if c not in spec.key)]


def _select(conn: Connection, spec: TableSpec) -> str:
    table = metadata.tables[spec.name]
    pg = conn.dialect.name == "postgresql"
    order = [f'{k} COLLATE "C"' if pg and isinstance(table.c[k].type, SAString) else k
             for k in spec.key]
    return (f"SELECT {', '.join(compared_columns(spec))} FROM {spec.name} "
            f"ORDER BY {', '.join(order)}")


def _ordered(conn: Connection, spec: TableSpec) -> Generator[tuple[Any, ...], None, None]:
    """Rows of ``spec``'s table as tuples in :func:`compared_columns` order, in key order."""
    for rows in driver_pages(conn, _select(conn, spec), name=f"replay_{spec.name}_walk"):
        yield from rows


def same_rows(live: Connection, spec: TableSpec,
              replayed: list[tuple[Any, ...]] | None) -> bool:
    """The fast pass: the live table equals ``replayed`` (sorted tuples in
    :func:`compared_columns` order; None when they could not be sorted), row for row."""
    if replayed is None:
        return False
    pos = 0
    pages = driver_pages(live, _select(live, spec), name=f"replay_{spec.name}")
    try:
        for rows in pages:
            end = pos + len(rows)
            if rows != replayed[pos:end]:
                return False
            pos = end
    finally:
        pages.close()
    return pos == len(replayed)


def first_difference(live: Connection, scratch: Connection, spec: TableSpec) -> TableResult:
    """The exact pass: walk ``spec``'s live table and its scratch copy in key order, as each
    database returns them, and name the first row that differs."""
    a, b = _ordered(live, spec), _ordered(scratch, spec)
    try:
        return _walk(spec, a, b)
    finally:
        a.close()
        b.close()


def _walk(spec: TableSpec, a: Iterator[tuple[Any, ...]], b: Iterator[tuple[Any, ...]],
          ) -> TableResult:
    n = len(spec.key)
    cols = compared_columns(spec)
    n_live = n_replayed = 0
    la, lb = next(a, None), next(b, None)
    while la is not None or lb is not None:
        if lb is None or (la is not None and la[:n] < lb[:n]):
            assert la is not None
            return TableResult(spec.name, n_replayed, n_live + 1, Difference(
                spec.name, dict(zip(spec.key, la[:n], strict=True)), "extra"))
        if la is None or lb[:n] < la[:n]:
            return TableResult(spec.name, n_replayed + 1, n_live, Difference(
                spec.name, dict(zip(spec.key, lb[:n], strict=True)), "missing"))
        if la != lb:
            i = next(i for i in range(len(cols)) if la[i] != lb[i])
            return TableResult(spec.name, n_replayed + 1, n_live + 1, Difference(
                spec.name, dict(zip(spec.key, la[:n], strict=True)), "changed", cols[i],
                la[i], lb[i]))
        n_live, n_replayed = n_live + 1, n_replayed + 1
        la, lb = next(a, None), next(b, None)
    return TableResult(spec.name, n_replayed, n_live)
