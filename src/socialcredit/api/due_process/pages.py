"""The subject's web pages under ``/me``: the file page (or the sign-in form when not signed
in), the two-step sign-in by one-time code, and the forms to dispute, appeal, ask for a review,
apply for a repair and sign out.

The sign-in forms carry their own token (cookie ``sc_login``, :data:`LOGIN_COOKIE`) against
login CSRF; every other form carries the session's CSRF token in its ``csrf`` field. A form
action redirects back to ``/me``, which shows once what it did (kept on the server, per
session: a link cannot put words on the registry's page). Pages are never cached
(``Cache-Control: no-store``).
"""

from __future__ import annotations

import hmac
import secrets
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from socialcredit.api.deps import RegistryDep
from socialcredit.api.due_process.session import COOKIE, check_csrf, now, set_session_cookie
from socialcredit.api.due_process.signin import send_code
from socialcredit.api.keys import Principal
from socialcredit.api.ratelimit import limit_client
from socialcredit.api.registry import Registry
from socialcredit.disclosure.disputes import appeal_dispute, open_dispute
from socialcredit.disclosure.repairs import apply_for_repair
from socialcredit.disclosure.reviews import request_review
from socialcredit.disclosure.signin import end_session, refuse, session_subject, verify_code
from socialcredit.disclosure.subject_file import subject_file
from socialcredit.errors import AuthError, InputError, PermissionDenied, SocialCreditError
from socialcredit.web.origin import same_origin
from socialcredit.web.plain import explain, said

__all__ = ["LOGIN_COOKIE", "subject_web"]

subject_web = APIRouter(prefix="/me", tags=["subject"], include_in_schema=False)


def _page(request: Request, registry: Registry, template: str, status: int = 200,
          **context: Any) -> HTMLResponse:
    html = request.app.state.templates.get_template(template).render(
        policy_version=registry.policy.version_hash, **context)
    # personal data: never kept in the browser's cache (the back button after sign-out)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


@subject_web.get("")
def me_page(request: Request, registry: RegistryDep) -> Response:
    """The file page, or the sign-in form when not signed in."""
    token = request.cookies.get(COOKIE)
    try:
        if not token:
            raise AuthError("sign in")
        sid, csrf = session_subject(registry.store, token, now=now())
    except AuthError:
        return RedirectResponse("/me/sign-in", status_code=303)
    file = explain(subject_file(registry.store, registry.policy, sid), registry.policy)
    message, error = _flashed(token)
    return _page(request, registry, "me.html", file=file, csrf=csrf, message=message,
                 error=error, policy_services=registry.policy.services)


#: The sign-in forms' own CSRF cookie (login CSRF: a cross-site page must not sign a browser
#: into someone else's file). SameSite=Strict, so a cross-site post never carries it.
LOGIN_COOKIE = "sc_login"


def _login_form_ok(request: Request, sent: str) -> bool:
    kept = request.cookies.get(LOGIN_COOKIE, "")
    return bool(kept) and hmac.compare_digest(kept, sent) and same_origin(request)


def _sign_in_page(request: Request, registry: Registry, *, status: int = 200,
                  **context: Any) -> HTMLResponse:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = _page(request, registry, "me_sign_in.html", status=status, login_csrf=token,
                     **context)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/me",
                        secure=registry.settings.secure_cookies
                        or request.url.scheme == "https")
    return response


def _login_refused(request: Request, registry: Registry) -> HTMLResponse:
    refuse(registry.store, what="sign_in.form", reason="login CSRF: no or wrong form token")
    return _sign_in_page(request, registry, status=403, step="ask",
                         error="This form is out of date or came from another site: "
                               "fill it in again here.")


@subject_web.get("/sign-in")
def sign_in_page(request: Request, registry: RegistryDep) -> HTMLResponse:
    return _sign_in_page(request, registry, step="ask")


@subject_web.post("/sign-in")
def sign_in_form(request: Request, registry: RegistryDep,
                 national_id: Annotated[str, Form(max_length=40)],
                 phone: Annotated[str, Form(max_length=40)],
                 login_csrf: Annotated[str, Form(max_length=100)] = "") -> HTMLResponse:
    if not _login_form_ok(request, login_csrf):
        return _login_refused(request, registry)
    try:
        send_code(request, registry, national_id, phone)
    except SocialCreditError as e:
        return _sign_in_page(request, registry, step="ask", error=e.message,
                             status=e.status_code, national_id=national_id, phone=phone)
    return _sign_in_page(request, registry, step="code", message=said("code_sent"),
                         national_id=national_id, phone=phone)


