"""What every console page shares: the process's operator sessions, the clock, rendering,
and the session check that sends a caller without a live session to the sign-in page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from socialcredit.errors import AuthError
from socialcredit.registry import Registry
from socialcredit.web.admin.sessions import COOKIE, OperatorSession, Sessions

__all__ = ["SESSIONS", "now", "page", "signed_in"]

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
