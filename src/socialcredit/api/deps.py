"""FastAPI dependencies: the registry and the caller's role, declared once as aliases."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi import Path as PathParam

from socialcredit.api.authlimit import AuthFailures
from socialcredit.api.keys import KEY_FORMAT, VERIFY_SLOTS, Principal, authenticate, revoked_since
from socialcredit.api.registry import Registry
from socialcredit.errors import AuthError, PermissionDenied, RateLimited
from socialcredit.store import Store

__all__ = [
    "RowId",
    "refreshed",
    "KEY_CACHE_SECONDS",
    "KeyCache",
    "principal_of",
    "require_role",
    "FurnisherDep",
    "FurnisherOrOperatorDep",
    "GateOrOperatorDep",
    "OperatorDep",
    "RegistryDep",
    "get_registry",
]


async def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


RegistryDep = Annotated[Registry, Depends(get_registry)]


#: The threads that run argon2 checks (as many as may run at once: access.VERIFY_SLOTS).
_ARGON2_POOL = ThreadPoolExecutor(max_workers=VERIFY_SLOTS, thread_name_prefix="argon2")
#: Distinct unknown keys being checked at once, past which a new one is refused with 429.
AUTH_QUEUE_MAX = 64

#: Seconds a verified key is trusted without checking it again (a backstop: revocations are
#: pushed through :meth:`KeyCache.evict_revoked`); while the database is unreachable a known
#: key keeps working.
KEY_CACHE_SECONDS = 30.0


class KeyCache:
    """The API keys this process has verified, so the hot path (a gate decision with a known
    key) costs one SHA-256 and a dict lookup instead of an argon2id check (~20 ms).

    Entries are keyed by the SHA-256 of the whole key (the key itself is not kept) and hold
    ``(principal, key_id, verified_at)`` (``time.monotonic()`` seconds).

    Revocation: ``revoke_key`` writes a ledger event ``access.revoked``; the app's follower
    thread calls :meth:`evict_revoked` every ``settings.gate_refresh_ms`` (200 ms), which drops
    the revoked key ids. So a revoked key is refused by every running server within one
    follower period plus one read of the ledger after the revocation commits, as long as the
    server reaches the database (a server cut off from it cannot learn of the revocation and
    keeps honouring keys it knows until it reconnects). A check that started before the
    revocation and finishes after the eviction is not cached (the revoked ids are kept).
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Principal, str, float]] = {}
        self._revoked: set[str] = set()
        #: Checks in progress, by key digest (event-loop side only).
        self.inflight: dict[str, asyncio.Task[Principal]] = {}
        self._lock = threading.Lock()
        #: Ledger position up to which revocations have been applied (None: not yet read).
        self.last_seq: int | None = None

    @staticmethod
    def digest(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def get(self, digest: str) -> tuple[Principal, float] | None:
        """``(principal, verified_at)`` of a cached key, or None."""
        entry = self._entries.get(digest)
        return None if entry is None else (entry[0], entry[2])

    def put(self, digest: str, key: str, principal: Principal, now: float,
            seen_seq: int | None) -> None:
        """Cache a key verified by a check that started when :attr:`last_seq` was
        ``seen_seq``: not at all before the follower's first look at the ledger (a revocation
        could then slip by), nor if its key id was revoked meanwhile."""
        key_id = key.strip().split("_")[2]
        with self._lock:
            if seen_seq is not None and key_id not in self._revoked:
                self._entries[digest] = (principal, key_id, now)

    def drop(self, digest: str) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def __len__(self) -> int:
        return len(self._entries)

    def evict_revoked(self, store: Store) -> int:
        """Drop the keys revoked in the ledger since the last call; return how many cached
        keys were dropped. The first call only notes the ledger head (nothing is cached
        before it).

        Raises:
            StoreUnavailable: the database cannot be read (the cache is left as it is).
        """
        self.last_seq, key_ids = revoked_since(store, self.last_seq)
        if not key_ids:
            return 0
        gone = set(key_ids)
        with self._lock:
            self._revoked |= gone
            stale = [d for d, (_, kid, _) in self._entries.items() if kid in gone]
            for d in stale:
                del self._entries[d]
        return len(stale)


async def _principal(request: Request, registry: RegistryDep) -> Principal:
    return await principal_of(request, registry)


async def principal_of(request: Request, registry: Registry) -> Principal:
    """The caller, from its API key. Async, so the hot path (a cached key) never leaves the
    event loop; a cache miss asks the database in the thread pool, once however many requests
    present the key meanwhile. A key verified more than ``KEY_CACHE_SECONDS`` ago keeps
    serving while one background check confirms it (revocations are pushed sooner by
    :meth:`KeyCache.evict_revoked`); a database outage leaves known keys working.

    Raises:
        AuthError: no key, or an unknown or revoked one. StoreUnavailable: the database is
            unreachable and the key was never verified by this process.
    """
    header = request.headers.get("authorization", "")
    key = header[7:] if header.lower().startswith("bearer ") else request.headers.get(
        "x-api-key", "")
    if not key:
        raise AuthError("this route needs an API key: send `Authorization: Bearer <key>`")
    key = key.strip()
    cache: KeyCache = request.app.state.key_cache
    digest = KeyCache.digest(key)
    cached = cache.get(digest)
    if cached is not None:
        if time.monotonic() - cached[1] >= KEY_CACHE_SECONDS and digest not in cache.inflight:
            # re-check in the background, once for all requests; meanwhile the key serves
            task = _check(cache, registry, digest, key)
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return cached[0]
    # an unknown key costs an argon2 check: only a well-formed one, from a client and for a
    # key id that have not failed too often, and never more than AUTH_QUEUE_MAX queued
    m = KEY_FORMAT.match(key)
    if m is None:
        raise AuthError("invalid or revoked API key")
    failures: AuthFailures = request.app.state.auth_failures
    client = request.client.host if request.client else "?"
    failures.check(f"client:{client}", f"key:{m.group(2)}")
    pending = cache.inflight.get(digest)
    if pending is None and len(cache.inflight) >= AUTH_QUEUE_MAX:
        raise RateLimited("too many API key checks at once; retry shortly",
                          details={"retry_after_seconds": 1})
    task = pending or _check(cache, registry, digest, key)
    # counted as a failure until it succeeds: checks in flight count against the limit too
    names = (f"client:{client}", f"key:{m.group(2)}")
    failures.failed(*names)
    principal = await asyncio.shield(task)
    failures.forgive(*names)
    return principal


def _check(cache: KeyCache, registry: Registry, digest: str, key: str) -> asyncio.Task[Principal]:
    """One argon2 check of ``key`` in the thread pool, shared by every request that needs it
    meanwhile (no pile of identical checks when many connections present a new or expired
    key at once: measured in bench/load.py)."""
    seen_seq = cache.last_seq

    async def check() -> Principal:
        try:
            # argon2 (19 MiB, ~20 ms) on its own threads: the shared pool that serves the
            # sync routes and the database is never held by key checks
            principal = await asyncio.get_running_loop().run_in_executor(
                _ARGON2_POOL, authenticate, registry.store, key)
        except AuthError:
            cache.drop(digest)
            raise
        cache.put(digest, key, principal, time.monotonic(), seen_seq)
        return principal

    task = asyncio.ensure_future(check())
    cache.inflight[digest] = task
    task.add_done_callback(lambda _t: cache.inflight.pop(digest, None))
    return task


def _an(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def require_role(principal: Principal, *roles: str) -> Principal:
    """Raises PermissionDenied unless the principal has one of ``roles``."""
    if principal.role not in roles:
        raise PermissionDenied(
            f"this route needs {_an(' or '.join(roles))} key; this is "
            f"{_an(principal.role)} key")
    return principal


def _role(*roles: str) -> object:
    async def check(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        return require_role(principal, *roles)

    return check


FurnisherDep = Annotated[Principal, Depends(_role("furnisher"))]
FurnisherOrOperatorDep = Annotated[Principal, Depends(_role("furnisher", "operator"))]
GateOrOperatorDep = Annotated[Principal, Depends(_role("gate", "operator"))]
OperatorDep = Annotated[Principal, Depends(_role("operator"))]


#: A row id in a path (dispute, review, link candidate, record, merge): a 64-bit row id (a
#: larger number was a 500 from the database driver, found by tests/test_fuzz_api.py).
RowId = Annotated[int, PathParam(ge=1, le=2**62)]


def refreshed(registry: Registry, result: Any) -> Any:
    """Return ``result`` after this process's gate index has applied the ledger: a step that
    can change a listing (an operator's decision, a dispute step) is seen by this process's
    gates at once, by other gates within their follower period."""
    if "gate_index" in registry.__dict__:
        registry.gate_index.refresh()
    return result
