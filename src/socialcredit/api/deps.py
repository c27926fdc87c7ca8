"""FastAPI dependencies: the registry and the caller's role, declared once as aliases."""

from __future__ import annotations

import hashlib
import time
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from socialcredit.access import Principal, authenticate
from socialcredit.errors import AuthError, PermissionDenied, StoreUnavailable
from socialcredit.registry import Registry

__all__ = [
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


#: Seconds a verified key is trusted without asking the database again (a revocation takes
#: effect within this time); while the database is unreachable a known key keeps working.
KEY_CACHE_SECONDS = 30.0


async def _principal(request: Request, registry: RegistryDep) -> Principal:
    return await principal_of(request, registry)


async def principal_of(request: Request, registry: Registry) -> Principal:
    """The caller, from its API key. Async, so the hot path (a cached key) never leaves the
    event loop; a cache miss asks the database in the thread pool.

    Raises:
        AuthError: no key, or an unknown or revoked one. StoreUnavailable: the database is
            unreachable and the key was never verified by this process.
    """
    header = request.headers.get("authorization", "")
    key = header[7:] if header.lower().startswith("bearer ") else request.headers.get(
        "x-api-key", "")
    if not key:
        raise AuthError("this route needs an API key: send `Authorization: Bearer <key>`")
    cache: dict[str, tuple[Principal, float]] = request.app.state.key_cache
    digest = hashlib.sha256(key.encode()).hexdigest()
    cached = cache.get(digest)
    now = time.monotonic()
    if cached is not None and now - cached[1] < KEY_CACHE_SECONDS:
        return cached[0]
    try:
        principal = await run_in_threadpool(authenticate, registry.store, key)
    except StoreUnavailable:
        if cached is not None:  # the gate keeps answering from what it knows
            return cached[0]
        raise
    except AuthError:
        cache.pop(digest, None)
        raise
    cache[digest] = (principal, now)
    return principal


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
