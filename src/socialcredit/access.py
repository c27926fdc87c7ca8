"""Principals and API keys: furnishers, gates and operators.

A key looks like ``sc_<role>_<key_id>_<secret>``; only the SHA-256 of the secret is stored.
The secret carries 256 bits of randomness, so a fast hash is sufficient (no dictionary attack is
possible); comparison is constant-time. Registering a furnisher or gate is a ledger event; keys
are operational data, never in the ledger.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select, update

from socialcredit.errors import AuthError, Conflict, InputError, NotFound, UnknownService
from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.ledger import utc_now
from socialcredit.store.tables import api_keys, furnishers, gates

__all__ = [
    "FURNISHER_KINDS",
    "Principal",
    "add_furnisher",
    "add_gate",
    "add_operator",
    "authenticate",
    "furnisher_id",
    "list_furnishers",
    "list_gates",
    "revoke_key",
]

FURNISHER_KINDS = ("court", "lender", "payment", "transport", "platform")
Role = Literal["furnisher", "gate", "operator"]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
_KEY = re.compile(r"^sc_(f|g|o)_([0-9a-f]{12})_([A-Za-z0-9_-]{20,})$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``role`` and ``name``; a gate's ``services`` and ``platform`` scope; a
    furnisher's ``principal_id`` (its furnisher id)."""

    role: Role
    name: str
    principal_id: int | None = None
    services: frozenset[str] = field(default_factory=frozenset)
    platform: str | None = None


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise InputError(
            f"name {name!r} must be 1-120 characters: letters, digits, '.', '_' or '-'"
        )


def _new_key(store: Store, role: Role, name: str, principal_id: int | None) -> str:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    with store.batch() as b:
        b.add(
            api_keys,
            {"key_id": key_id, "key_hash": hashlib.sha256(secret.encode()).hexdigest(),
             "role": role, "principal_id": principal_id, "name": name, "created_at": b.at},
        )
    return f"sc_{role[0]}_{key_id}_{secret}"


def add_furnisher(store: Store, *, name: str, kind: str) -> str:
    """Register a furnisher (ledger event ``furnisher.registered``); return its new API key.

    Raises:
        InputError: bad name or kind. Conflict: the name is taken.
    """
    _check_name(name)
    if kind not in FURNISHER_KINDS:
        raise InputError(f"furnisher kind {kind!r} is not one of {', '.join(FURNISHER_KINDS)}")
    with store.batch() as b:
        if b.conn.execute(select(furnishers.c.id).where(furnishers.c.name == name)).first():
            raise Conflict(f"a furnisher named {name!r} already exists")
        fid = b.next_id(furnishers)
        b.add(furnishers, {"id": fid, "name": name, "kind": kind, "created_at": b.at})
        b.emit("furnisher.registered", {"furnisher_id": fid, "name": name, "kind": kind})
    return _new_key(store, "furnisher", name, fid)


def add_gate(
    store: Store, policy: Policy, *, name: str, services: list[str], platform: str | None = None
) -> str:
    """Register a gate for ``services`` (ledger event ``gate.registered``); return its API key.
    ``platform`` scopes platform-scoped sanctions (a ride-hail platform refuses only the riders
    its own drivers rated low).

    Raises:
        UnknownService: a service is not in the policy. Conflict: the name is taken.
    """
    _check_name(name)
    if not services:
        raise InputError("a gate needs at least one service (--services air,rail_hsr)")
    scoped = sorted({svc for s in policy.sanctions if s.scope == "platform"
                     for svc in s.services} & set(services))
    if scoped and not platform:
        raise InputError(f"{', '.join(scoped)} refusals are scoped to one platform: give the "
                         "gate's --platform (the furnisher name of the platform)")
    unknown = [s for s in services if s not in policy.services]
    if unknown:
        raise UnknownService(
            f"unknown service(s) {', '.join(unknown)}; the policy defines "
            f"{', '.join(policy.services)}"
        )
    with store.batch() as b:
        if b.conn.execute(select(gates.c.id).where(gates.c.name == name)).first():
            raise Conflict(f"a gate named {name!r} already exists")
        gid = b.next_id(gates)
        row = {"id": gid, "name": name, "services": ",".join(sorted(set(services))),
               "platform": platform, "created_at": b.at}
        b.add(gates, row)
        b.emit("gate.registered", {"gate_id": gid, "name": name, "services": row["services"],
                                   "platform": platform})
    return _new_key(store, "gate", name, gid)


def add_operator(store: Store, *, name: str) -> str:
    """Create an operator key (full access to operator routes); return it.

    Raises:
        Conflict: an operator of that name has a key that is not revoked.
    """
    _check_name(name)
    with store.read() as conn:
        if conn.execute(select(api_keys.c.key_id).where(
                api_keys.c.role == "operator", api_keys.c.name == name,
                api_keys.c.revoked_at.is_(None))).first():
            raise Conflict(f"operator {name!r} already has a key; revoke it first")
    return _new_key(store, "operator", name, None)


def revoke_key(store: Store, *, name: str, role: Role) -> int:
    """Revoke every key of the principal ``name``; return how many were revoked."""
    with store.batch() as b:
        res = b.conn.execute(
            update(api_keys)
            .where(api_keys.c.name == name, api_keys.c.role == role,
                   api_keys.c.revoked_at.is_(None))
            .values(revoked_at=utc_now())
        )
        return int(res.rowcount or 0)


def authenticate(store: Store, key: str) -> Principal:
    """Return the principal of an API key.

    Raises:
        AuthError: malformed, unknown or revoked key (one message for all, so as not to leak
            which keys exist).
    """
    m = _KEY.match(key.strip())
    bad = AuthError("invalid or revoked API key")
    if not m:
        raise bad
    with store.read() as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.key_id == m.group(2))).first()
        digest = hashlib.sha256(m.group(3).encode()).hexdigest()
        if row is None or row.revoked_at is not None or not hmac.compare_digest(
            row.key_hash, digest
        ):
            raise bad
        if row.role == "gate":
            g = conn.execute(select(gates).where(gates.c.id == row.principal_id)).one()
            return Principal("gate", g.name, g.id, frozenset(g.services.split(",")), g.platform)
        return Principal(row.role, row.name, row.principal_id)


def furnisher_id(store: Store, name: str) -> int:
    """Raises NotFound naming the command that registers one."""
    with store.read() as conn:
        fid = conn.execute(select(furnishers.c.id).where(furnishers.c.name == name)).scalar()
    if fid is None:
        raise NotFound(
            f"no furnisher named {name!r}; register it with "
            f"`socialcredit furnishers add {name} --kind court|lender|payment|transport|platform`"
        )
    return int(fid)


def list_furnishers(store: Store) -> list[dict[str, object]]:
    with store.read() as conn:
        rows = conn.execute(select(furnishers).order_by(furnishers.c.name)).all()
    return [dict(r._mapping) for r in rows]


def list_gates(store: Store) -> list[dict[str, object]]:
    with store.read() as conn:
        rows = conn.execute(select(gates).order_by(gates.c.name)).all()
    return [dict(r._mapping) for r in rows]
