"""The ledger: append-only, gap-free, SHA-256 hash-chained events.

Every change to the registry is written through a :class:`Batch`: it takes the registry's single
write lock (the ``ledger_head`` row), hands out sequence numbers and primary keys, and on exit
inserts the events and the projection rows in one transaction, so the ledger and the projections
never disagree.

Event hash (hex SHA-256) over the UTF-8 bytes of::

    prev_hash | seq | at | type | subject_id ("" if none) | policy_version ("" if none)
        | payload_digest

where ``payload_digest`` is the hex SHA-256 of the payload, canonical JSON (sorted keys, no
spaces, UTF-8). The first event's ``prev_hash`` is 64 zeros. Hashing the payload's digest
rather than the payload lets retention erase a payload (:func:`tombstone`): the payload is
replaced by ``{"_tombstone": <its digest>, ...}`` and the chain still verifies, while nobody
can put other content in its place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Table, func, select, update

from socialcredit.errors import LedgerBroken
from socialcredit.store.bulk import bulk_insert
from socialcredit.store.tables import events, ledger_head, metadata

__all__ = ["GENESIS_HASH", "Batch", "VerifyResult", "canonical_json", "event_hash",
           "parse_json", "payload_digest", "tombstone", "verify"]

GENESIS_HASH = "0" * 64


#: The reference encoder (``json.dumps`` with options builds a new one per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
#: A float (a number with a fraction or an exponent) where a value starts: orjson writes some
#: floats differently from the reference (``1e-7`` against ``1e-07``, ``0.00006103515625``
#: against ``6.103515625e-05``). Text that looks like one only sends the value to the reference.
_FLOAT = re.compile(rb"(?:^|[:,\[])-?[0-9]+[.eE]")
#: Dates, dataclasses and subclasses of built-in types go to the reference too, which refuses
#: what it refused before (a date in a payload is a caller's bug, not a format).
_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
            | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS)


def canonical_json(value: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, non-ASCII kept as UTF-8.

    The output is that of the standard library's ``json`` with ``sort_keys=True``,
    ``separators=(",", ":")`` and ``ensure_ascii=False`` (the reference, which every stored
    payload and content hash was written with), written by orjson for speed. The values orjson
    writes differently go to the reference: any value holding a float (orjson writes some in
    another notation), integers beyond 64 bits, lone surrogates and keys that are not text (orjson
    refuses the last three); so does whatever else orjson refuses, and the reference encodes it
    or raises ``TypeError`` as before. One deliberate difference: a NaN or infinite float, which
    JSON cannot hold, is written ``null`` (the reference wrote ``NaN``, which no JSON reader
    outside Python accepts); no payload holds one. ``tests/test_canonical_json.py`` keeps the
    two equal."""
    try:
        out = orjson.dumps(value, option=_OPTIONS)
    except TypeError:
        return _CANONICAL.encode(value)
    if (b"." in out or b"e+" in out or b"e-" in out) and _FLOAT.search(out):
        return _CANONICAL.encode(value)
    return out.decode()


#: Text orjson could read differently from the reference: an integer of 19 digits or more
#: (orjson turns one beyond 64 bits into a float) or a number with a fraction or an exponent.
#: Such text (or a string merely holding such digits) is read by the reference.
_NUMBER_RISK = re.compile(r"[0-9]{19}|[0-9][.eE]")


