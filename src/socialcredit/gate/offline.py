"""Offline snapshots for one gate, from the registry (keys kept under ``settings.keys_dir``).

* ``registry-ed25519.pem`` — the registry's signing key (Ed25519, RFC 8032), made on first use;
  ``registry-ed25519.pub.pem`` beside it is what gate operators verify with;
* ``gates/<gate>.key`` — the gate's HMAC key (32 bytes), made on its first export and handed to
  that gate's operator only.

A snapshot lists, per restricted identifier and entry, the gate's services it is refused
(platform-scoped sanctions only on the gate's own platform and those sharing with it under an
agreement of the policy; sanctions a court lifted for an entry left out) and until when, under
HMAC-SHA256 of the identifier with the gate's key (:mod:`socialcredit.gate.snapshot`); and
(format version 2) what each identifier's red-list entries earn at the gate's services on the
day of export, as the online gate's ``allow`` names them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from socialcredit.errors import NotFound
from socialcredit.gate.benefits import benefits_for, rewarded_services
from socialcredit.gate.compact import EntryRow
from socialcredit.gate.index import GateIndex
from socialcredit.gate.snapshot.format import SnapshotBenefit, SnapshotInfo, SnapshotItem
from socialcredit.gate.snapshot.keyed_hash import new_gate_key
from socialcredit.gate.snapshot.signing import (
    load_signing_key,
    new_signing_key,
    public_key_pem,
    save_signing_key,
)
from socialcredit.gate.snapshot.writer import write_snapshot
from socialcredit.gate.went_back import head_key_path
from socialcredit.policy.jurisdiction import local_today
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
    when = now or dt.datetime.now(dt.UTC)
    benefits = _benefits(policy, entries, keys_of, services,
                         local_today(policy.jurisdiction, when).isoformat())
    key, key_path = gate_key(keys_dir, gate)
    seq, _ = store.head()
    info = write_snapshot(out, items, gate=gate, gate_key=key,
                          signing_key=signing_key(keys_dir), services=services,
                          ledger_seq=seq, created_at=when,
                          policy_version=policy.version_hash,
                          valid_hours={s: policy.gate.snapshot_hours(s) for s in services},
                          benefits=benefits)
    return info, key_path


def _benefits(policy: Policy, entries: list[EntryRow], keys_of: dict[int, list[str]],
              services: tuple[str, ...], day: str) -> list[SnapshotBenefit]:
    """What each identifier's red-list entries earn at ``services`` on ``day``, as the online
    gate computes it (:func:`~socialcredit.gate.benefits.benefits_for`: none for a subject
    holding a live sanctioned entry)."""
    rewarded = [s for s in services if s in rewarded_services(policy)]
    red = {n for n, spec in policy.lists.items() if spec.effect == "incentive"}
    if not rewarded or not red:
        return []
    by_subject: dict[int, list[EntryRow]] = {}
    for e in entries:
        by_subject.setdefault(e.subject_id, []).append(e)
    out = []
    for sid, mine in by_subject.items():
        if not any(e.list in red for e in mine):
            continue
        for service in rewarded:
            for b in benefits_for(policy, mine, service, day):  # type: ignore[arg-type]
                out += [SnapshotBenefit(k, service, b["benefit"], b["text"], b["list"],
                                        b["legal_basis"], b["until"], b["entry_id"])
                        for k in dict.fromkeys(keys_of.get(sid, ()))]  # each key once
    return out
