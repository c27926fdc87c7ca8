"""Verifying a snapshot: the Ed25519 signature first, then the header and the section layout."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from socialcredit.gate.snapshot.format import (
    _EPOCH,
    _MAX_HEADER_BYTES,
    _PREAMBLE,
    FORMAT_NAME,
    MAGIC,
    MAX_SERVICES,
    READABLE_VERSIONS,
    SIGNATURE_BYTES,
    SnapshotError,
    SnapshotInfo,
    _sections,
)
from socialcredit.gate.snapshot.signing import _public_key

__all__ = ["verify_snapshot"]


@dataclass(frozen=True, slots=True)
class _Layout:
    info: SnapshotInfo
    digest_bytes: int
    entry_id_bytes: int
    #: digests, services, until, index, entry_ids (and, version 2, b_digests, b_items,
    #: b_until, b_entry)
    offsets: tuple[int, ...]
    key_id: str | None = None
    #: version 2: the header's benefit catalogue, [service, benefit, text, list, legal_basis]
    benefits: tuple[tuple[str, str, str, str, str], ...] = ()


def _field(header: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = header.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise SnapshotError(f"snapshot header field {name!r} is missing or malformed")
    return value


def _read_header(data: bytes | memoryview) -> tuple[dict[str, Any], int]:
    raw = bytes(data[_PREAMBLE.size:_PREAMBLE.size + _header_len(data)])
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SnapshotError(f"snapshot header is not valid JSON: {e}") from e
    if not isinstance(header, dict):
        raise SnapshotError("snapshot header is not a JSON object")
    return header, _PREAMBLE.size + len(raw)


def _header_len(data: bytes | memoryview) -> int:
    return int(_PREAMBLE.unpack_from(data)[3])


def _declared_size(data: bytes) -> int | None:
    """File size the (unverified) header declares, for a clearer error; None if unreadable."""
    try:
        header, start = _read_header(data)
        benefits = header.get("benefit_count") if header.get("version") != 1 else None
        _, end = _sections(start, int(header["count"]), int(header["entries"]),
                           int(header["digest_bytes"]), int(header["entry_id_bytes"]),
                           None if benefits is None else int(benefits))
    except (SnapshotError, KeyError, TypeError, ValueError, RecursionError, struct.error):
        return None
    return end + SIGNATURE_BYTES


def _verify(data: bytes, public_key: Ed25519PublicKey | bytes, name: str) -> _Layout:
    key = _public_key(public_key)
    if len(data) < _PREAMBLE.size + SIGNATURE_BYTES:
        raise SnapshotError(f"{name}: {len(data)} bytes is too short to be a snapshot "
                            f"(truncated?)")
    magic, version, _flags, hlen = _PREAMBLE.unpack_from(data)
    if magic != MAGIC:
        raise SnapshotError(f"{name} is not a gate snapshot (bad magic bytes)")
    if version not in READABLE_VERSIONS:
        raise SnapshotError(f"{name} is snapshot format version {version}; this reader "
                            f"supports versions {', '.join(map(str, READABLE_VERSIONS))}")
    if hlen > _MAX_HEADER_BYTES or _PREAMBLE.size + hlen + SIGNATURE_BYTES > len(data):
        raise SnapshotError(f"{name}: header length {hlen} does not fit in the file's "
                            f"{len(data)} bytes (truncated?)")
    view = memoryview(data)
    try:
        key.verify(view[-SIGNATURE_BYTES:], view[:-SIGNATURE_BYTES])
    except InvalidSignature:
        declared = _declared_size(data)
        if declared is not None and declared != len(data):
            raise SnapshotError(
                f"{name} is {len(data)} bytes but its header declares {declared} "
                f"(truncated or appended to); signature does not verify") from None
        raise SnapshotError(
            f"{name}: Ed25519 signature does not verify — the file was modified, or it was "
            f"signed by another key than the one given") from None

    header, start = _read_header(data)
    if header.get("format") != FORMAT_NAME or header.get("version") != version:
        raise SnapshotError(f"{name}: header names format {header.get('format')!r} version "
                            f"{header.get('version')!r}, expected {FORMAT_NAME!r} "
                            f"version {version}")
    if header.get("hmac") != "HMAC-SHA256" or header.get("signature") != "Ed25519" \
            or header.get("until_epoch") != _EPOCH.isoformat():
        raise SnapshotError(f"{name}: unsupported hmac, signature or until_epoch in header")
    gate = _field(header, "gate", str)
    services = _field(header, "services", list)
    if not services or len(services) > MAX_SERVICES \
            or not all(isinstance(s, str) for s in services):
        raise SnapshotError(f"{name}: header field 'services' is malformed")
    count = _field(header, "count", int)
    entries = _field(header, "entries", int)
    digest_bytes = _field(header, "digest_bytes", int)
    id_bytes = _field(header, "entry_id_bytes", int)
    ledger_seq = _field(header, "ledger_seq", int)
    policy_version = _field(header, "policy_version", str)
    try:
        created_at = dt.datetime.fromisoformat(_field(header, "created_at", str))
    except ValueError:
        raise SnapshotError(f"{name}: header field 'created_at' is not ISO 8601") from None
    if count < 0 or entries < 0 or not 8 <= digest_bytes <= 32 or id_bytes not in (4, 8):
        raise SnapshotError(f"{name}: header counts or field sizes are out of range")
    catalogue, n_benefits = _benefits(header, name) if version >= 2 else ((), None)
    offsets, end = _sections(start, count, entries, digest_bytes, id_bytes, n_benefits)
    if end + SIGNATURE_BYTES != len(data):
        raise SnapshotError(f"{name}: {len(data)} bytes, but its header declares "
                            f"{end + SIGNATURE_BYTES}")
    info = SnapshotInfo(gate, tuple(services), ledger_seq, created_at, policy_version, count,
                        entries, len(data), hashlib.sha256(data).hexdigest(),
                        _valid_until(header, name), version, n_benefits or 0)
    kid = header.get("key_id")
    return _Layout(info, digest_bytes, id_bytes, offsets, kid if isinstance(kid, str) else None,
                   catalogue)


def _benefits(header: dict[str, Any], name: str
              ) -> tuple[tuple[tuple[str, str, str, str, str], ...], int]:
    """A version-2 header's benefit catalogue and benefit record count."""
    count = _field(header, "benefit_count", int)
    raw = _field(header, "benefits", list)
    if count < 0 or len(raw) > 0xFFFF or not all(
            isinstance(b, list) and len(b) == 5 and all(isinstance(x, str) for x in b)
            for b in raw):
        raise SnapshotError(f"{name}: header field 'benefits' is malformed")
    return tuple((b[0], b[1], b[2], b[3], b[4]) for b in raw), count


