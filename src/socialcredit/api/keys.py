"""Principals and API keys: furnishers, gates and operators.

A key looks like ``sc_<role>_<key_id>_<secret>`` (role ``f``, ``g`` or ``o``; ``key_id`` 12 hex
digits; ``secret`` 256 random bits, URL-safe base64). The database holds only an argon2id hash
of the secret (``$argon2id$v=19$m=19456,t=2,p=1$…``, made by argon2-cffi with the parameters
of the OWASP Password Storage Cheat Sheet: 19 MiB, 2 passes, 1 lane; about 20 ms per check).
A key is found by ``key_id`` and its secret checked by argon2-cffi (constant time); an unknown
``key_id`` is checked against a dummy hash, so it costs what a wrong secret costs and the time
of a refusal does not tell which key ids exist (up to :data:`UNKNOWN_KEY_CHECKS_PER_S` such
checks a second; beyond, an unknown key id is refused at once). At most :data:`VERIFY_SLOTS`
checks run at once (19 MiB each), so a flood of bad keys can exhaust neither memory nor every
core.

Hashes written before revision 0002 were the hex SHA-256 of the secret; migration 0002
rewrites each as ``sha256$`` + argon2id(hex SHA-256 of the secret), so no fast hash stays in a
database and every old key keeps working.

Registering a furnisher or gate and revoking keys are ledger events (``access.revoked`` carries
role, name and key ids — never a secret or a hash); the keys themselves are operational data,
never in the ledger. A running API server evicts revoked keys from its cache when its follower
thread sees the event (:func:`revoked_since`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import threading
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update

from socialcredit.api.buckets import RateLimiter
from socialcredit.errors import (
    AuthError,
    Conflict,
    InputError,
    NotFound,
    RateLimited,
    UnknownService,
)
from socialcredit.policy.model import FURNISHER_KINDS, Policy
from socialcredit.store import Store
from socialcredit.store.tables import api_keys, events, furnishers, gates

__all__ = [
    "FURNISHER_KINDS",
    "LEGACY_PREFIX",
    "REVOKED_EVENT",
    "KEY_FORMAT",
    "UNKNOWN_KEY_CHECKS_PER_S",
    "VERIFY_SLOTS",
    "Principal",
    "add_furnisher",
    "add_gate",
    "add_operator",
    "authenticate",
    "furnisher_id",
    "issue_key",
    "hash_secret",
    "list_furnishers",
    "list_gates",
    "revoke_key",
    "revoked_since",
]

Role = Literal["furnisher", "gate", "operator"]
#: A caller: a key's role, or ``subject`` (a person signed in with a one-time code).
CallerRole = Literal["furnisher", "gate", "operator", "subject"]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
#: The shape of a key (checked before any hashing): role letter, 12-hex key id, secret.
KEY_FORMAT = re.compile(r"^sc_(f|g|o)_([0-9a-f]{12})_([A-Za-z0-9_-]{20,64})$")
_KEY = KEY_FORMAT

#: argon2id with the OWASP Password Storage Cheat Sheet's first setting (m=19 MiB, t=2, p=1).
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
#: Argon2 checks running at once in one process (each holds 19 MiB for ~20 ms): half the
#: cores, at least one, so that a flood of made-up keys from many addresses (each check
#: refused only after it ran) leaves the other half to the gates' decisions (newcomer review of
#: issue #20: with 4 slots on 2 cores a valid gate waited up to 10 s during such a flood).
VERIFY_SLOTS = max(1, (os.cpu_count() or 2) // 2)
_SLOTS = threading.BoundedSemaphore(VERIFY_SLOTS)
#: Dummy checks of unknown key ids per second, process-wide (a bucket holding as many). Beyond
#: it an unknown key id is refused at once, without argon2: a flood of made-up keys from many
#: addresses (which per-client limits cannot stop) then costs no more cores. What it gives away
#: — during such a flood, a refusal's time tells an existing key id from a made-up one — is
#: worth nothing: key ids are 48 random bits, and an existing one still needs its secret and is
#: limited per key id. ``bench/load.py --flood 100 --flood-addresses 1000`` measures it.
UNKNOWN_KEY_CHECKS_PER_S = 10


def _unknown_key_budget() -> RateLimiter:
    """The process-wide budget of dummy checks for unknown key ids: one bucket of
    :data:`UNKNOWN_KEY_CHECKS_PER_S` tokens a second, holding as many."""
    return RateLimiter(UNKNOWN_KEY_CHECKS_PER_S * 60, UNKNOWN_KEY_CHECKS_PER_S, max_clients=1,
                       what="checks of unknown API keys")


_UNKNOWN_CHECKS = _unknown_key_budget()
#: Marks a hash migrated from revision 0001: argon2id over the hex SHA-256 of the secret.
LEGACY_PREFIX = "sha256$"
#: Ledger event type of a revocation; payload ``{"role", "name", "key_ids"}``.
REVOKED_EVENT = "access.revoked"


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``role`` and ``name``; a gate's ``services`` and ``platform`` scope; a
    furnisher's ``principal_id`` (its furnisher id), a subject's (their subject id)."""

    role: CallerRole
    name: str
    principal_id: int | None = None
    services: frozenset[str] = field(default_factory=frozenset)
    platform: str | None = None


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise InputError(
            f"name {name!r} must be 1-120 characters: letters, digits, '.', '_' or '-'"
        )


