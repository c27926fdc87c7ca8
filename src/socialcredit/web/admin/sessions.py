"""Operator sessions of the console: an operator key exchanged for a session cookie.

A session is ``(operator name, CSRF token, expiry)`` kept in this server process's memory
(``sc_admin`` cookie: HttpOnly, SameSite=Strict, Secure when ``settings.secure_cookies``;
8 hours). Each request re-checks that the operator still holds a live key, so a session ends
on the next click after ``socialcredit operators revoke NAME``; every refusal (revoked key,
wrong CSRF token, wrong key at sign-in) is an ``access.refused`` ledger event. Sessions do not
survive a restart and are not shared between server processes (sign in again).
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import threading
from dataclasses import dataclass

from sqlalchemy import select

from socialcredit.api import totp
from socialcredit.api.keys import authenticate
from socialcredit.disclosure.signin import refuse
from socialcredit.errors import AuthError, PermissionDenied
from socialcredit.store import Store
from socialcredit.store.tables import api_keys

__all__ = ["COOKIE", "SESSION_HOURS", "OperatorSession", "Sessions"]

COOKIE = "sc_admin"
SESSION_HOURS = 8


@dataclass(frozen=True)
class OperatorSession:
    operator: str
    csrf: str
    expires_at: dt.datetime


class Sessions:
    """The console's sessions (thread-safe)."""

    def __init__(self) -> None:
        self._by_token: dict[str, OperatorSession] = {}
        self._said: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def say(self, token: str, kind: str, text: str) -> None:
        """What the last action did (``kind`` done | error), shown once by the next page:
        kept here, not in the URL, so that a link cannot put words on the console."""
        with self._lock:
            self._said[token] = (kind, text)

    def said(self, token: str | None) -> tuple[str, str]:
        """``(done, error)`` said to this session since the last page ("" when nothing)."""
        with self._lock:
            kind, text = self._said.pop(token or "", ("", ""))
        return (text, "") if kind == "done" else ("", text)

    def sign_in(self, store: Store, key: str, *, now: dt.datetime,
                code: str = "") -> tuple[str, OperatorSession]:
        """Exchange an operator key (and its TOTP ``code`` when the operator enrolled one,
        socialcredit/api/totp.py) for ``(token, session)``.

        Raises:
            AuthError: not a live operator key, or a missing or wrong code (logged as
                ``access.refused``).
        """
        try:
            who = authenticate(store, key.strip())
            if who.role != "operator":
                raise AuthError("not an operator key")
        except AuthError as e:
            refuse(store, what="POST /admin/sign-in", reason="operator sign-in refused")
            raise AuthError("this is not a live operator key") from e
        try:
            totp.verify(store, name=who.name, code=code)
        except AuthError:
            refuse(store, what="POST /admin/sign-in",
                   reason=f"wrong authenticator code for operator {who.name}")
            raise
        token = secrets.token_urlsafe(32)
        session = OperatorSession(who.name, secrets.token_urlsafe(24),
                                  now + dt.timedelta(hours=SESSION_HOURS))
        with self._lock:
            self._by_token = {t: s for t, s in self._by_token.items() if s.expires_at > now}
            self._by_token[token] = session
        return token, session

    def check(self, store: Store, token: str | None, *, now: dt.datetime,
              what: str) -> OperatorSession:
        """The live session of ``token``.

        Raises:
            AuthError: no such session, expired, or the operator's keys were revoked since
                (the last two are logged as ``access.refused`` and end the session).
        """
        with self._lock:
            session = self._by_token.get(token or "")
        if session is None:
            raise AuthError("sign in to the console with your operator key")
        live = session.expires_at > now
        if live:
            with store.read() as conn:
                live = conn.execute(select(api_keys.c.key_id).where(
                    api_keys.c.role == "operator", api_keys.c.name == session.operator,
                    api_keys.c.revoked_at.is_(None)).limit(1)).first() is not None
        if not live:
            self.end(token)
            refuse(store, what=what, reason=f"operator session of {session.operator} used "
                   "after its key was revoked or the session expired")
            raise AuthError("your session ended (expired, or your key was revoked): sign in "
                            "again")
        return session

    def check_csrf(self, store: Store, session: OperatorSession, sent: str, *,
                   what: str) -> None:
        """Raises PermissionDenied (logged) unless ``sent`` is this session's CSRF token."""
        if not sent or not hmac.compare_digest(sent, session.csrf):
            refuse(store, what=what, reason=f"missing or wrong CSRF token (operator "
                   f"{session.operator})")
            raise PermissionDenied("missing or wrong CSRF token: reload the page and try again")

    def end(self, token: str | None) -> None:
        with self._lock:
            self._by_token.pop(token or "", None)
            self._said.pop(token or "", None)
