"""The compact base table of the gate index: NumPy columns and a pandas hash index.

One row per restricted subject, one key (64-bit code, :mod:`socialcredit.gate.codes`) per
identifier, one entry per active list entry. Memory is about 100 bytes per listed subject with
one identifier and one entry, hash table included (13.49 M subjects: 1.3 GB; measured by
``bench/gate_national.py``).

Columns (all NumPy arrays):

* keys: ``codes`` (uint64, unique), ``key_row`` (int32 → subject row); ``holders``
  (code → every row, for the few keys more than one subject holds) and ``multi_codes``;
* subjects: ``subject_ids`` (int64, sorted), ``row_start`` (int32, first entry; one extra
  trailing element), ``row_mask`` (uint32, OR of the entries' service bits), ``row_until``
  (int32, latest ``until`` in days since 1970-01-01, ``OPEN`` when open-ended);
* entries (grouped by row): ``entry_id`` (int64), ``entry_list`` (uint8 → ``lists``),
  ``entry_ground`` (int8, -1 none), ``entry_since`` / ``entry_until`` (int32 days),
  ``entry_furnisher`` / ``entry_platform`` (int32 → ``labels``, -1 none), ``entry_mask``
  (uint32 service bits over ``services``).

Lookups go through ``pandas.Index.get_indexer`` (a hash table: about 20–50 M lookups/s in
batches on this machine, against 1.5–7 M/s for sorted ``searchsorted``; NOTES.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["EPOCH", "OPEN", "CompactTable", "EntryRow", "day_number"]

EPOCH = dt.date(1970, 1, 1)
OPEN = np.iinfo(np.int32).max


def day_number(day: str | dt.date | None) -> int:
    """Days since 1970-01-01 of an ISO date; ``OPEN`` for None."""
    if day is None:
        return int(OPEN)
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    return (day - EPOCH).days


@dataclass(frozen=True, slots=True)
class EntryRow:
    """One entry as the builder receives it."""

    subject_id: int
    entry_id: int
    list: str
    services: tuple[str, ...]
    ground: int | None
    since: str
    until: str | None
    furnisher: str | None
    platform: str | None


class CompactTable:
    """Immutable base table; see the module docstring. Build with :meth:`from_entries` (from
    Python objects) or the constructor with NumPy arrays (vectorised, national scale)."""

    def __init__(self, *, services: Sequence[str], lists: Sequence[str], labels: Sequence[str],
                 codes: npt.NDArray[np.uint64], key_row: npt.NDArray[np.int32],
                 subject_ids: npt.NDArray[np.int64], entry_row: npt.NDArray[np.int32],
                 entry_id: npt.NDArray[np.int64], entry_list: npt.NDArray[np.uint8],
                 entry_ground: npt.NDArray[np.int8], entry_since: npt.NDArray[np.int32],
                 entry_until: npt.NDArray[np.int32], entry_furnisher: npt.NDArray[np.int32],
                 entry_platform: npt.NDArray[np.int32], entry_mask: npt.NDArray[np.uint32],
                 ) -> None:
        self.services = tuple(services)
        self.bits = {s: np.uint32(1 << i) for i, s in enumerate(self.services)}
        self.lists, self.labels = tuple(lists), tuple(labels)
        if len(entry_row) > 1 and bool(np.any(entry_row[1:] < entry_row[:-1])):
            order = np.argsort(entry_row, kind="stable")  # group entries by subject row
            entry_id, entry_list, entry_ground = entry_id[order], entry_list[order], \
                entry_ground[order]
            entry_since, entry_until = entry_since[order], entry_until[order]
            entry_furnisher, entry_platform = entry_furnisher[order], entry_platform[order]
            entry_mask, entry_row = entry_mask[order], entry_row[order]
        self.entry_id, self.entry_list, self.entry_ground = entry_id, entry_list, entry_ground
        self.entry_since, self.entry_until = entry_since, entry_until
        self.entry_furnisher, self.entry_platform = entry_furnisher, entry_platform
        self.entry_mask = entry_mask
        rows = entry_row
        n = len(subject_ids)
        self.subject_ids = subject_ids
        self.row_start = np.searchsorted(rows, np.arange(n + 1)).astype(np.int32)
        self.row_mask = np.zeros(n, dtype=np.uint32)
        self.row_until = np.zeros(n, dtype=np.int32)
        if len(rows):
            present = self.row_start[:-1] < self.row_start[1:]
            starts = self.row_start[:-1][present]
            self.row_mask[present] = np.bitwise_or.reduceat(self.entry_mask, starts)
            self.row_until[present] = np.maximum.reduceat(self.entry_until, starts)
        order = np.argsort(codes)
        dup = codes[order][1:] == codes[order][:-1]
        #: code → every subject row holding it, for the few keys held by more than one
        #: subject: the registry links one identifier to one subject, but an external list's
        #: entry may give the national ID of a domestic subject (issue #14); the hash index
        #: keeps one row per code, :meth:`rows_of` gives them all
        self.holders: dict[int, tuple[int, ...]] = {}
        if dup.any():
            held: dict[int, set[int]] = {}
            for i in np.flatnonzero(dup).tolist():
                held.setdefault(int(codes[order[i]]), set()).update(
                    (int(key_row[order[i]]), int(key_row[order[i + 1]])))
            self.holders = {c: tuple(sorted(r)) for c, r in held.items() if len(r) > 1}
            keep = np.sort(order[np.concatenate(([True], ~dup))])
            codes, key_row = codes[keep], key_row[keep]
        #: keys held by more than one subject
        self.duplicate_keys = len(self.holders)
        self.multi_codes = np.array(sorted(self.holders), dtype=np.uint64)
        del order, dup
        self.codes, self.key_row = codes, key_row
        self.index = pd.Index(codes, dtype="uint64", copy=False)
        #: rows whose subject was reloaded into an overlay since this table was built (the
        #: owner marks them; kept here so a table and its marks are swapped together)
        self.stale = np.zeros(n, dtype=np.bool_)

    @classmethod
    def from_entries(cls, services: Sequence[str], entries: Iterable[EntryRow],
                     keys: Iterable[tuple[int, int]]) -> CompactTable:
        """Build from entry rows and ``(code, subject_id)`` key pairs (subjects without an
        entry are dropped)."""
        ent = list(entries)
        subject_ids = np.array(sorted({e.subject_id for e in ent}), dtype=np.int64)
        lists = sorted({e.list for e in ent})
        labels = sorted({x for e in ent for x in (e.furnisher, e.platform) if x})
        li, lab = {n: i for i, n in enumerate(lists)}, {n: i for i, n in enumerate(labels)}
        bit = {s: 1 << i for i, s in enumerate(services)}
        pairs = [(c, s) for c, s in keys]
        rows_of = np.searchsorted(subject_ids, np.array([s for _, s in pairs], dtype=np.int64))
        known = [(c, int(r)) for (c, s), r in zip(pairs, rows_of, strict=True)
                 if r < len(subject_ids) and subject_ids[r] == s]
        return cls(
            services=services, lists=lists, labels=labels,
            codes=np.array([c for c, _ in known], dtype=np.uint64),
            key_row=np.array([r for _, r in known], dtype=np.int32),
            subject_ids=subject_ids,
            entry_row=np.searchsorted(subject_ids, np.array(
                [e.subject_id for e in ent], dtype=np.int64)).astype(np.int32),
            entry_id=np.array([e.entry_id for e in ent], dtype=np.int64),
            entry_list=np.array([li[e.list] for e in ent], dtype=np.uint8),
            entry_ground=np.array([-1 if e.ground is None else e.ground for e in ent],
                                  dtype=np.int8),
            entry_since=np.array([day_number(e.since) for e in ent], dtype=np.int32),
            entry_until=np.array([day_number(e.until) for e in ent], dtype=np.int32),
            entry_furnisher=np.array([lab[e.furnisher] if e.furnisher else -1 for e in ent],
                                     dtype=np.int32),
            entry_platform=np.array([lab[e.platform] if e.platform else -1 for e in ent],
                                    dtype=np.int32),
            entry_mask=np.array([sum(bit[s] for s in e.services if s in bit) for e in ent],
                                dtype=np.uint32),
        )

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def nbytes(self) -> int:
        """Bytes held: the columns and the hash table (``codes`` is shared with the index)."""
        self.index.get_indexer(self.codes[:1])  # the hash table is built on first use
        arrays = [v for v in vars(self).values() if isinstance(v, np.ndarray)]
        engine = self.index._engine  # pandas keeps the hash table here
        table = int(engine.sizeof()) if hasattr(engine, "sizeof") else 0
        return int(sum(a.nbytes for a in arrays)) + table

    def deny_rows(self, rows: npt.NDArray[np.int64], bit: np.uint32, day: int,
                  platform_ok: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """For each subject row, whether one of its entries refuses the service ``bit`` on
        ``day`` (days since 1970); ``platform_ok[list, label]`` says whether an entry of that
        list made on that platform label applies (its last column: entries without a
        platform). Vectorised over every entry of the rows."""
        starts = self.row_start[rows].astype(np.int64)
        counts = self.row_start[rows + 1].astype(np.int64) - starts
        out = np.zeros(len(rows), dtype=np.bool_)
        total = int(counts.sum())
        if total == 0:
            return out
        offsets = np.cumsum(counts) - counts
        idx = np.repeat(starts - offsets, counts) + np.arange(total)
        ok = ((self.entry_mask[idx] & bit) != 0) & (self.entry_until[idx] > day) \
            & (self.entry_since[idx] <= day)
        ok &= platform_ok[self.entry_list[idx], self.entry_platform[idx]]
        present = counts > 0
        out[present] = np.logical_or.reduceat(ok, offsets[present])
        return out

    def rows(self, codes: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """Subject row per code, -1 where the code is not in the table."""
        pos = self.index.get_indexer(codes)
        out = np.full(len(codes), -1, dtype=np.int64)
        hit = pos >= 0
        out[hit] = self.key_row[pos[hit]]
        return out

    def row_of(self, code: int) -> int:
        try:
            pos = self.index.get_loc(code)
        except KeyError:
            return -1
        return int(self.key_row[pos])

    def rows_of(self, code: int) -> tuple[int, ...]:
        """Every subject row holding ``code`` (usually one; none when it is not here)."""
        held = self.holders.get(code)
        if held is not None:
            return held
        row = self.row_of(code)
        return (row,) if row >= 0 else ()

    def row_of_subject(self, subject_id: int) -> int:
        r = int(np.searchsorted(self.subject_ids, subject_id))
        return r if r < len(self.subject_ids) and self.subject_ids[r] == subject_id else -1

    def entries(self, row: int) -> list[EntryRow]:
        """The entries of a subject row, as :class:`EntryRow` (for reasons on a deny)."""
        out = []
        for i in range(self.row_start[row], self.row_start[row + 1]):
            mask = int(self.entry_mask[i])
            furn, plat = int(self.entry_furnisher[i]), int(self.entry_platform[i])
            until = int(self.entry_until[i])
            out.append(EntryRow(
                int(self.subject_ids[row]), int(self.entry_id[i]),
                self.lists[self.entry_list[i]],
                tuple(s for k, s in enumerate(self.services) if mask >> k & 1),
                None if self.entry_ground[i] < 0 else int(self.entry_ground[i]),
                (EPOCH + dt.timedelta(days=int(self.entry_since[i]))).isoformat(),
                None if until == OPEN else (EPOCH + dt.timedelta(days=until)).isoformat(),
                self.labels[furn] if furn >= 0 else None,
                self.labels[plat] if plat >= 0 else None))
        return out