def hash_secret(secret: str) -> str:
    """The argon2id PHC string stored for ``secret`` (``$argon2id$v=19$…``, ~97 characters)."""
    return _HASHER.hash(secret)


@cache
def _dummy_hash() -> str:
    """A hash no key matches, checked when the key id is unknown (same cost as a real one)."""
    return _HASHER.hash(secrets.token_urlsafe(32))


def _verify_hash(stored: str, secret: str) -> bool:
    """True if ``secret`` matches the stored hash (argon2-cffi compares in constant time); a
    malformed stored value never matches."""
    if stored.startswith(LEGACY_PREFIX):
        stored = stored[len(LEGACY_PREFIX):]
        secret = hashlib.sha256(secret.encode()).hexdigest()
    with _SLOTS:
        try:
            return _HASHER.verify(stored, secret)
        except (VerificationError, InvalidHashError):
            return False


def _new_key(store: Store, role: Role, name: str, principal_id: int | None) -> str:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key_hash = hash_secret(secret)  # before the batch: the ledger lock is not held for it
    with store.batch() as b:
        b.add(
            api_keys,
            {"key_id": key_id, "key_hash": key_hash, "role": role,
             "principal_id": principal_id, "name": name, "created_at": b.at},
        )
    return f"sc_{role[0]}_{key_id}_{secret}"


def issue_key(store: Store, *, role: Role, name: str) -> str:
    """A new API key for a registered furnisher or gate (after a revocation, or to rotate
    keys; the old keys stay valid until revoked); return it.

    Raises:
        NotFound: no furnisher / gate of that name. InputError: ``role`` is operator (use
            :func:`add_operator`).
    """
    tables = {"furnisher": furnishers, "gate": gates}
    if role not in tables:
        raise InputError("operators get a key with `socialcredit operators add NAME`")
    table = tables[role]
    with store.read() as conn:
        pid = conn.execute(select(table.c.id).where(table.c.name == name)).scalar()
    if pid is None:
        raise NotFound(f"no {role} named {name!r}; see `socialcredit {role}s list`")
    return _new_key(store, role, name, int(pid))


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


