"""``audit replay``: rebuild the projections from the ledger alone and compare them with the live
tables, so that a row changed behind the ledger's back (an entry deleted by someone with
database access, a moved record, an edited score) is found and named.

Steps: read every event in ``seq`` order and apply it to in-memory projections
(:class:`~socialcredit.store.replay_events.Projections`), reading the events in pages from the
driver's cursor and decoding each page's payloads in one ``json.loads``; compare each table of
:data:`~socialcredit.store.replay_tables.SPECS` with the live one, page by page against the
sorted replayed rows (:mod:`socialcredit.store.replay_compare`); write each table that differs
to a scratch database (a SQLite file in a temporary folder, or a fresh PostgreSQL schema on
the live server, dropped afterwards; :func:`~socialcredit.store.scratch.scratch_database`) with
the driver's executemany, and walk it against the live table in key order to the first row
that differs.

Consistency: the live tables are read in one transaction after the replay up to the head read
at the start; on a registry that is being written meanwhile, run it against a restored backup or
a quiet moment (a write landing between the two reads shows as a difference).
"""

from __future__ import annotations

import gc
import json
import tempfile
import time
from collections.abc import Collection, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, MetaData, Table, create_engine, select
from sqlalchemy.engine import make_url

from socialcredit.errors import LedgerBroken
from socialcredit.store.bulk import driver_pages
from socialcredit.store.replay_compare import (
    Difference,
    TableResult,
    compared_columns,
    first_difference,
    same_rows,
)
from socialcredit.store.replay_events import Projections
from socialcredit.store.replay_lists import names_from_live
from socialcredit.store.replay_notices import notices_from_live
from socialcredit.store.replay_queue import older_until
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
from socialcredit.store.tables import (
    contact_channels,
    ledger_head,
    link_candidates,
    metadata,
    names,
    repairs,
)

__all__ = ["Difference", "ReplayResult", "TableResult", "decoded", "event_pages", "replay",
           "replay_events"]

_INSERT_CHUNK = 5000


@dataclass
class ReplayResult:
    """What :func:`replay` found. ``events_per_second`` counts the replay alone (reading and
    applying the events), ``seconds`` the whole run including the comparison and any scratch
    writes; ``scratch`` says where the tables that differ were written (none when every table
    is equal)."""

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


def event_pages(conn: Connection, upto: int, page: int = 20_000,
                ) -> Generator[list[tuple[Any, ...]], None, None]:
    """``(seq, at, type, subject_id, policy_version, payload)`` tuples up to ``seq`` ``upto``,
    in ``seq`` order, in pages, from the driver's own cursor (streamed; no per-row SQLAlchemy
    objects)."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    yield from driver_pages(
        conn, "SELECT seq, at, type, subject_id, policy_version, payload FROM events "
        f"WHERE seq <= {mark} ORDER BY seq", (upto,), page=page, name="replay_events")


def decoded(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The payloads of a page of :func:`event_pages`, decoded in one ``json.loads``.

    Raises:
        LedgerBroken: a payload is not a JSON object (naming the event: run `audit verify`).
    """
    try:
        out: list[dict[str, Any]] = json.loads("[" + ",".join([r[5] for r in rows]) + "]")
        if len(out) == len(rows) and all(type(p) is dict for p in out):
            return out
    except ValueError:
        pass
    for seq, *_, text in rows:  # find the culprit, one payload at a time
        try:
            if type(json.loads(text)) is dict:
                continue
        except ValueError:
            pass
        raise LedgerBroken(f"the payload of event {seq} is not a JSON object: run `audit "
                           "verify`", details={"seq": seq})
    raise LedgerBroken("a page of event payloads does not decode: run `audit verify`",
                       details={"from_seq": rows[0][0], "to_seq": rows[-1][0]})


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of small acyclic rows are made: each
    of its full passes would walk every row made so far (reference counting still frees
    memory; the collector runs again on exit)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def replay_events(conn: Connection, *, upto: int | None = None,
                  list_public: Mapping[str, bool] | None = None,
                  adverse_kinds: Collection[str] | None = None) -> tuple[Projections, int]:
    """Apply every event up to ``upto`` (default: the head) to fresh :class:`Projections`;
    return them and the number of events read."""
    if upto is None:
        upto = int(conn.execute(select(ledger_head.c.seq)).scalar_one())
    proj = Projections(list_public, adverse_kinds)
    proj.seed_channels([dict(r._mapping) for r in conn.execute(select(contact_channels).where(
        contact_channels.c.source == "migration"))])
    proj.seed_repairs([dict(r._mapping) for r in conn.execute(select(repairs).where(
        repairs.c.decided_by == "due process"))])
    n = 0
    with _no_cyclic_gc():
        for rows in event_pages(conn, upto):
            proj.apply_page(rows, decoded(rows))
            n += len(rows)
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
    sids = sorted(names_from_live(proj))
    for i in range(0, len(sids), 500):  # list subjects created before aliases were events
        for sid, name in conn.execute(select(names.c.subject_id, names.c.name).where(
                names.c.subject_id.in_(sids[i:i + 500]))):
            proj.tables["names"][(sid, name)] = {"subject_id": sid, "name": name}
            taken["names"] = taken.get("names", 0) + 1
    until, pairs = older_until(proj), proj.tables["link_candidates"]
    if until:  # review pairs made by code that changed the queue without events
        for row in conn.execute(select(link_candidates).where(
                link_candidates.c.created_seq <= until)):
            pairs[row.id] = dict(row._mapping)
            taken["link_candidates"] = taken.get("link_candidates", 0) + 1
    proj.tables["notices"], n_notices = notices_from_live(conn, proj.notices)
    if n_notices:
        taken["notices"] = n_notices
    return taken


