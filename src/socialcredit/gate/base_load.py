"""The gate's base table read from the store column by column (national scale).

:meth:`GateIndex.build` needs every active entry of a sanctioned list and every current key of
its subjects: 13.49 M of each at the seed's scale. Read as one Python object per row
(:class:`~socialcredit.gate.compact.EntryRow`, key strings) that costs gigabytes and minutes;
here the rows are streamed in blocks of :data:`BLOCK_ROWS` and turned into NumPy columns per
block (dates parsed by NumPy, CN resident IDs encoded by :func:`encode_cn_ids`, list and label
names factorised), so the peak is the columns plus one block.

The result is the table :meth:`CompactTable.from_entries` builds from the same rows
(``tests/test_gate_base_load.py`` compares them column by column on SQLite and PostgreSQL).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, select

from socialcredit.gate.codes import encode_cn_ids, encode_key, is_exact
from socialcredit.gate.compact import OPEN, CompactTable
from socialcredit.policy.model import Policy
from socialcredit.store.tables import furnishers, identifiers, list_entries, names

__all__ = ["BLOCK_ROWS", "load_base"]

#: Rows fetched and converted at a time.
BLOCK_ROWS = 250_000


def _blocks(conn: Connection, stmt: Any) -> Iterator[Sequence[Any]]:
    result = conn.execute(stmt.execution_options(stream_results=True, yield_per=BLOCK_ROWS))
    yield from result.partitions(BLOCK_ROWS)


def _days(values: Sequence[str | None]) -> npt.NDArray[np.int32]:
    """ISO dates → days since 1970-01-01; None → ``OPEN``."""
    missing = np.array([v is None for v in values], dtype=np.bool_)
    raw = np.array(["1970-01-01" if v is None else v for v in values], dtype=object)
    days = raw.astype("datetime64[D]").astype(np.int64)
    days[missing] = OPEN
    return days.astype(np.int32)


def _codes(keys: list[tuple[str, str]]) -> npt.NDArray[np.uint64]:
    """64-bit codes of ``(kind, value)`` keys: CN resident IDs vectorised, the rest one by one
    (:func:`encode_key`, which agrees with :func:`encode_cn_ids` on valid IDs)."""
    out = np.zeros(len(keys), dtype=np.uint64)
    cn = [i for i, (k, v) in enumerate(keys) if k == "national_id" and len(v) == 18]
    if cn:
        coded, ok = encode_cn_ids([keys[i][1] for i in cn])
        out[np.array(cn, dtype=np.int64)] = coded
        rest = set(np.array(cn)[~ok].tolist())
    else:
        rest = set()
    cn_set = set(cn)
    for i, (k, v) in enumerate(keys):
        if i not in cn_set or i in rest:
            out[i] = encode_key(f"{k}:{v}")
    return out


def load_base(conn: Connection, policy: Policy, services: Sequence[str],
              ) -> tuple[CompactTable, dict[int, str], dict[int, list[str]]]:
    """The base table of every restricted subject, the ``code → key`` map of hashed (inexact)
    codes, and the name keys of subjects on external lists (see the module docstring)."""
    labels_by_id = dict(conn.execute(select(furnishers.c.id, furnishers.c.name)).all())
    services_of = {n: policy.services_of(n) for n in policy.lists}
    bit = {s: 1 << i for i, s in enumerate(services)}
    list_mask = {n: sum(bit[s] for s in svcs if s in bit) for n, svcs in services_of.items()}
    cols: dict[str, list[Any]] = defaultdict(list)
    # names are numbered in order of first sight per block, then renumbered in sorted order
    # (the order from_entries gives): the columns hold small integers, never a string per row
    seen_lists: dict[str, int] = {}
    seen_labels: dict[str, int] = {}

    def number(seen: dict[str, int], name: str | None) -> int:
        if not name:
            return -1
        if name not in seen:
            seen[name] = len(seen)
        return seen[name]

    stmt = select(list_entries.c.subject_id, list_entries.c.id, list_entries.c.list,
                  list_entries.c.ground, list_entries.c.since, list_entries.c.until,
                  list_entries.c.furnisher_id, list_entries.c.platform,
                  list_entries.c.lifted).where(
        list_entries.c.status == "active", list_entries.c.list.in_(list(services_of)))
    for block in _blocks(conn, stmt):
        sid, eid, lst, ground, since, until, fid, platform, lifted = zip(*block, strict=True)
        cols["subject"].append(np.array(sid, dtype=np.int64))
        cols["entry_id"].append(np.array(eid, dtype=np.int64))
        cols["list"].append(np.array([number(seen_lists, n) for n in lst], dtype=np.int32))
        cols["ground"].append(np.array([-1 if g is None else g for g in ground],
                                       dtype=np.int8))
        cols["since"].append(_days(since))
        cols["until"].append(_days(until))
        cols["furnisher"].append(np.array(
            [number(seen_labels, labels_by_id.get(f) or policy.lists[n].source)
             for f, n in zip(fid, lst, strict=True)], dtype=np.int32))
        cols["platform"].append(np.array([number(seen_labels, p) for p in platform],
                                         dtype=np.int32))
        mask = np.array([list_mask[n] for n in lst], dtype=np.uint32)
        for i, text in enumerate(lifted):
            if text:  # a sanction a court lifted refuses nothing while lifted
                gone = {svc for svc, _ in json.loads(text)}
                mask[i] = sum(bit[s] for s in services_of[lst[i]]
                              if s in bit and s not in gone)
        cols["mask"].append(mask)

    def joined(name: str, dtype: Any) -> Any:
        parts = cols.get(name)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    def renumbered(name: str, seen: dict[str, int]) -> tuple[list[str], Any]:
        ordered = sorted(seen)
        to_sorted = np.array([ordered.index(n) for n in seen] + [-1], dtype=np.int32)
        return ordered, to_sorted[joined(name, np.int32)]  # -1 (none) indexes the last: -1

    subject = joined("subject", np.int64)
    list_names, entry_list = renumbered("list", seen_lists)
    label_names, entry_furnisher = renumbered("furnisher", seen_labels)
    _, entry_platform = renumbered("platform", seen_labels)
    subject_ids = np.unique(subject)
    codes, key_row, hashed = _keys(conn, subject_ids)
    table = CompactTable(
        services=services, lists=list_names, labels=label_names, codes=codes, key_row=key_row,
        subject_ids=subject_ids,
        entry_row=np.searchsorted(subject_ids, subject).astype(np.int32),
        entry_id=joined("entry_id", np.int64), entry_list=entry_list.astype(np.uint8),
        entry_ground=joined("ground", np.int8),
        entry_since=joined("since", np.int32), entry_until=joined("until", np.int32),
        entry_furnisher=entry_furnisher, entry_platform=entry_platform,
        entry_mask=joined("mask", np.uint32))
    return table, hashed, _name_keys(conn, policy)


def _keys(conn: Connection, subject_ids: npt.NDArray[np.int64],
          ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int32], dict[int, str]]:
    """Codes and subject rows of the current, unshared identifiers of ``subject_ids``."""
    active = select(list_entries.c.subject_id).where(list_entries.c.status == "active")
    stmt = select(identifiers.c.subject_id, identifiers.c.kind, identifiers.c.value).where(
        # a number two people use (a family phone) is no key (issue #3)
        identifiers.c.valid_to.is_(None), identifiers.c.shared_since.is_(None),
        identifiers.c.subject_id.in_(active))
    codes: list[npt.NDArray[np.uint64]] = []
    rows: list[npt.NDArray[np.int64]] = []
    hashed: dict[int, str] = {}
    for block in _blocks(conn, stmt):
        sid = np.array([r[0] for r in block], dtype=np.int64)
        keys = [("document" if k in ("passport", "document") else k, v) for _, k, v in block]
        coded = _codes(keys)
        row = np.searchsorted(subject_ids, sid)
        known = row < len(subject_ids)
        known[known] &= subject_ids[row[known]] == sid[known]
        for i in np.flatnonzero(known):
            if not is_exact(int(coded[i])):
                hashed[int(coded[i])] = f"{keys[i][0]}:{keys[i][1]}"
        codes.append(coded[known])
        rows.append(row[known])
    if not codes:
        return np.zeros(0, np.uint64), np.zeros(0, np.int32), hashed
    return np.concatenate(codes), np.concatenate(rows).astype(np.int32), hashed


def _name_keys(conn: Connection, policy: Policy) -> dict[int, list[str]]:
    external = sorted(n for n, s in policy.lists.items() if s.external)
    out: dict[int, list[str]] = defaultdict(list)
    if not external:
        return out
    listed = select(list_entries.c.subject_id).where(
        list_entries.c.status == "active", list_entries.c.list.in_(external))
    for n in conn.execute(select(names.c.subject_id, names.c.name_key).where(
            names.c.subject_id.in_(listed))):
        out[n.subject_id].append(n.name_key)
    return out