def revoke_key(store: Store, *, name: str, role: Role) -> list[str]:
    """Revoke every live key of the principal ``name``; return the revoked key ids (empty if
    all were already revoked). One ledger event ``access.revoked`` ``{"role", "name",
    "key_ids"}`` records it; running API servers drop those keys from their caches when they
    see it (within ``settings.gate_refresh_ms``; see ``socialcredit.api.deps.KeyCache``).

    Raises:
        NotFound: no furnisher / gate / operator of that name.
    """
    principals = {"furnisher": furnishers, "gate": gates}
    with store.batch() as b:
        if role in principals:
            table = principals[role]
            known = b.conn.execute(select(table.c.id).where(table.c.name == name)).first()
        else:
            known = b.conn.execute(select(api_keys.c.key_id).where(
                api_keys.c.role == role, api_keys.c.name == name)).first()
        if known is None:
            raise NotFound(f"no {role} named {name!r}; see `socialcredit {role}s list`"
                           if role != "operator" else f"no operator named {name!r}")
        key_ids = sorted(b.conn.execute(select(api_keys.c.key_id).where(
            api_keys.c.name == name, api_keys.c.role == role,
            api_keys.c.revoked_at.is_(None))).scalars())
        if key_ids:
            b.conn.execute(update(api_keys).where(api_keys.c.key_id.in_(key_ids))
                           .values(revoked_at=b.at))
            b.emit(REVOKED_EVENT, {"role": role, "name": name, "key_ids": key_ids})
        return key_ids


def revoked_since(store: Store, after_seq: int | None) -> tuple[int, list[str]]:
    """Key ids revoked by ledger events after ``after_seq``; return ``(head_seq, key_ids)``,
    ``head_seq`` being the ledger position to pass next time (``after_seq`` None: just the
    head). Two indexed reads: the head, then the revocations between ``after_seq`` and it.

    Raises:
        StoreUnavailable: the database cannot be read.
    """
    with store.read() as conn:
        head = int(conn.execute(select(func.coalesce(func.max(events.c.seq), 0))).scalar_one())
        if after_seq is None or head <= after_seq:
            return max(head, after_seq or 0), []
        payloads = conn.execute(select(events.c.payload).where(
            events.c.seq > after_seq, events.c.seq <= head,
            events.c.type == REVOKED_EVENT)).scalars().all()
    return head, [k for p in payloads for k in json.loads(p)["key_ids"]]


def authenticate(store: Store, key: str) -> Principal:
    """Return the principal of an API key. Costs one argon2id check (~20 ms) whether or not
    the key id exists; callers cache the result (``socialcredit.api.deps.KeyCache``).

    Raises:
        AuthError: malformed, unknown or revoked key (one message for all, so as not to leak
            which keys exist). StoreUnavailable: the database cannot be read.
    """
    m = _KEY.match(key.strip())
    bad = AuthError("invalid or revoked API key")
    if not m:
        raise bad
    with store.read() as conn:  # one query whatever the key: the same cost for every refusal
        row = conn.execute(
            select(api_keys.c.key_hash, api_keys.c.role, api_keys.c.name,
                   api_keys.c.principal_id, api_keys.c.revoked_at,
                   gates.c.services, gates.c.platform)
            .select_from(api_keys.outerjoin(gates, (api_keys.c.role == "gate")
                                            & (gates.c.id == api_keys.c.principal_id)))
            .where(api_keys.c.key_id == m.group(2))
        ).first()
    # the check runs even for an unknown or revoked key (against a dummy hash for an unknown
    # one), so a refusal takes as long whatever the reason — within a budget for unknown ones
    if row is None:
        try:
            _UNKNOWN_CHECKS.take("unknown key ids")
        except RateLimited:
            raise bad from None
    ok = _verify_hash(_dummy_hash() if row is None else row.key_hash, m.group(3))
    if row is None or row.revoked_at is not None or not ok:
        raise bad
    if row.role == "gate":
        return Principal("gate", row.name, row.principal_id,
                         frozenset((row.services or "").split(",")), row.platform)
    return Principal(row.role, row.name, row.principal_id)


def furnisher_id(store: Store, name: str) -> int:
    """Raises NotFound naming the command that registers one."""
    with store.read() as conn:
        fid = conn.execute(select(furnishers.c.id).where(furnishers.c.name == name)).scalar()
    if fid is None:
        raise NotFound(
            f"no furnisher named {name!r}; register it with "
            f"`socialcredit furnishers add {name} --kind {'|'.join(FURNISHER_KINDS)}`"
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
