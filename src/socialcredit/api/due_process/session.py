"""The signed-in subject: the session cookie, the CSRF check and the ``/v1/me`` router.

``SubjectDep`` reads the session cookie ``sc_session`` (:data:`COOKIE`) and raises
``AuthError`` (401) without a live session; ``SubjectWriteDep`` also checks the session's CSRF
token in the ``X-CSRF-Token`` header, and a missing or wrong one is ``PermissionDenied`` (403)
and an ``access.refused`` ledger event (:func:`check_csrf`, also used by the ``/me`` forms).
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from socialcredit.api.deps import RegistryDep
from socialcredit.api.keys import Principal
from socialcredit.api.registry import Registry
from socialcredit.api.schemas import error_responses
from socialcredit.disclosure.signin import refuse, session_subject
from socialcredit.errors import AuthError, PermissionDenied

__all__ = ["COOKIE", "SubjectDep", "SubjectWriteDep", "check_csrf", "now", "set_session_cookie",
           "subject_api"]

COOKIE = "sc_session"

subject_api = APIRouter(prefix="/v1/me", tags=["subject"],
                        responses=error_responses(400, 401, 403, 404, 409, 422, 429, 503))


def now() -> dt.datetime:
    """The current instant, UTC."""
    return dt.datetime.now(dt.UTC)


async def _subject(request: Request, registry: RegistryDep) -> Principal:
    token = request.cookies.get(COOKIE)
    if not token:
        raise AuthError("sign in first: POST /v1/me/sign-in, then /v1/me/session")
    sid, csrf = await run_in_threadpool(session_subject, registry.store, token, now=now())
    request.state.csrf = csrf
    return Principal("subject", f"subject:{sid}", sid)


SubjectDep = Annotated[Principal, Depends(_subject)]


def check_csrf(request: Request, registry: Registry, who: Principal, sent: str | None) -> None:
    """Compare ``sent`` with the session's token (``request.state.csrf``); raises
    PermissionDenied, after an ``access.refused`` event, when it is missing or wrong."""
    expected: str = request.state.csrf
    if not sent or not hmac.compare_digest(sent, expected):
        refuse(registry.store, what=f"{request.method} {request.url.path}",
               reason="missing or wrong CSRF token", subject_id=who.principal_id)
        raise PermissionDenied("missing or wrong CSRF token: send the X-CSRF-Token header (or "
                               "the form's csrf field) of your session")


async def _csrf_header(request: Request, registry: RegistryDep, who: SubjectDep) -> Principal:
    await run_in_threadpool(check_csrf, request, registry, who,
                            request.headers.get("x-csrf-token"))
    return who


SubjectWriteDep = Annotated[Principal, Depends(_csrf_header)]


def set_session_cookie(request: Request, response: Response, registry: Registry, token: str,
                       hours: int) -> None:
    """Set the session cookie for ``hours``: HttpOnly, SameSite=Strict, and ``Secure`` when
    configured, or whenever the request came over HTTPS (directly, or through a proxy in
    ``settings.trusted_proxies``: api/clients.py)."""
    secure = registry.settings.secure_cookies or request.url.scheme == "https"
    response.set_cookie(COOKIE, token, max_age=hours * 3600, httponly=True, samesite="strict",
                        secure=secure, path="/")
