"""Writing a signed snapshot: items to sorted columns, the header, the signature, the file."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from array import array
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from socialcredit.gate.snapshot.format import (
    _EPOCH,
    _EPOCH_ORDINAL,
    _MAX_UNTIL,
    _OPEN,
    _PREAMBLE,
    DIGEST_BYTES,
    FORMAT_NAME,
    FORMAT_VERSION,
    MAGIC,
    MAX_SERVICES,
    SIGNATURE_BYTES,
    SnapshotBenefit,
    SnapshotError,
    SnapshotInfo,
    SnapshotItem,
    _align,
    _sections,
)
from socialcredit.gate.snapshot.keyed_hash import _gate_hmac, key_id

__all__ = ["write_snapshot"]


def _check_services(services: Sequence[str]) -> tuple[str, ...]:
    if isinstance(services, str):
        raise SnapshotError(f"services must be a sequence of names, not the string {services!r}")
    out: list[str] = []
    for s in services:
        if not isinstance(s, str) or not s:
            raise SnapshotError(f"service names must be non-empty strings, got {s!r}")
        if s not in out:
            out.append(s)
    if not out:
        raise SnapshotError("a snapshot needs at least one service")
    if len(out) > MAX_SERVICES:
        raise SnapshotError(
            f"a snapshot covers at most {MAX_SERVICES} services, got {len(out)}")
    return tuple(out)


def _until_days(until: object) -> int:
    try:
        day = dt.date.fromisoformat(until)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SnapshotError(
            f"until must be an ISO date YYYY-MM-DD or None, got {until!r}") from None
    if not _EPOCH <= day <= _MAX_UNTIL:
        raise SnapshotError(
            f"until {until} is outside the storable range {_EPOCH} to {_MAX_UNTIL}")
    return day.toordinal() - _EPOCH_ORDINAL


def write_snapshot(path: Path, items: Iterable[SnapshotItem], *, gate: str, gate_key: bytes,
                   signing_key: Ed25519PrivateKey, services: Sequence[str], ledger_seq: int,
                   created_at: dt.datetime, policy_version: str,
                   valid_hours: Mapping[str, int] | None = None,
                   benefits: Iterable[SnapshotBenefit] = ()) -> SnapshotInfo:
    """Write a signed snapshot of ``items`` for ``gate`` to ``path`` (atomically: a temporary
    file in the same directory, fsynced, then renamed) and return its :class:`SnapshotInfo`.

    ``services``: the gate's services (at most 16; duplicates dropped); items refusing none of
    them are skipped and the others keep only these. ``gate_key``: the gate's HMAC key (≥ 16
    bytes). ``ledger_seq``: the ledger position the items reflect. ``created_at``:
    timezone-aware. ``valid_hours``: per service, how long after ``created_at`` the snapshot
    may be answered from (written as ``valid_until``; a service left out: 24 hours).
    ``benefits``: what red-list entries earn at the gate's services (format version 2; those
    of other services are skipped). The output is deterministic for the same items and
    benefits in the same order.
    Memory: about 100 bytes per written item at peak (columns, sort order, the file).

    :raises SnapshotError: invalid argument or item (until not an ISO date in 1970–2149,
        negative entry id, ...), or the file cannot be written.
    """
    if not isinstance(gate, str) or not gate:
        raise SnapshotError("gate must be a non-empty string")
    if not isinstance(policy_version, str):
        raise SnapshotError("policy_version must be a string")
    if isinstance(ledger_seq, bool) or not isinstance(ledger_seq, int) or ledger_seq < 0:
        raise SnapshotError(f"ledger_seq must be a non-negative int, got {ledger_seq!r}")
    if not isinstance(created_at, dt.datetime) or created_at.utcoffset() is None:
        raise SnapshotError("created_at must be a timezone-aware datetime")
    if not isinstance(signing_key, Ed25519PrivateKey):
        raise SnapshotError(
            f"signing key must be an Ed25519PrivateKey, got {type(signing_key).__name__}")
    svc = _check_services(services)
    hours = dict(valid_hours or {})
    if any(isinstance(h, bool) or not isinstance(h, int) or h <= 0 for h in hours.values()):
        raise SnapshotError("valid_hours must be positive whole hours")
    utc = created_at.astimezone(dt.UTC)
    valid_until = {name: utc + dt.timedelta(hours=hours.get(name, 24)) for name in svc}
    mac = _gate_hmac(gate_key)
    bits = {s: 1 << i for i, s in enumerate(svc)}

    digests = bytearray()
    masks = array("H")
    untils = array("H")
    counts = array("I")
    ids = array("Q")
    until_cache: dict[str | None, int] = {None: _OPEN}
    for item in items:
        mask = 0
        for s in item.services:
            mask |= bits.get(s, 0)
        if not mask:
            continue
        digests += mac.digest(item.key.encode("utf-8"))[:DIGEST_BYTES]
        u = until_cache.get(item.until)
        if u is None:
            u = until_cache[item.until] = _until_days(item.until)
        masks.append(mask)
        untils.append(u)
        counts.append(len(item.entry_ids))
        try:
            ids.extend(item.entry_ids)
        except (OverflowError, TypeError):
            raise SnapshotError(
                f"entry ids must be integers in 0..2**64-1, got {item.entry_ids!r}") from None

    catalogue, b_digests, b_items, b_until, b_entry = _benefit_columns(
        benefits, set(svc), mac, until_cache)
    nb = len(b_items)
    n, entries = len(masks), len(ids)
    if entries > 0xFFFFFFFF:
        raise SnapshotError(f"too many entry ids for one snapshot: {entries}")
    d = np.frombuffer(digests, dtype=f"S{DIGEST_BYTES}") if n \
        else np.zeros(0, f"S{DIGEST_BYTES}")
    m = np.frombuffer(masks, dtype=np.uint16) if n else np.zeros(0, np.uint16)
    u_arr = np.frombuffer(untils, dtype=np.uint16) if n else np.zeros(0, np.uint16)
    c = np.frombuffer(counts, dtype=np.dtype(f"u{counts.itemsize}")).astype(np.int64) \
        if n else np.zeros(0, np.int64)
    e = np.frombuffer(ids, dtype=np.uint64) if entries else np.zeros(0, np.uint64)
    id_bytes = 4 if entries == 0 or int(e.max()) <= 0xFFFFFFFF else 8

    header = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "gate": gate,
        "services": list(svc),
        "ledger_seq": ledger_seq,
        "created_at": created_at.isoformat(),
        "policy_version": policy_version,
        "count": n,
        "entries": entries,
        "hmac": "HMAC-SHA256",
        "digest_bytes": DIGEST_BYTES,
        "until_epoch": _EPOCH.isoformat(),
        "entry_id_bytes": id_bytes,
        "signature": "Ed25519",
        "key_id": key_id(gate_key),
        "valid_until": {name: until.isoformat() for name, until in valid_until.items()},
        "benefits": [list(c) for c in catalogue],
        "benefit_count": nb,
    }
    hjson = json.dumps(header, sort_keys=True, separators=(",", ":"),
                       ensure_ascii=False).encode("utf-8")
    hjson += b" " * _align(_PREAMBLE.size + len(hjson), 16)
    first = _PREAMBLE.size + len(hjson)
    offsets, body_end = _sections(first, n, entries, DIGEST_BYTES, id_bytes, nb)
    o_d, o_s, o_u, o_i, o_e, o_bd, o_bi, o_bu, o_be = offsets
    buf = bytearray(body_end + SIGNATURE_BYTES)  # the whole file, filled in place
    _PREAMBLE.pack_into(buf, 0, MAGIC, FORMAT_VERSION, 0, len(hjson))
    buf[_PREAMBLE.size:first] = hjson

    def section(dtype: str, count: int, offset: int) -> np.ndarray[Any, Any]:
        return np.frombuffer(buf, dtype=dtype, count=count, offset=offset)

    order = np.lexsort((m, u_arr, d))  # by digest, then until, then mask
    np.take(d, order, out=section(f"S{DIGEST_BYTES}", n, o_d))
    section("<u2", n, o_s)[:] = m[order]
    section("<u2", n, o_u)[:] = u_arr[order]
    del m, u_arr, d, digests
    old_start = np.cumsum(c) - c
    new_count = c[order]
    index = section("<u4", n + 1, o_i)
    index[0] = 0
    np.cumsum(new_count, out=index[1:], dtype=np.uint32)
    gather = np.repeat(old_start[order] - index[:-1].astype(np.int64), new_count) \
        + np.arange(entries)
    del old_start, new_count, order, c
    section(f"<u{id_bytes}", entries, o_e)[:] = e[gather]
    del gather, e, ids
    if nb:
        bd = np.frombuffer(b_digests, dtype=f"S{DIGEST_BYTES}")
        bi, bu = np.array(b_items, np.uint16), np.array(b_until, np.uint16)
        border = np.lexsort((np.array(b_entry, np.uint64), bi, bd))
        np.take(bd, border, out=section(f"S{DIGEST_BYTES}", nb, o_bd))
        section("<u2", nb, o_bi)[:] = bi[border]
        section("<u2", nb, o_bu)[:] = bu[border]
        section("<u8", nb, o_be)[:] = np.array(b_entry, np.uint64)[border]

    view = memoryview(buf)
    signature = signing_key.sign(view[:body_end])
    buf[body_end:] = signature
    digest = hashlib.sha256(view).hexdigest()
    view.release()

    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise SnapshotError(f"cannot write snapshot {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buf)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise SnapshotError(f"cannot write snapshot {path}: {exc.strerror}") from exc
    return SnapshotInfo(gate, svc, ledger_seq, created_at, policy_version, n, entries,
                        len(buf), digest, valid_until, FORMAT_VERSION, nb)


def _benefit_columns(benefits: Iterable[SnapshotBenefit], services: set[str], mac: Any,
                     until_cache: dict[str | None, int]
                     ) -> tuple[list[tuple[str, str, str, str, str]], bytearray, list[int],
                                list[int], list[int]]:
    """(catalogue, digests, catalogue index, until, entry id) of the benefits at
    ``services``, in the order given."""
    catalogue: dict[tuple[str, str, str, str, str], int] = {}
    digests = bytearray()
    items: list[int] = []
    untils: list[int] = []
    entry: list[int] = []
    for b in benefits:
        if not isinstance(b, SnapshotBenefit):
            raise SnapshotError(f"benefits must be SnapshotBenefit, got {type(b).__name__}")
        if b.service not in services:
            continue
        if isinstance(b.entry_id, bool) or not isinstance(b.entry_id, int) \
                or not 0 <= b.entry_id < 1 << 64:
            raise SnapshotError(f"entry ids must be integers in 0..2**64-1, got {b.entry_id!r}")
        row = (b.service, b.benefit, b.text, b.list, b.legal_basis)
        index = catalogue.setdefault(row, len(catalogue))
        if index > 0xFFFF:
            raise SnapshotError("more than 65,536 distinct benefits in one snapshot")
        u = until_cache.get(b.until)
        if u is None:
            u = until_cache[b.until] = _until_days(b.until)
        digests += mac.digest(b.key.encode("utf-8"))[:DIGEST_BYTES]
        items.append(index)
        untils.append(u)
        entry.append(b.entry_id)
    return list(catalogue), digests, items, untils, entry
