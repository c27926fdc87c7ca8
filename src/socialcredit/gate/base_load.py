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
import pandas as pd
from sqlalchemy import Connection, literal, select, union_all

from socialcredit.errors import IdentifierError
from socialcredit.gate.codes import EXACT_TAGS, encode_cn_ids, encode_key
from socialcredit.gate.compact import OPEN, CompactTable
from socialcredit.identity import scheme_for
from socialcredit.policy.model import Policy
from socialcredit.store.tables import furnishers, identifiers, list_entries, names, subjects

__all__ = ["BLOCK_ROWS", "current_keys", "identifier_keys", "load_base"]

#: Bits below a code's tag (``gate/codes.py``).
TAG_SHIFT = 60
#: Rows fetched and converted at a time.
BLOCK_ROWS = 250_000


def _blocks(conn: Connection, stmt: Any) -> Iterator[Sequence[Any]]:
    """Rows of ``stmt`` as plain tuples, :data:`BLOCK_ROWS` at a time, from the driver's own
    cursor (a server-side cursor on PostgreSQL): no SQLAlchemy row object per row."""
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    conn.execute(select(1))  # the connection's transaction: a server-side cursor lives in it
    raw = conn.connection.driver_connection
    assert raw is not None
    named = conn.dialect.name == "postgresql"
    cur = raw.cursor(name="gate_base_load") if named else raw.cursor()
    try:
        cur.execute(sql)
        while block := cur.fetchmany(BLOCK_ROWS):
            yield block
    finally:
        cur.close()


def _days(values: Sequence[str | None]) -> npt.NDArray[np.int32]:
    """ISO dates → days since 1970-01-01; None → ``OPEN``."""
    raw = np.asarray(values, dtype=object)
    missing = pd.isna(raw)
    if missing.any():
        raw = raw.copy()
        raw[missing] = "1970-01-01"
    days = raw.astype("datetime64[D]").astype(np.int64)
    days[missing] = OPEN
    return days.astype(np.int32)


def _codes(kinds: Sequence[str], values: Sequence[str]) -> npt.NDArray[np.uint64]:
    """64-bit codes of ``(kind, value)`` keys: CN resident IDs vectorised, the rest one by one
    (:func:`encode_key`, which agrees with :func:`encode_cn_ids` on valid IDs)."""
    n = len(values)
    out = np.zeros(n, dtype=np.uint64)
    kind = np.asarray(kinds, dtype=object)
    cn = np.flatnonzero((kind == "national_id")
                        & (np.fromiter(map(len, values), np.int64, count=n) == 18)
                        & np.fromiter(map(str.isascii, values), np.bool_, count=n))
    slow = np.ones(n, dtype=np.bool_)
    if len(cn):
        coded, ok = encode_cn_ids([values[i] for i in cn.tolist()])
        out[cn[ok]] = coded[ok]
        slow[cn[ok]] = False
    for i in np.flatnonzero(slow).tolist():
        out[i] = encode_key(f"{kinds[i]}:{values[i]}")
    return out


def identifier_keys(policy: Policy, kind: str, value: str) -> list[tuple[str, str]]:
    """The gate keys ``(kind, value)`` of one current identifier row: a passport or document
    number is a ``document`` key; an ID document of another authority's list (kind
    ``document``, e.g. an OFAC SDN "National ID No." in the remarks) whose number is a valid
    national ID under the policy's scheme is also that ``national_id`` key, so a gate asking by
    the person's national ID finds the listing as ``screen`` does (issue #14). A 15-digit
    legacy ID has no check character, so it is never taken for one."""
    if kind not in ("passport", "document"):
        return [(kind, value)]
    keys = [("document", value)]
    if kind == "document":
        ident = policy.identity.national_id
        try:
            parsed = scheme_for(ident.scheme, ident.pattern).parse(value)
        except IdentifierError:
            return keys
        if not parsed.upgraded_from_15:
            keys.append(("national_id", parsed.value))
    return keys


def current_keys(of_subjects: Any) -> Any:
    """``(subject_id, kind, value)`` of the current, unshared identifiers of the subjects
    ``of_subjects`` selects (a number two people use, a family phone, is no key: issue #3),
    and of their organisation codes (kind ``organisation_id``, from ``subjects``)."""
    return union_all(
        select(identifiers.c.subject_id, identifiers.c.kind, identifiers.c.value).where(
            identifiers.c.valid_to.is_(None), identifiers.c.shared_since.is_(None),
            identifiers.c.subject_id.in_(of_subjects)),
        select(subjects.c.id, literal("organisation_id"), subjects.c.organisation_id).where(
            subjects.c.organisation_id.is_not(None), subjects.c.id.in_(of_subjects)))


