"""Offline snapshots for one gate, from the registry (keys kept under ``settings.keys_dir``).

* ``registry-ed25519.pem`` — the registry's signing key (Ed25519, RFC 8032), made on first use;
  ``registry-ed25519.pub.pem`` beside it is what gate operators verify with;
* ``gates/<gate>.key`` — the gate's HMAC key (32 bytes), made on its first export and handed to
  that gate's operator only.

A snapshot lists, per restricted identifier and entry, the gate's services it is refused
(platform-scoped sanctions only on the gate's own platform and those sharing with it under an
agreement of the policy; sanctions a court lifted for an entry left out) and until when, under
HMAC-SHA256 of the identifier with the gate's key (:mod:`socialcredit.gate.snapshot`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from socialcredit.errors import NotFound
from socialcredit.gate.index import GateIndex
from socialcredit.gate.snapshot.format import SnapshotInfo, SnapshotItem
from socialcredit.gate.snapshot.keyed_hash import new_gate_key
from socialcredit.gate.snapshot.signing import (
    load_signing_key,
    new_signing_key,
    public_key_pem,
    save_signing_key,
)
from socialcredit.gate.snapshot.writer import write_snapshot
from socialcredit.gate.went_back import head_key_path
from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.tables import gates

__all__ = ["export_gate_snapshot", "gate_key", "public_key_path", "signing_key"]


def public_key_path(keys_dir: Path) -> Path:
    return head_key_path(keys_dir)


def signing_key(keys_dir: Path) -> Ed25519PrivateKey:
    """The registry's Ed25519 signing key, created (mode 0600) with its public key on first
    use."""
    path = keys_dir / "registry-ed25519.pem"
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        key = new_signing_key()
        save_signing_key(key, path)
        public_key_path(keys_dir).write_bytes(public_key_pem(key))
    return load_signing_key(path)


def gate_key(keys_dir: Path, gate: str) -> tuple[bytes, Path]:
    """The gate's HMAC key and its file, created (mode 0600) on first use."""
    path = keys_dir / "gates" / f"{gate}.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(new_gate_key())
    return path.read_bytes(), path


def export_gate_snapshot(store: Store, policy: Policy, keys_dir: Path, *, gate: str, out: Path,
                         now: dt.datetime | None = None) -> tuple[SnapshotInfo, Path]:
    """Write the snapshot of gate ``gate`` to ``out``, signed by the registry key under
    ``keys_dir``; return its info and the gate key file.

    Raises:
        NotFound: no such gate. SnapshotError: a key file or the output cannot be written.
    """
    with store.read() as conn:
        row = conn.execute(select(gates).where(gates.c.name == gate)).first()
    if row is None:
        raise NotFound(f"no gate named {gate!r}; see `socialcredit gates list`")
    services = tuple(sorted(row.services.split(",")))
    index = GateIndex(store, policy)
    entries, keys = index.restricted()
    keys_of: dict[int, list[str]] = {}
    for k, sid in keys:
        keys_of.setdefault(sid, []).append(k)
    scoped = {n for n in policy.lists
              if any(s.scope == "platform" for s in policy.sanctions_for(n))}
    items = []
    for e in entries:
        if e.list in scoped and e.platform not in policy.shared_with(e.list,
                                                                             row.platform):
            continue  # another platform's entry, unless a sharing agreement names this one
        refused = tuple(s for s in e.services if s in services)
        if refused:
            items += [SnapshotItem(k, refused, e.until, (e.entry_id,))
                      for k in keys_of.get(e.subject_id, ())]
    key, key_path = gate_key(keys_dir, gate)
    seq, _ = store.head()
    info = write_snapshot(out, items, gate=gate, gate_key=key,
                          signing_key=signing_key(keys_dir), services=services,
                          ledger_seq=seq, created_at=now or dt.datetime.now(dt.UTC),
                          policy_version=policy.version_hash,
                          valid_hours={s: policy.gate.snapshot_hours(s) for s in services})
    return info, key_path
