"""The snapshot file: its layout, constants, error type and value types.

File format, version 2 (all integers little-endian); version 1 is the same without the
benefit sections and their header keys, and is still read::

    offset  size            field
    0       8               magic b"SCGSNAP\\n"
    8       2  u16          format version (2)
    10      2  u16          flags (0)
    12      4  u32          H = length of the JSON header in bytes
    16      H               JSON header, UTF-8, padded with spaces so that 16 + H is a multiple
                            of 16 (keys: format, version, gate, services, ledger_seq, created_at,
                            policy_version, count, entries, hmac, digest_bytes, until_epoch,
                            entry_id_bytes, signature; version 2 adds benefits and
                            benefit_count)
    then five sections (nine in version 2), each starting at a multiple of 8 (zero-padded
    between):
      digests   count x digest_bytes   truncated HMACs, ascending in unsigned byte order; an
                                       identifier may occupy several consecutive records
      services  count x u16            bit i set = header services[i] refused
      until     count x u16            end date (exclusive) as days since until_epoch
                                       (1970-01-01); 0xFFFF = open-ended
      index     (count + 1) x u32      record i's entry ids are entry_ids[index[i]:index[i+1]]
      entry_ids entries x entry_id_bytes (4 or 8)
    version 2 only, the incentives an allow names (red lists, issue #13):
      b_digests benefit_count x digest_bytes  truncated HMACs, ascending; an identifier
                                       earning several benefits occupies several records
      b_items   benefit_count x u16    index into the header's ``benefits`` catalogue: one
                                       [service, benefit, text, list, legal_basis] each
      b_until   benefit_count x u16    end date (exclusive) of the red-list entry, as above
      b_entry   benefit_count x u64    the red-list entry's id
    last 64 bytes                      Ed25519 signature over every byte before it

Benefits are exported only for subjects with no live sanctioned entry on the day of export
(the registry's precedence, :mod:`socialcredit.policy.incentives`), for the gate's services.

A record costs 24 bytes plus 4 per entry id (8 if some entry id needs more than 32 bits);
13.49 million records with one entry id each make about 378 MB.

Identifiers (:data:`KEY_KINDS`) are gate-index keys ``"<kind>:<value>"``, checked by
:func:`_check_key`.
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass, field

from socialcredit.errors import SocialCreditError

__all__ = [
    "DIGEST_BYTES",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "KEY_KINDS",
    "MAGIC",
    "MAX_SERVICES",
    "MIN_GATE_KEY_BYTES",
    "SIGNATURE_BYTES",
    "READABLE_VERSIONS",
    "SnapshotBenefit",
    "SnapshotError",
    "SnapshotHit",
    "SnapshotInfo",
    "SnapshotItem",
]

MAGIC = b"SCGSNAP\n"
FORMAT_VERSION = 2
#: Versions a reader accepts: 1 (refusals only) and 2 (refusals and benefits).
READABLE_VERSIONS = (1, 2)
FORMAT_NAME = "socialcredit-gate-snapshot"
KEY_KINDS = frozenset({"national_id", "phone", "document", "organisation_id"})

DIGEST_BYTES = 16
MAX_SERVICES = 16
MIN_GATE_KEY_BYTES = 16
SIGNATURE_BYTES = 64

_PREAMBLE = struct.Struct("<8sHHI")
_MAX_HEADER_BYTES = 1 << 20
_EPOCH = dt.date(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_OPEN = 0xFFFF
_MAX_UNTIL = _EPOCH + dt.timedelta(days=_OPEN - 1)


class SnapshotError(SocialCreditError):
    """A snapshot or key cannot be written, read or trusted; ``str(error)`` says why.

    Raised for invalid arguments too (bad item, service, key or date), so callers handle one
    exception type. Constructor: ``SnapshotError(message)``.
    """

    status_code = 422
    code = "snapshot_invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class SnapshotItem:
    """One restricted identifier as a snapshot stores it.

    ``key``: gate-index key, e.g. ``"national_id:11010519491231002X"``, ``"phone:+8613812345678"``,
    ``"document:A1234567"``. ``services``: services refused, e.g. ``("air", "rail_hsr")``.
    ``until``: ISO date (``YYYY-MM-DD``) the restriction ends, exclusive; ``None`` =
    open-ended (external lists). ``entry_ids``: the list entries behind it.

    An identifier under restrictions with different end dates is given as several items with
    the same key; a check combines those active on the day.

    :raises SnapshotError: malformed ``key`` or ``services`` given as a single string.
    """

    key: str
    services: tuple[str, ...]
    until: str | None
    entry_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _check_key(self.key)
        if isinstance(self.services, str):
            raise SnapshotError(
                f"SnapshotItem.services must be a tuple of service names, not the string "
                f"{self.services!r}")


@dataclass(frozen=True, slots=True)
class SnapshotBenefit:
    """One benefit a red-list entry earns an identifier at one of the gate's services (format
    version 2): ``key`` as :class:`SnapshotItem`'s, ``service``, ``benefit`` (its name in the
    policy), ``text`` (the policy's words for people), ``list``, ``legal_basis`` (of the
    incentive), ``until`` (ISO date, exclusive; ``None`` open-ended) and ``entry_id``.

    :raises SnapshotError: malformed ``key``.
    """

    key: str
    service: str
    benefit: str
    text: str
    list: str
    legal_basis: str
    until: str | None
    entry_id: int

    def __post_init__(self) -> None:
        _check_key(self.key)


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """What a verified snapshot says about itself.

    ``services``: the gate's services, in header order (bit order of the service masks).
    ``created_at``: timezone-aware. ``count``: records (items written). ``entry_count``: entry
    ids stored. ``size``: file size in bytes. ``digest``: SHA-256 of the whole file, hex (what
    ``sha256sum`` prints), to name a snapshot in logs and transfers. ``valid_until``: per
    service, when the snapshot stops being answerable (policy ``gate.snapshot_valid_hours``).
    """

    gate: str
    services: tuple[str, ...]
    ledger_seq: int
    created_at: dt.datetime
    policy_version: str
    count: int
    entry_count: int
    size: int
    digest: str
    #: service → the time (UTC) past which the snapshot must not be answered from for it
    #: (empty for a snapshot made before snapshots expired: expired for every service)
    valid_until: dict[str, dt.datetime] = field(default_factory=dict)
    #: the file's format version, and the benefit records it holds (0 in version 1)
    version: int = FORMAT_VERSION
    benefit_count: int = 0

    def expired(self, service: str, now: dt.datetime) -> bool:
        """Whether ``now`` (timezone-aware) is past the validity of ``service``."""
        until = self.valid_until.get(service)
        return until is None or now >= until

    def age(self, now: dt.datetime) -> dt.timedelta:
        return now - self.created_at


@dataclass(frozen=True, slots=True)
class SnapshotHit:
    """A listed identifier refused the service asked for, on the day asked for.

    Combines every record of the identifier active that day and covering that service:
    ``services`` = all services those records refuse (header order); ``until`` = the latest end
    date (ISO, exclusive), ``None`` if any is open-ended; ``entry_ids`` ascending.
    """

    services: tuple[str, ...]
    until: str | None
    entry_ids: tuple[int, ...]


def _check_key(key: object) -> str:
    if not isinstance(key, str):
        raise SnapshotError(f"identifier key must be a str, got {type(key).__name__}")
    kind, sep, value = key.partition(":")
    if not sep or not value or kind not in KEY_KINDS:
        raise SnapshotError(
            f"identifier key {_mask(key)!r} is not '<kind>:<value>' with kind one of "
            f"{', '.join(sorted(KEY_KINDS))}")
    return key


def _mask(key: str) -> str:
    """Enough of a key for an error message, not the identifier itself."""
    return key if len(key) <= 6 else key[:4] + "…"


def _align(n: int, to: int = 8) -> int:
    return -n % to


def _sections(start: int, count: int, entries: int, digest_bytes: int,
              entry_id_bytes: int, benefits: int | None = None) -> tuple[tuple[int, ...], int]:
    """Section offsets and the end of the last section: five (version 1, ``benefits`` None)
    or nine (version 2: digests, services, until, index, entry_ids, b_digests, b_items,
    b_until, b_entry)."""
    sizes = [count * digest_bytes, count * 2, count * 2, (count + 1) * 4,
             entries * entry_id_bytes]
    if benefits is not None:
        sizes += [benefits * digest_bytes, benefits * 2, benefits * 2, benefits * 8]
    offsets: list[int] = []
    pos = start
    for size in sizes:
        pos += _align(pos)
        offsets.append(pos)
        pos += size
    return tuple(offsets), pos