def parse_json(text: str) -> Any:
    """JSON text as the standard library's ``json.loads`` reads it (the reference), read by
    orjson where the two give the same value: text holding a long integer or a float goes to
    the reference, and so does whatever orjson refuses (lone surrogates, ``NaN``, nesting past
    1,024 levels), so the reference's value or its exception (``json.JSONDecodeError``,
    ``ValueError``, ``RecursionError``) is what the caller gets. ``tests/test_canonical_json.py``
    keeps the two equal."""
    if _NUMBER_RISK.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def event_hash(
    prev_hash: str,
    seq: int,
    at: str,
    type_: str,
    subject_id: int | None,
    policy_version: str | None,
    payload: str,
) -> str:
    """Hex SHA-256 of one event; see the module docstring for the exact bytes. A tombstoned
    payload contributes the digest it keeps."""
    text = "|".join(
        (prev_hash, str(seq), at, type_, "" if subject_id is None else str(subject_id),
         policy_version or "", payload_digest(payload))
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_TOMBSTONE_PREFIX = '{"_tombstone":"'


def payload_digest(payload: str) -> str:
    """Hex SHA-256 of a canonical payload, or the digest a tombstone keeps."""
    if payload.startswith(_TOMBSTONE_PREFIX):
        return str(json.loads(payload)["_tombstone"])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def tombstone(conn: Connection, seq: int, *, reason: str, on: str) -> bool:
    """Replace the payload of event ``seq`` by ``{"_tombstone": digest, "reason", "on"}``
    (erasure for retention); return False if it already was one. The hash chain is
    unchanged and still verifies."""
    payload = conn.execute(select(events.c.payload).where(events.c.seq == seq)).scalar_one()
    if payload.startswith(_TOMBSTONE_PREFIX):
        return False
    body = canonical_json({"_tombstone": payload_digest(payload), "on": on, "reason": reason})
    conn.execute(update(events).where(events.c.seq == seq).values(payload=body))
    return True


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class Batch:
    """One write transaction of the registry (use :meth:`Store.batch`).

    ``emit`` appends an event and returns its ``seq``; ``add`` queues a projection row for bulk
    insert; ``next_id`` allocates primary keys (safe because the batch holds the write lock).
    Queued rows are inserted in queue order of tables at :meth:`flush` (called on exit).
    """

    def __init__(self, conn: Connection, policy_version: str | None = None) -> None:
        self.conn = conn
        self.policy_version = policy_version
        # Take the write lock first (an UPDATE), then read the head: portable to SQLite (which
        # would otherwise deadlock upgrading a read lock) and PostgreSQL (row lock).
        conn.execute(update(ledger_head).where(ledger_head.c.id == 1).values(seq=ledger_head.c.seq))
        head = conn.execute(select(ledger_head.c.seq, ledger_head.c.hash)).one()
        self.seq: int = head.seq
        self.hash: str = head.hash
        self.at = utc_now()
        self._events: list[dict[str, Any]] = []
        self._rows: dict[Table, list[dict[str, Any]]] = defaultdict(list)
        self._next_ids: dict[Table, int] = {}

    def emit(self, type_: str, payload: dict[str, Any], subject_id: int | None = None) -> int:
        body = canonical_json(payload)
        self.seq += 1
        digest = event_hash(self.hash, self.seq, self.at, type_, subject_id, self.policy_version,
                            body)
        self._events.append(
            {"seq": self.seq, "at": self.at, "type": type_, "subject_id": subject_id,
             "policy_version": self.policy_version, "payload": body, "prev_hash": self.hash,
             "hash": digest}
        )
        self.hash = digest
        return self.seq

    def next_id(self, table: Table) -> int:
        if table not in self._next_ids:
            pk = list(table.primary_key.columns)[0]
            self._next_ids[table] = self.conn.execute(select(func.max(pk))).scalar() or 0
        self._next_ids[table] += 1
        return self._next_ids[table]

    def add(self, table: Table, row: dict[str, Any]) -> None:
        self._rows[table].append(row)

    @property
    def event_count(self) -> int:
        return len(self._events)

    def flush(self) -> None:
        """Insert queued events and rows, and move the head. Idempotent within a batch."""
        if self._events:
            bulk_insert(self.conn, events, self._events)
            self._events = []
        for table in metadata.sorted_tables:  # parents before children (foreign keys)
            rows = self._rows.get(table)
            if rows:
                bulk_insert(self.conn, table, rows)
        self._rows.clear()
        self.conn.execute(
            update(ledger_head).where(ledger_head.c.id == 1).values(seq=self.seq, hash=self.hash)
        )


@dataclass(frozen=True)
class VerifyResult:
    """``ok`` with ``events`` checked and the ``head_hash``; otherwise ``broken_seq`` (the first
    event that does not verify) and ``reason``."""

    ok: bool
    events: int
    head_hash: str
    broken_seq: int | None = None
    reason: str | None = None

    def raise_if_broken(self) -> None:
        if not self.ok:
            raise LedgerBroken(
                f"ledger broken at event {self.broken_seq}: {self.reason}",
                details={"seq": self.broken_seq, "reason": self.reason},
            )


def _iter_events(conn: Connection, upto: int, chunk: int = 20_000) -> Iterator[Any]:
    last = 0
    while True:
        rows = conn.execute(
            select(events).where(events.c.seq > last, events.c.seq <= upto)
            .order_by(events.c.seq).limit(chunk)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify(conn: Connection) -> VerifyResult:
    """Recompute the whole chain: gap-free ``seq`` from 1, each ``prev_hash`` equal to the
    previous event's hash, each ``hash`` equal to its recomputation, and the head matching.

    Safe on a live registry: the chain is checked up to the head read first (writers commit
    their events and the head together), so a write committing meanwhile is not a break."""
    head = conn.execute(select(ledger_head.c.seq, ledger_head.c.hash)).one()
    prev, expected, count = GENESIS_HASH, 1, 0
    for ev in _iter_events(conn, head.seq):
        if ev.seq != expected:
            return VerifyResult(False, count, prev, expected, f"sequence gap: found {ev.seq}")
        if ev.prev_hash != prev:
            return VerifyResult(False, count, prev, ev.seq, "prev_hash does not match")
        digest = event_hash(prev, ev.seq, ev.at, ev.type, ev.subject_id, ev.policy_version,
                            ev.payload)
        if digest != ev.hash:
            return VerifyResult(False, count, prev, ev.seq, "hash does not match its content")
        prev, expected, count = digest, expected + 1, count + 1
    if head.seq != count or head.hash != prev:
        return VerifyResult(False, count, prev, count + 1, "ledger head does not match the chain")
    # events past the head are a break unless a write committed them (and moved the head) since
    last = conn.execute(select(func.max(events.c.seq))).scalar() or 0
    if last > head.seq and last > conn.execute(select(ledger_head.c.seq)).scalar_one():
        return VerifyResult(False, count, prev, count + 1, "ledger head does not match the chain")
    return VerifyResult(True, count, prev)