def _valid_until(header: dict[str, Any], name: str) -> dict[str, dt.datetime]:
    """The header's ``valid_until`` (absent in snapshots made before they expired: empty)."""
    raw = header.get("valid_until", {})
    if not isinstance(raw, dict):
        raise SnapshotError(f"{name}: header field 'valid_until' is malformed")
    out = {}
    for service, text in raw.items():
        try:
            until = dt.datetime.fromisoformat(text) if isinstance(text, str) else None
        except ValueError:
            until = None
        if until is None or until.utcoffset() is None:
            raise SnapshotError(f"{name}: header field 'valid_until' of {service!r} is not an "
                                "ISO 8601 time with its offset")
        out[str(service)] = until
    return out


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise SnapshotError(f"cannot read snapshot {path}: {e.strerror}") from e


def verify_snapshot(path: Path, public_key: Ed25519PublicKey | bytes) -> SnapshotInfo:
    """Check the snapshot at ``path`` against the registry's public key (an
    :class:`Ed25519PublicKey` or PEM SubjectPublicKeyInfo bytes) and return its info.

    Ed25519 verification per RFC 8032 over every byte before the final 64-byte signature.

    Reads format versions 1 (refusals only) and 2 (refusals and benefits).

    :raises SnapshotError: unreadable file, bad magic, unsupported format version, truncated or
        extended file, any modified byte, a signature by another key, or a malformed header.
    """
    return _verify(_read(path), public_key, str(path)).info
