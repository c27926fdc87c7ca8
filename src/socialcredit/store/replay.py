"""``audit replay``: rebuild the projections from the ledger alone and compare them with the live
tables, so that a row changed behind the ledger's back (an entry deleted by someone with
database access, a moved record, an edited score) is found and named.

Steps: read every event in ``seq`` order and apply it to in-memory projections
(:class:`~socialcredit.store.replay_events.Projections`); write them to a scratch database (a
SQLite file in a temporary folder, or a fresh PostgreSQL schema on the live server, dropped
afterwards; :func:`~socialcredit.store.scratch.scratch_database`); walk each table of
:data:`~socialcredit.store.replay_tables.SPECS` in key order on both sides and stop at the
first row that differs.

Consistency: the live tables are read in one transaction after the replay up to the head read
at the start; on a registry that is being written meanwhile, run it against a restored backup or
a quiet moment (a write landing between the two reads shows as a difference).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Generator, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, MetaData, Table, create_engine, select
from sqlalchemy import String as SAString
from sqlalchemy.engine import make_url

from socialcredit.store.replay_events import Projections
from socialcredit.store.replay_tables import (
    FROM_LIVE,
    NOT_COMPARED,
    NOT_PROJECTIONS,
    NOT_YET_REPLAYED,
    SPECS,
    TableSpec,
)
from socialcredit.store.scratch import scratch_database
from socialcredit.store.store import Store
from socialcredit.store.tables import contact_channels, ledger_head, metadata, repairs

__all__ = ["Difference", "ReplayResult", "TableResult", "replay", "replay_events"]

_INSERT_CHUNK = 5000


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


@dataclass
class ReplayResult:
    """What :func:`replay` found. ``events_per_second`` counts the replay alone (reading and
    applying the events), ``seconds`` the whole run including the scratch writes and the
    comparison."""

    events: int
    head_seq: int
    replay_seconds: float
    seconds: float
    tables: list[TableResult]
    scratch: str
    not_projections: dict[str, str] = field(default_factory=lambda: dict(NOT_PROJECTIONS))
    not_yet_replayed: dict[str, str] = field(default_factory=lambda: dict(NOT_YET_REPLAYED))
    not_compared: dict[str, str] = field(default_factory=lambda: dict(NOT_COMPARED))
    unknown_event_types: list[str] = field(default_factory=list)
    #: ``"table.column"`` → cells an older ledger's events cannot give back, taken from the
    #: live rows instead of compared (:data:`~socialcredit.store.replay_tables.FROM_LIVE`)
    taken_from_live: dict[str, int] = field(default_factory=dict)
    from_live: dict[str, str] = field(default_factory=lambda: dict(FROM_LIVE))

    @property
    def ok(self) -> bool:
        return all(t.difference is None for t in self.tables)

    @property
    def first_difference(self) -> Difference | None:
        return next((t.difference for t in self.tables if t.difference is not None), None)

    @property
    def events_per_second(self) -> float:
        return self.events / self.replay_seconds if self.replay_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(ok=self.ok, events_per_second=round(self.events_per_second, 1))
        diff = self.first_difference
        out["first_difference"] = None if diff is None else {**asdict(diff),
                                                             "message": diff.describe()}
        return out


def _iter_events(conn: Connection, upto: int, chunk: int = 20_000) -> Iterator[Any]:
    """``(seq, at, type, subject_id, policy_version, payload)`` tuples in ``seq`` order, read
    in keyset pages with the driver's cursor (no per-row SQLAlchemy objects)."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = ("SELECT seq, at, type, subject_id, policy_version, payload FROM events "
           f"WHERE seq > {mark} AND seq <= {mark} ORDER BY seq LIMIT {int(chunk)}")
    last = 0
    while last < upto:
        rows = conn.exec_driver_sql(sql, (last, upto)).fetchall()
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def replay_events(conn: Connection, *, upto: int | None = None,
                  list_public: Mapping[str, bool] | None = None) -> tuple[Projections, int]:
    """Apply every event up to ``upto`` (default: the head) to fresh :class:`Projections`;
    return them and the number of events read."""
    if upto is None:
        upto = int(conn.execute(select(ledger_head.c.seq)).scalar_one())
    proj = Projections(list_public)
    proj.seed_channels([dict(r._mapping) for r in conn.execute(select(contact_channels).where(
        contact_channels.c.source == "migration"))])
    proj.seed_repairs([dict(r._mapping) for r in conn.execute(select(repairs).where(
        repairs.c.decided_by == "due process"))])
    apply, loads, n = proj.apply, json.loads, 0
    for seq, at, type_, subject_id, policy_version, payload in _iter_events(conn, upto):
        apply(seq, at, type_, subject_id, policy_version, loads(payload))
        n += 1
    proj.finish()
    return proj, n


