"""Signed offline snapshots of a gate's restrictions.

A snapshot lets a gate (an airline check-in desk without connectivity, say) check people offline
without holding a readable list of who is restricted: it stores, per restricted identifier, only
a keyed hash — HMAC-SHA256 (RFC 2104, FIPS 180-4) under a per-gate secret key, truncated to
16 bytes — with the services refused, the end date and the list entry ids. The registry signs
the whole file with Ed25519 (RFC 8032, pure Ed25519, via ``cryptography``); readers verify the
signature before using anything in it. Pure package: no database, no web framework.

Identifiers are gate-index keys ``"<kind>:<value>"`` (see :mod:`socialcredit.gate.index`): kind
``national_id`` (canonical form), ``phone`` (E.164) or ``document`` (upper case, no spaces or
hyphens). The HMAC input is the exact key string encoded as UTF-8, so a reader must normalise
identifiers exactly as the index does.

Only the gate's own services are exported: an item is written only if its services intersect
the gate's, and only that intersection is kept (an airline snapshot says nothing about hotels).

Security notes: the HMAC hides identifiers from whoever lacks the gate key, but identifier
spaces are small (phone numbers especially), so whoever holds the gate key can test candidates
offline; keep the gate key in the desk's secure storage. A reader holding another gate's key
finds nothing, that is, allows everyone: configuration must pair each snapshot with its gate's
key.

The package is split by facet (issue #18); this module only gathers the public names:

* :mod:`.format` — the file layout (drawn there), its constants, :class:`SnapshotError` and the
  value types :class:`SnapshotItem`, :class:`SnapshotInfo`, :class:`SnapshotHit`;
* :mod:`.signing` — the registry's Ed25519 signing key and its files;
* :mod:`.keyed_hash` — the per-gate HMAC key and :func:`keyed_digest`;
* :mod:`.writer` — :func:`write_snapshot`;
* :mod:`.verify` — :func:`verify_snapshot` (signature, then header and layout);
* :mod:`.reader` — :class:`SnapshotReader`, the offline checks (refusals, and from format
  version 2 the benefits of red lists, :class:`SnapshotBenefit`).
"""

from __future__ import annotations

from socialcredit.gate.snapshot.format import (
    FORMAT_VERSION,
    KEY_KINDS,
    MAGIC,
    SnapshotBenefit,
    SnapshotError,
    SnapshotHit,
    SnapshotInfo,
    SnapshotItem,
)
from socialcredit.gate.snapshot.keyed_hash import keyed_digest, new_gate_key
from socialcredit.gate.snapshot.reader import SnapshotReader
from socialcredit.gate.snapshot.signing import (
    load_signing_key,
    new_signing_key,
    public_key_pem,
    save_signing_key,
)
from socialcredit.gate.snapshot.verify import verify_snapshot
from socialcredit.gate.snapshot.writer import write_snapshot

__all__ = [
    "FORMAT_VERSION",
    "KEY_KINDS",
    "MAGIC",
    "SnapshotBenefit",
    "SnapshotError",
    "SnapshotHit",
    "SnapshotInfo",
    "SnapshotItem",
    "SnapshotReader",
    "keyed_digest",
    "load_signing_key",
    "new_gate_key",
    "new_signing_key",
    "public_key_pem",
    "save_signing_key",
    "verify_snapshot",
    "write_snapshot",
]