@subject_web.post("/verify")
def verify_form(request: Request, registry: RegistryDep,
                national_id: Annotated[str, Form(max_length=40)],
                phone: Annotated[str, Form(max_length=40)],
                code: Annotated[str, Form(max_length=12)],
                login_csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    if not _login_form_ok(request, login_csrf):
        return _login_refused(request, registry)
    try:
        limit_client(request)
        session = verify_code(registry.store, registry.policy, national_id=national_id,
                              phone=phone, code=code, now=now())
    except SocialCreditError as e:
        return _sign_in_page(request, registry, step="code", error=e.message,
                             status=e.status_code, national_id=national_id, phone=phone)
    response = RedirectResponse("/me", status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/me")  # its one use is done
    set_session_cookie(request, response, registry, session.token,
                       registry.policy.due_process.session_hours)
    return response


#: What the last form action did, per session (token), shown once by the next ``GET /me``:
#: kept on the server so that a link cannot put words on the registry's page.
_FLASH: dict[str, tuple[str, str]] = {}
_FLASH_LOCK = threading.Lock()


def _flash(token: str, kind: str, text: str) -> None:
    with _FLASH_LOCK:
        if len(_FLASH) > 10_000:
            _FLASH.clear()
        _FLASH[token] = (kind, text)


def _flashed(token: str) -> tuple[str | None, str | None]:
    with _FLASH_LOCK:
        kind, text = _FLASH.pop(token, (None, None))
    return (text, None) if kind == "done" else (None, text)


def _form_action(request: Request, registry: Registry, csrf: str, act: Any, *,
                 then: str = "/me") -> Response:
    """Run a signed-in form action, then redirect to ``then`` (the file page shows what
    happened). No session: to the sign-in page. A wrong CSRF token: the 403 page."""
    token = request.cookies.get(COOKIE)
    try:
        if not token:
            raise AuthError("sign in first")
        sid, request.state.csrf = session_subject(registry.store, token, now=now())
    except AuthError:
        return RedirectResponse("/me/sign-in", status_code=303)
    who = Principal("subject", f"subject:{sid}", sid)
    try:
        check_csrf(request, registry, who, csrf)
        _flash(token, "done", act(sid))
    except PermissionDenied as e:
        return _page(request, registry, "me_error.html", status=403, error=e.message)
    except SocialCreditError as e:
        _flash(token, "error", e.message)
    return RedirectResponse(then, status_code=303)


@subject_web.post("/disputes")
def dispute_form(request: Request, registry: RegistryDep,
                 csrf: Annotated[str, Form(max_length=100)] = "",
                 target: Annotated[str, Form(max_length=40)] = "",
                 reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """``target`` is ``record:<id>`` or ``entry:<id>``."""
    def act(sid: int) -> str:
        kind, _, number = target.partition(":")
        if kind not in ("record", "entry") or not number.isdigit():
            raise InputError("choose the record or entry you dispute")
        d = open_dispute(registry.store, registry.policy, subject_id=sid, reason=reason,
                         now=now(), **{f"{kind}_id": int(number)})
        return said("dispute_opened", id=d["id"], day=d["due_on"])

    return _form_action(request, registry, csrf, act)


@subject_web.post("/appeals")
def appeal_form(request: Request, registry: RegistryDep,
                csrf: Annotated[str, Form(max_length=100)] = "",
                dispute_id: Annotated[int, Form(ge=1, le=2**62)] = 1,
                reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    def act(sid: int) -> str:
        appeal_dispute(registry.store, subject_id=sid, dispute_id=dispute_id, reason=reason,
                       now=now())
        return said("appealed", id=dispute_id)

    return _form_action(request, registry, csrf, act)


@subject_web.post("/reviews")
def review_form(request: Request, registry: RegistryDep,
                csrf: Annotated[str, Form(max_length=100)] = "",
                decision_id: Annotated[str, Form(max_length=40)] = "",
                reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    def act(sid: int) -> str:
        r = request_review(registry.store, subject_id=sid, decision_id=decision_id,
                           reason=reason, now=now())
        return said("review_requested", id=r["id"])

    return _form_action(request, registry, csrf, act)


@subject_web.post("/repairs")
def repair_form(request: Request, registry: RegistryDep,
                csrf: Annotated[str, Form(max_length=100)] = "",
                entry_id: Annotated[int, Form(ge=1, le=2**62)] = 1,
                condition: Annotated[str, Form(max_length=20)] = "",
                evidence: Annotated[str, Form(max_length=2000)] = "") -> Response:
    def act(sid: int) -> str:
        r = apply_for_repair(registry.store, subject_id=sid, entry_id=entry_id,
                             condition=condition, evidence=evidence, now=now(),
                             policy=registry.policy)
        return said("repair_requested", id=r["id"])

    return _form_action(request, registry, csrf, act)


@subject_web.post("/sign-out")
def sign_out_form(request: Request, registry: RegistryDep,
                  csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    def act(sid: int) -> str:
        end_session(registry.store, request.cookies[COOKIE], now=now())
        return "signed out"

    response = _form_action(request, registry, csrf, act, then="/me/sign-in")
    if response.status_code == 303:
        response.delete_cookie(COOKIE, path="/")
    return response
