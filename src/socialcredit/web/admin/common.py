"""What every console page shares: the process's operator sessions, the clock, rendering,
the session check that sends a caller without a live session to the sign-in page
(:func:`signed_in`), and the check every form (POST) passes first (:func:`require_session`:
a live session and its CSRF token)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from socialcredit.api.registry import Registry
from socialcredit.errors import AuthError, PermissionDenied
from socialcredit.web.admin.sessions import COOKIE, OperatorSession, Sessions

__all__ = ["SESSIONS", "csrf_refusal", "now", "page", "require_session", "signed_in"]

SESSIONS = Sessions()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def page(request: Request, registry: Registry, template: str, status: int = 200,
         **context: Any) -> HTMLResponse:
    """Render a console page; never cached by the browser (personal data)."""
    html = request.app.state.templates.get_template(template).render(
        policy_version=registry.policy.version_hash, **context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def signed_in(request: Request, registry: Registry) -> OperatorSession | None:
    """The caller's live operator session, or None (no cookie, expired, or revoked key; the
    last two are logged by :meth:`Sessions.check`)."""
    try:
        return SESSIONS.check(registry.store, request.cookies.get(COOKIE), now=now(),
                              what=f"{request.method} {request.url.path}")
    except AuthError:
        return None


def csrf_refusal(request: Request, registry: Registry, session: OperatorSession,
                 csrf: str) -> Response | None:
    """None if ``csrf`` is the session's CSRF token; else the 403 error page (the refusal is
    logged by :meth:`Sessions.check_csrf` as an ``access.refused`` ledger event)."""
    try:
        SESSIONS.check_csrf(registry.store, session, csrf,
                            what=f"{request.method} {request.url.path}")
    except PermissionDenied as e:
        return page(request, registry, "me_error.html", status=e.status_code, error=e.message)
    return None


def require_session(request: Request, registry: Registry,
                    csrf: str) -> OperatorSession | Response:
    """The check every console form passes first: the caller's live operator session, or the
    response to give instead: a redirect (303) to the sign-in page without a live session, the
    403 error page with a missing or wrong CSRF token.

    Use: ``session = require_session(…)``, then ``if isinstance(session, Response): return
    session``."""
    session = signed_in(request, registry)
    if session is None:
        return RedirectResponse("/admin/sign-in", status_code=303)
    refusal = csrf_refusal(request, registry, session, csrf)
    return session if refusal is None else refusal