def load_base(conn: Connection, policy: Policy, services: Sequence[str],
              ) -> tuple[CompactTable, dict[int, str], dict[int, list[str]]]:
    """The base table of every restricted subject, the ``code → key`` map of hashed (inexact)
    codes, and the name keys of subjects on external lists (see the module docstring)."""
    labels_by_id = dict(conn.execute(select(furnishers.c.id, furnishers.c.name)).all())
    services_of = {n: policy.services_of(n) for n in policy.lists}
    bit = {s: 1 << i for i, s in enumerate(services)}
    list_mask = {n: sum(bit[s] for s in svcs if s in bit) for n, svcs in services_of.items()}
    cols: dict[str, list[Any]] = defaultdict(list)
    # names are numbered in order of first sight, per block with pandas' factorize (C speed),
    # then renumbered in sorted order (the order from_entries gives): the columns hold small
    # integers, never a string per row
    seen_lists: dict[str, int] = {}
    seen_labels: dict[str, int] = {}

    def number(seen: dict[str, int], name: str | None) -> int:
        if not name:
            return -1
        if name not in seen:
            seen[name] = len(seen)
        return seen[name]

    def factorised(values: Sequence[Any]) -> tuple[Any, Any]:
        codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
        return codes, uniques.tolist()

    stmt = select(list_entries.c.subject_id, list_entries.c.id, list_entries.c.list,
                  list_entries.c.ground, list_entries.c.since, list_entries.c.until,
                  list_entries.c.furnisher_id, list_entries.c.platform,
                  list_entries.c.lifted).where(
        list_entries.c.status == "active", list_entries.c.list.in_(list(services_of)))
    for block in _blocks(conn, stmt):
        sid, eid, lst, ground, since, until, fid, platform, lifted = zip(*block, strict=True)
        cols["subject"].append(np.array(sid, dtype=np.int64))
        cols["entry_id"].append(np.array(eid, dtype=np.int64))
        lcode, lnames = factorised(lst)
        cols["list"].append(np.array([number(seen_lists, n) for n in lnames],
                                     dtype=np.int32)[lcode])
        grounds = np.asarray(ground, dtype=object)
        grounds[pd.isna(grounds)] = -1
        cols["ground"].append(grounds.astype(np.int8))
        cols["since"].append(_days(since))
        cols["until"].append(_days(until))
        # the furnisher's label: its name, else the list's source (an external list)
        fcode, fids = factorised(fid)
        pair = (fcode.astype(np.int64) + 1) * len(lnames) + lcode
        pairs, inverse = np.unique(pair, return_inverse=True)
        label = [number(seen_labels, labels_by_id.get(fids[p // len(lnames) - 1])
                        if p // len(lnames) else None) for p in pairs.tolist()]
        source = [policy.lists[lnames[p % len(lnames)]].source for p in pairs.tolist()]
        cols["furnisher"].append(np.array(
            [lab if lab >= 0 else number(seen_labels, src)
             for lab, src in zip(label, source, strict=True)], dtype=np.int32)[inverse])
        pcode, pnames = factorised(platform)
        cols["platform"].append(np.array([number(seen_labels, n) for n in pnames] + [-1],
                                         dtype=np.int32)[pcode])
        mask = np.array([list_mask[n] for n in lnames], dtype=np.uint32)[lcode]
        texts = np.asarray(lifted, dtype=object)
        for i in np.flatnonzero(~pd.isna(texts)).tolist():
            if texts[i]:  # a sanction a court lifted refuses nothing while lifted
                gone = {svc for svc, _ in json.loads(texts[i])}
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
    codes, key_row, hashed = _keys(conn, policy, subject_ids)
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


def _keys(conn: Connection, policy: Policy, subject_ids: npt.NDArray[np.int64],
          ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int32], dict[int, str]]:
    """Codes and subject rows of the current, unshared identifiers of ``subject_ids``."""
    stmt = current_keys(select(list_entries.c.subject_id).where(
        list_entries.c.status == "active"))
    codes: list[npt.NDArray[np.uint64]] = []
    rows: list[npt.NDArray[np.int64]] = []
    hashed: dict[int, str] = {}
    for block in _blocks(conn, stmt):
        sids, raw_kinds, values = zip(*block, strict=True)
        # the few documents (list imports) may give a second key: one row per key
        docs = [i for i, k in enumerate(raw_kinds) if k == "document"]
        if docs:
            extra = [(sids[i], k, v) for i in docs
                     for k, v in identifier_keys(policy, "document", values[i])[1:]]
            if extra:
                sids, raw_kinds, values = (tuple(c) + tuple(x) for c, x in zip(
                    (sids, raw_kinds, values), zip(*extra, strict=True), strict=True))
        sid = np.array(sids, dtype=np.int64)
        kcode, knames = pd.factorize(np.asarray(raw_kinds, dtype=object))
        kinds = np.array(["document" if k in ("passport", "document") else k
                          for k in knames.tolist()], dtype=object)[kcode].tolist()
        coded = _codes(kinds, values)
        row = np.searchsorted(subject_ids, sid)
        known = row < len(subject_ids)
        known[known] &= subject_ids[row[known]] == sid[known]
        inexact = ~np.isin(coded >> np.uint64(TAG_SHIFT), sorted(EXACT_TAGS))
        for i in np.flatnonzero(known & inexact).tolist():
            hashed[int(coded[i])] = f"{kinds[i]}:{values[i]}"
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
