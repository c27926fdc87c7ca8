"""The gate index: identifier → active restrictions, in memory, following the ledger.

A :class:`~socialcredit.gate.compact.CompactTable` (NumPy columns and a hash index of 64-bit
identifier codes) is built from the projections — active list entries and the current
identifiers of their subjects — and then kept current by :meth:`GateIndex.refresh`, which reads
the ledger after the last applied ``seq`` and reloads only the subjects those events touch into a
small overlay (no restart, no full rebuild per change). When the overlay grows past
``compact_after`` subjects the base is rebuilt.

Keys are ``"<kind>:<value>"``: ``national_id`` (canonical form), ``phone`` (E.164, current
holder only, and not a number marked shared) or ``document`` (passport or ID document number,
upper-case, no spaces or hyphens). Names are indexed only for subjects on external lists, and a
name alone never denies (DESIGN §3.2).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, func, or_, select

from socialcredit.gate.base_load import current_keys, identifier_keys, load_base
from socialcredit.gate.codes import encode_key, is_exact
from socialcredit.gate.compact import CompactTable, EntryRow, day_number
from socialcredit.gate.went_back import HeadFollower, check_went_back, latest_restore
from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.tables import events, furnishers, list_entries, names

__all__ = ["GateIndex", "Restriction"]

_TRACKED = ("entry.", "identifier.", "subject.", "record.linked", "record.unlinked")
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Restriction:
    """One active list entry as a gate sees it; ``services`` pairs each sanctioned service with
    the legal basis of its sanction."""

    entry_id: int
    subject_id: int
    list: str
    services: tuple[tuple[str, str], ...]
    platform: str | None
    scoped_to_platform: bool
    ground: int | None
    since: str
    until: str | None
    furnisher: str | None


class GateIndex:
    """See the module docstring. One writer at a time (build/refresh are serialised: a server
    refreshes from its follower thread and after each submission) and many readers."""

    def __init__(self, store: Store, policy: Policy, *, compact_after: int = 100_000,
                 head_key: Path | None = None) -> None:
        self.store, self.policy, self.compact_after = store, policy, compact_after
        #: the signed tree head followed (``head_key``: the registry's public key file)
        self.heads = HeadFollower(head_key)
        self.services = tuple(policy.services)
        self._basis = {name: {svc: s.legal_basis for s in policy.sanctions_for(name)
                              for svc in s.services} for name in policy.lists}
        self._scoped = {name: any(s.scope == "platform" for s in policy.sanctions_for(name))
                        for name in policy.lists}
        self._lock = threading.Lock()
        # one build/refresh at a time: a refresh that read the database earlier must not
        # apply its older state after a later one (tests/faults/test_concurrency.py)
        self._writer = threading.RLock()
        self._reset(CompactTable.from_entries(self.services, [], []), {})
        self.names: dict[str, set[int]] = defaultdict(set)
        self.subject_names: dict[int, tuple[str, ...]] = {}
        #: grows with every change of ``subject_names`` (gate.names rebuilds its matcher)
        self.names_version = 0
        self.last_seq = 0
        #: Hash of the event at ``last_seq`` (None: not known yet): a ledger replaced under
        #: a running index (a restore) is noticed by it and the index rebuilt.
        self.last_hash: str | None = None
        #: the newest ``ledger.restored`` event when the index was built (gate/went_back.py)
        self.restore_mark: tuple[int, str, str] | None = None
        #: when the event at ``last_seq`` was written (a restore must come after it)
        self.last_at: str | None = None
        #: time.time() of the last successful build or refresh (staleness is measured from it)
        self.last_ok = 0.0
        #: ledger lag seen by the last refresh, before applying: events and seconds
        self.lag_events = 0
        self.lag_seconds = 0.0

    @property
    def staleness_seconds(self) -> float:
        """Seconds since the index last heard from the database (0 right after a refresh)."""
        return max(0.0, time.time() - self.last_ok) if self.last_ok else float("inf")

    def _reset(self, base: CompactTable, hashed: dict[int, str]) -> None:
        # readers take each attribute once; the overlay is emptied before the base is swapped,
        # and a table carries its own stale marks, so no reader sees a mixed state
        self.overlay: dict[int, tuple[Restriction, ...]] = {}
        # subject → (its codes in the overlay, its restrictions)
        self.overlay_subjects: dict[int, tuple[tuple[int, ...], tuple[Restriction, ...]]] = {}
        self.overlay_codes = np.zeros(0, dtype=np.uint64)
        self.overlay_holders: dict[int, frozenset[int]] = {}  # code → subjects holding it
        self.hashed = hashed
        self.base = base

    @property
    def stale(self) -> npt.NDArray[np.bool_]:
        """Rows of the base table superseded by the overlay."""
        return self.base.stale

    # ----------------------------------------------------------------- loading
    def _restriction(self, e: EntryRow) -> Restriction:
        basis = self._basis.get(e.list, {})
        return Restriction(e.entry_id, e.subject_id, e.list,
                           tuple((s, basis[s]) for s in e.services if s in basis), e.platform,
                           self._scoped.get(e.list, False), e.ground, e.since, e.until,
                           e.furnisher)

    def _load(self, conn: Connection, subject_ids: Iterable[int] | None,
              ) -> tuple[list[EntryRow], list[tuple[str, int]], dict[int, list[str]]]:
        """Active entries, current keys and (external lists) name keys of some subjects, or of
        every restricted subject when ``subject_ids`` is None."""
        labels = dict(conn.execute(select(furnishers.c.id, furnishers.c.name)).all())
        services_of = {n: self.policy.services_of(n) for n in self.policy.lists}
        external = {n for n, s in self.policy.lists.items() if s.external}
        chunks: Iterable[list[int] | None]
        if subject_ids is None:
            chunks = [None]
        else:
            ids = sorted(set(subject_ids))
            chunks = [ids[i:i + _CHUNK] for i in range(0, len(ids), _CHUNK)]
        entries: list[EntryRow] = []
        keys: list[tuple[str, int]] = []
        name_keys: dict[int, list[str]] = defaultdict(list)
        for part in chunks:
            stmt = select(list_entries).where(list_entries.c.status == "active",
                                              list_entries.c.list.in_(list(services_of)))
            active_ids = select(list_entries.c.subject_id).where(
                list_entries.c.status == "active")
            if part is not None:
                stmt = stmt.where(list_entries.c.subject_id.in_(part))
                active_ids = active_ids.where(list_entries.c.subject_id.in_(part))
            for e in conn.execute(stmt):
                # a sanction a court lifted for this entry refuses nothing (the daily clock
                # re-evaluates the entry when the lift ends, and the rules drop it)
                lifted = {svc for svc, _ in json.loads(e.lifted)} if e.lifted else set()
                entries.append(EntryRow(
                    e.subject_id, e.id, e.list,
                    tuple(s for s in services_of[e.list] if s not in lifted), e.ground,
                    e.since, e.until,
                    labels.get(e.furnisher_id) or self.policy.lists[e.list].source,
                    e.platform))
            for sid, kind_, value_ in conn.execute(current_keys(active_ids)):
                keys += [(f"{kind}:{value}", sid)
                         for kind, value in identifier_keys(self.policy, kind_, value_)]
            ext = select(list_entries.c.subject_id).where(
                list_entries.c.status == "active", list_entries.c.list.in_(sorted(external)))
            if part is not None:
                ext = ext.where(list_entries.c.subject_id.in_(part))
            for n in conn.execute(select(names.c.subject_id, names.c.name_key).where(
                    names.c.subject_id.in_(ext))):
                name_keys[n.subject_id].append(n.name_key)
        return entries, keys, name_keys

    def restricted(self) -> tuple[list[EntryRow], list[tuple[str, int]]]:
        """Every active entry of a sanctioned list and its subject's current keys (snapshots)."""
        with self.store.read() as conn:
            entries, keys, _ = self._load(conn, None)
        return entries, keys

    def build(self) -> None:
        """(Re)build the base table from the projections."""
        with self._writer:
            self._build()

    def _build(self) -> None:
        with self.store.read() as conn:
            head = conn.execute(select(func.coalesce(func.max(events.c.seq), 0))).scalar_one()
            last = conn.execute(select(events.c.hash, events.c.at).where(
                events.c.seq == head)).first()
            self.last_hash, self.last_at = (None, None) if last is None else tuple(last)
            self.restore_mark = latest_restore(conn)
            self.heads.reset(conn)
            # column by column, in blocks (gate/base_load.py): national scale in bounded memory
            base, hashed, name_keys = load_base(conn, self.policy, self.services)
        with self._lock:
            self._reset(base, hashed)
            self._set_names(name_keys, replace_all=True)
        self.last_seq = int(head)
        self.last_ok = time.time()

    def install(self, table: CompactTable, *, last_seq: int = 0,
                hashed: dict[int, str] | None = None) -> None:
        """Serve ``table`` as the base (for tables built elsewhere, e.g. from arrays at national
        scale in ``bench/gate_national.py``); the overlay is cleared."""
        with self._lock:
            self._reset(table, dict(hashed or {}))
        self.last_seq, self.last_hash, self.last_at = last_seq, None, None
        self.last_ok = time.time()

    def refresh(self) -> int:
        """Apply ledger events after ``last_seq``; return how many subjects were reloaded."""
        with self._writer:
            return self._refresh()

    def _refresh(self) -> int:
        touched: list[int] = []
        with self.store.read() as conn:  # one connection per refresh (every 200 ms)
            # the head first, then the events up to it: an event committed in between is left
            # for the next refresh instead of being skipped (the ledger lock makes sequence
            # order commit order)
            head = int(conn.execute(select(func.coalesce(func.max(events.c.seq), 0))
                                    ).scalar_one())
            marks = {r.seq: (r.hash, r.at) for r in conn.execute(
                select(events.c.seq, events.c.hash, events.c.at).where(
                    events.c.seq.in_({self.last_seq, head})))}
            # the ledger went back or was replaced (a restore under a running server): what
            # this index holds is not that ledger's; start again from it
            replaced = bool(self.last_seq) and (head < self.last_seq or (
                self.last_hash is not None
                and marks.get(self.last_seq, (None,))[0] != self.last_hash))
            if replaced:  # only a restore may do that (raises LedgerForked otherwise)
                check_went_back(conn, last_seq=self.last_seq, last_hash=self.last_hash,
                                last_at=self.last_at, head=head,
                                known_restore=self.restore_mark)
            if not replaced:  # each newer signed head extends the one followed
                self.heads.check(conn, known_restore=self.restore_mark)
                rows = conn.execute(
                    select(events.c.seq, events.c.subject_id, events.c.at).where(
                        events.c.seq > self.last_seq, events.c.seq <= head,
                        or_(*(events.c.type.startswith(p) for p in _TRACKED)))
                    .order_by(events.c.seq)
                ).all()
                touched = sorted({r.subject_id for r in rows if r.subject_id is not None})
                if touched:
                    loaded = self._load(conn, touched)
        if replaced:
            self._build()
            return -1
        now = time.time()
        self.lag_events = head - self.last_seq
        self.lag_seconds = max(0.0, now - dt.datetime.fromisoformat(rows[0].at).timestamp()
                               ) if rows else 0.0
        if touched:
            self._apply(touched, *loaded)
            if len(self.overlay_subjects) > self.compact_after:
                self.build()
        if head > self.last_seq:
            self.last_hash, self.last_at = marks.get(head, (None, None))
        self.last_seq = max(head, self.last_seq)
        self.last_ok = now
        return len(touched)

    def _apply(self, touched: list[int], entries: list[EntryRow], keys: list[tuple[str, int]],
               name_keys: dict[int, list[str]]) -> None:
        by_subject: dict[int, list[Restriction]] = defaultdict(list)
        for e in entries:
            by_subject[e.subject_id].append(self._restriction(e))
        keys_of: dict[int, list[str]] = defaultdict(list)
        for k, sid in keys:
            keys_of[sid].append(k)
        with self._lock:
            overlay, subjects_ = dict(self.overlay), dict(self.overlay_subjects)
            holders, changed = dict(self.overlay_holders), set()
            for sid in touched:
                for code in subjects_.pop(sid, ((), ()))[0]:
                    holders[code] = holders[code] - {sid}
                    changed.add(code)
                restrictions = tuple(by_subject.get(sid, ()))
                codes = []
                for k in keys_of.get(sid, ()) if restrictions else ():
                    code = encode_key(k)
                    if not is_exact(code):
                        self.hashed[code] = k
                    holders[code] = holders.get(code, frozenset()) | {sid}
                    changed.add(code)
                    codes.append(code)
                subjects_[sid] = (tuple(codes), restrictions)
            for code in changed:  # a key two subjects hold answers with both (issue #14)
                if holders[code]:
                    overlay[code] = tuple(r for s in sorted(holders[code]) for r in subjects_[s][1])
                else:
                    del holders[code]
                    overlay.pop(code, None)
            self.overlay_holders = holders
            # publish the new answers first, then retire the old rows: a reader never finds
            # a listed person in neither place (no flicker to "allow")
            self.overlay_subjects, self.overlay = subjects_, overlay
            self.overlay_codes = np.array(sorted(overlay), dtype=np.uint64)
            base = self.base
            for sid in touched:
                row = base.row_of_subject(sid)
                if row >= 0:
                    base.stale[row] = True
            self._set_names({sid: name_keys.get(sid, []) for sid in touched})

    def _set_names(self, name_keys: dict[int, list[str]], *, replace_all: bool = False) -> None:
        if replace_all or any(self.subject_names.get(s, ()) != tuple(k)
                              for s, k in name_keys.items()):
            self.names_version += 1
        if replace_all:
            self.names, self.subject_names = defaultdict(set), {}
        for sid, keys in name_keys.items():
            for nk in self.subject_names.pop(sid, ()):
                self.names[nk].discard(sid)
            if keys:
                self.subject_names[sid] = tuple(keys)
                for nk in keys:
                    self.names[nk].add(sid)

    def lookup(self, key: str) -> tuple[Restriction, ...]:
        """Active restrictions of every subject holding identifier ``key`` (empty if none)."""
        code = encode_key(key)
        if code in self.hashed and self.hashed[code] != key:
            return ()
        return self.lookup_code(code)

    def lookup_code(self, code: int) -> tuple[Restriction, ...]:
        """Like :meth:`lookup` for an encoded key (exact codes; a hashed code must have been
        checked against its string first)."""
        found = self.overlay.get(code, ())
        base = self.base  # every holder of the key: one reloaded, another not (issue #14)
        return found + tuple(r for row in base.rows_of(code) if not base.stale[row]
                             for r in self.table_restrictions(base, row))

    def lookup_name(self, name_key: str) -> tuple[Restriction, ...]:
        out: list[Restriction] = []
        for sid in self.names.get(name_key, ()):
            out.extend(self.subject_restrictions(sid))
        return tuple(out)

    def subject_restrictions(self, sid: int) -> tuple[Restriction, ...]:
        """Active restrictions of subject ``sid`` (empty if none)."""
        reloaded = self.overlay_subjects.get(sid)
        if reloaded is not None:
            return reloaded[1]
        base = self.base
        row = base.row_of_subject(sid)
        if row >= 0 and not base.stale[row]:
            return tuple(self.table_restrictions(base, row))
        return ()

    def split(self, codes: npt.NDArray[np.uint64], service: str, platform: str | None,
              day: str) -> tuple[CompactTable, npt.NDArray[np.int64], npt.NDArray[np.int64],
                                 npt.NDArray[np.int64]]:
        """Vectorised decision for many codes: returns ``(table, denied, rows, overlay)`` —
        positions refused by the base ``table`` (exactly: service, ``until`` > ``day``, platform
        scope), their subject rows, and positions to check one by one with :meth:`lookup_code`
        (a subject reloaded into the overlay, a key several subjects hold)."""
        base = self.base
        stale = base.stale
        bit = base.bits.get(service)
        rows = base.rows(codes)
        found = np.flatnonzero(rows >= 0)
        denied = np.zeros(0, dtype=np.int64)
        if bit is not None and len(found):
            r = rows[found]
            may = ((base.row_mask[r] & bit) != 0) & (base.row_until[r] > day_number(day)) \
                & ~stale[r]
            cand, r = found[may], r[may]
            denied = cand[base.deny_rows(r, bit, day_number(day),
                                         self._platform_ok(base, platform))]
        one_by_one = np.concatenate((self.overlay_codes, base.multi_codes))
        overlay = np.flatnonzero(np.isin(codes, one_by_one)) \
            if len(one_by_one) else np.zeros(0, dtype=np.int64)
        return base, denied, rows[denied], overlay

    def _platform_ok(self, base: CompactTable, platform: str | None) -> npt.NDArray[np.bool_]:
        """``[list, label]``: does an entry of that list made on that platform label refuse on
        ``platform``? Unscoped lists: always; platform-scoped ones: on the listing platform and
        on the recipients of a sharing agreement (last column: entries without a platform)."""
        ok = np.zeros((len(base.lists), len(base.labels) + 1), dtype=np.bool_)
        for i, name in enumerate(base.lists):
            if not self._scoped.get(name, False):
                ok[i, :] = True
                continue
            for source in self.policy.shared_with(name, platform):
                if source in base.labels:
                    ok[i, base.labels.index(source)] = True
        return ok

    def table_restrictions(self, table: CompactTable, row: int) -> tuple[Restriction, ...]:
        """Restrictions of a row of ``table`` (a base table, possibly replaced since)."""
        return tuple(self._restriction(e) for e in table.entries(row))

    @property
    def size(self) -> int:
        """Identifiers in the index (base keys not superseded, plus overlay keys)."""
        base = self.base
        live = int(np.count_nonzero(~base.stale[base.key_row])) if len(base) else 0
        return live + len(self.overlay)