def _scratch_table(md: MetaData, name: str) -> Table:
    """The live table's columns without its constraints, primary key included (a scratch copy
    holds what the ledger implies, even where that would break a live constraint; columns the
    replay does not compare stay NULL)."""
    live = metadata.tables[name]
    return Table(name, md, *[Column(c.name, c.type, autoincrement=False)
                             for c in live.columns])


def _rows(proj: Projections, spec: TableSpec) -> list[tuple[Any, ...]]:
    """The replayed rows of ``spec`` as tuples in compared-column order."""
    cols = compared_columns(spec)
    return [tuple(map(r.get, cols)) for r in proj.tables[spec.name].values()]


def _write_scratch(conn: Connection, specs: list[TableSpec],
                   tables: dict[str, list[tuple[Any, ...]]]) -> None:
    """Create the scratch tables of ``specs`` and insert their replayed rows with the driver's
    executemany on plain tuples (at the speed the database takes rows)."""
    if conn.dialect.name == "sqlite":  # a throwaway file: no journal, no fsync
        conn.exec_driver_sql("PRAGMA synchronous = OFF")
        conn.exec_driver_sql("PRAGMA journal_mode = OFF")
        conn.commit()
    md = MetaData()
    for spec in specs:
        _scratch_table(md, spec.name)
    with conn.begin():
        md.create_all(conn)
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        for spec in specs:
            cols = compared_columns(spec)
            sql = (f"INSERT INTO {spec.name} ({', '.join(cols)}) "
                   f"VALUES ({', '.join([mark] * len(cols))})")
            rows = tables[spec.name]
            for i in range(0, len(rows), _INSERT_CHUNK):
                conn.exec_driver_sql(sql, rows[i:i + _INSERT_CHUNK])


def _sorted(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]] | None:
    """``rows`` in key order (None where a NULL key makes them incomparable: the exact walk
    then orders them as the database does)."""
    try:
        rows.sort()
    except TypeError:
        return None
    return rows


def replay(store: Store, *, list_public: Mapping[str, bool] | None = None,
           adverse_kinds: Collection[str] | None = None,
           folder: Path | None = None) -> ReplayResult:
    """Rebuild the projections of :data:`SPECS` from ``store``'s ledger and compare them with
    the live tables, table by table; a table that differs is written to a scratch database and
    walked against the live one to name its first differing row.

    ``list_public``: list name → public, for entry events older than the ``public`` key.
    ``adverse_kinds``: record kinds whose acceptance owes a notice (the policy's catalogue;
    None: those notices are taken from the live table, see
    :mod:`~socialcredit.store.replay_notices`).
    ``folder``: where a SQLite scratch file goes (default: a temporary folder, removed).
    The scratch database of a PostgreSQL store is a fresh schema on the same server.

    Returns a :class:`ReplayResult` (``ok`` False names the first difference).

    Raises:
        StoreUnavailable: the live database cannot be read.
    """
    started = time.perf_counter()
    with _no_cyclic_gc():  # from the first event read to the last row compared
        with store.read() as conn:
            head = int(conn.execute(select(ledger_head.c.seq)).scalar_one())
            proj, n = replay_events(conn, upto=head, list_public=list_public,
                                    adverse_kinds=adverse_kinds)
            taken = _take_from_live(conn, proj)
        replayed = time.perf_counter() - started
        rows = {spec.name: _rows(proj, spec) for spec in SPECS}
        with store.read() as live:
            same = {spec.name for spec in SPECS
                    if same_rows(live, spec, _sorted(rows[spec.name]))}
    live_url = None
    if store.dialect == "postgresql":  # the same server, without the live search path
        live_url = make_url(store.url).difference_update_query(["options"]).render_as_string(
            hide_password=False)
    tables = {spec.name: TableResult(spec.name, len(rows[spec.name]), len(rows[spec.name]))
              for spec in SPECS if spec.name in same}
    differing = [spec for spec in SPECS if spec.name not in same]
    where = "none (every table equal)"
    if differing:
        with tempfile.TemporaryDirectory(prefix="replay-", dir=folder) as tmp, \
                scratch_database(live_url, Path(tmp), prefix="replay_") as url:
            engine = create_engine(url)
            try:
                with engine.connect() as scratch:
                    _write_scratch(scratch, differing, rows)
                with store.read() as live, engine.connect() as scratch:
                    tables.update((spec.name, first_difference(live, scratch, spec))
                                  for spec in differing)
            finally:
                engine.dispose()
        where = "a scratch SQLite file" if url.startswith("sqlite") else "a scratch schema"
    return ReplayResult(events=n, head_seq=head, replay_seconds=replayed,
                        seconds=time.perf_counter() - started,
                        tables=[tables[spec.name] for spec in SPECS], scratch=where,
                        unknown_event_types=sorted(proj.unknown_types), taken_from_live=taken)