def _take_from_live(conn: Connection, proj: Projections) -> dict[str, int]:
    """Copy into ``proj`` the cells its events cannot give back (:attr:`Projections.trusted`)
    from the live rows; return ``{"table.column": cells taken}``."""
    taken: dict[str, int] = {}
    for spec in SPECS:
        trusted = proj.trusted.get(spec.name)
        if not trusted:
            continue
        (key,) = spec.key
        cols = sorted(set().union(*trusted.values()))
        rows = proj.tables[spec.name]
        for live in conn.execute(select(*(metadata.tables[spec.name].c[c]
                                          for c in (key, *cols)))):
            k = live[0]
            for col in trusted.get(k, ()):
                if k in rows:
                    rows[k][col] = live[1 + cols.index(col)]
                    taken[f"{spec.name}.{col}"] = taken.get(f"{spec.name}.{col}", 0) + 1
    return taken


def _scratch_table(md: MetaData, name: str) -> Table:
    """The live table's columns without its constraints (a scratch copy holds what the ledger
    implies, even where that would break a live constraint)."""
    live = metadata.tables[name]
    return Table(name, md, *[Column(c.name, c.type, primary_key=c.primary_key,
                                    autoincrement=False) for c in live.columns])


def _write_scratch(url: str, proj: Projections) -> None:
    engine = create_engine(url)
    try:
        md = MetaData()
        tables = [_scratch_table(md, s.name) for s in SPECS]
        md.create_all(engine)
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        with engine.begin() as conn:
            for spec, table in zip(SPECS, tables, strict=True):
                # the driver's executemany on plain tuples: the scratch copy is written at
                # the speed the database takes rows, not at SQLAlchemy's per-row cost
                names = [c.name for c in table.columns]
                sql = (f"INSERT INTO {spec.name} ({', '.join(names)}) "
                       f"VALUES ({', '.join([mark] * len(names))})")
                get = [(n, n == "id") for n in names]
                rows = [tuple(k if is_id and n not in r else r.get(n) for n, is_id in get)
                        for k, r in proj.tables[spec.name].items()]
                for i in range(0, len(rows), _INSERT_CHUNK):
                    conn.exec_driver_sql(sql, rows[i:i + _INSERT_CHUNK])
    finally:
        engine.dispose()


def _ordered(conn: Connection, spec: TableSpec,
             ) -> Generator[tuple[Any, ...], None, None]:
    """Rows of ``spec``'s table as tuples, key columns first, in key order — the order
    Python's tuple comparison gives (code-point order for text: ``COLLATE "C"`` on PostgreSQL,
    SQLite's default)."""
    table = metadata.tables[spec.name]
    pg = conn.dialect.name == "postgresql"
    order = [f'{k} COLLATE "C"' if pg and isinstance(table.c[k].type, SAString) else k
             for k in spec.key]
    cols = [*spec.key, *(c for c in spec.columns if c not in spec.key)]
    # the driver's cursor, streamed (server-side on PostgreSQL): plain tuples, no Row objects
    result = conn.execution_options(yield_per=10_000).exec_driver_sql(
        f"SELECT {', '.join(cols)} FROM {spec.name} ORDER BY {', '.join(order)}")
    try:
        for row in result:
            yield tuple(row)
    finally:
        result.close()


def _compare(live: Connection, scratch: Connection, spec: TableSpec) -> TableResult:
    a, b = _ordered(live, spec), _ordered(scratch, spec)
    try:
        return _walk(spec, a, b)
    finally:
        a.close()
        b.close()


def _walk(spec: TableSpec, a: Iterator[tuple[Any, ...]], b: Iterator[tuple[Any, ...]],
          ) -> TableResult:
    n = len(spec.key)
    cols = [*spec.key, *(c for c in spec.columns if c not in spec.key)]
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


def replay(store: Store, *, list_public: Mapping[str, bool] | None = None,
           folder: Path | None = None) -> ReplayResult:
    """Rebuild the projections of :data:`SPECS` from ``store``'s ledger into a scratch
    database and compare them with the live tables, table by table.

    ``list_public``: list name → public, for entry events older than the ``public`` key.
    ``folder``: where a SQLite scratch file goes (default: a temporary folder, removed).
    The scratch database of a PostgreSQL store is a fresh schema on the same server.

    Returns a :class:`ReplayResult` (``ok`` False names the first difference).

    Raises:
        StoreUnavailable: the live database cannot be read.
    """
    started = time.perf_counter()
    with store.read() as conn:
        head = int(conn.execute(select(ledger_head.c.seq)).scalar_one())
        proj, n = replay_events(conn, upto=head, list_public=list_public)
        taken = _take_from_live(conn, proj)
    replayed = time.perf_counter() - started
    live_url = None
    if store.dialect == "postgresql":  # the same server, without the live search path
        live_url = make_url(store.url).difference_update_query(["options"]).render_as_string(
            hide_password=False)
    with tempfile.TemporaryDirectory(prefix="replay-", dir=folder) as tmp, \
            scratch_database(live_url, Path(tmp), prefix="replay_") as url:
        _write_scratch(url, proj)
        engine = create_engine(url)
        try:
            with store.read() as live, engine.connect() as scratch:
                tables = [_compare(live, scratch, spec) for spec in SPECS]
        finally:
            engine.dispose()
        where = "a scratch SQLite file" if url.startswith("sqlite") else "a scratch schema"
    return ReplayResult(events=n, head_seq=head, replay_seconds=replayed,
                        seconds=time.perf_counter() - started, tables=tables, scratch=where,
                        unknown_event_types=sorted(proj.unknown_types), taken_from_live=taken)
