"""Signing in by a one-time code: ``POST /v1/me/sign-in`` asks for a code by SMS,
``POST /v1/me/session`` exchanges it for a session cookie, ``DELETE /v1/me/session`` signs out.

Asking for a code answers the same (202, :data:`SENT`) for every pair of ID number and phone,
real or made up: only the in-memory limits run in the request, and the lookup, the writes and
the delivery run in a background thread (issue #20). A sign-in another site's page sent is
refused (login CSRF). The ``/me`` sign-in form uses :func:`send_code` too.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict, Field

from socialcredit.api.deps import RegistryDep
from socialcredit.api.due_process.session import (
    COOKIE,
    SubjectWriteDep,
    now,
    set_session_cookie,
    subject_api,
)
from socialcredit.api.ratelimit import limit_client
from socialcredit.api.registry import Registry
from socialcredit.disclosure.delivery import adapter_for, deliver_notices
from socialcredit.disclosure.signin import (
    admit_code_request,
    end_session,
    issue_code,
    verify_code,
)
from socialcredit.errors import PermissionDenied, RateLimited
from socialcredit.web.origin import same_origin

__all__ = ["SENT", "send_code", "serve_one", "sign_in", "start_session", "stop_session"]

log = logging.getLogger("socialcredit.api")


class SignInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    national_id: str = Field(min_length=1, max_length=40)
    phone: str = Field(min_length=1, max_length=40)


class SessionIn(SignInIn):
    code: str = Field(min_length=1, max_length=12)


class SessionOut(BaseModel):
    csrf: str
    expires_at: str


class SentPublic(BaseModel):
    message: str


SENT = ("If this ID number and phone match a person in the registry, a one-time code was "
        "sent to that phone.")


def send_code(request: Request, registry: Registry, national_id: str, phone: str) -> None:
    """Ask for a code. Only the in-memory limits run here; the lookup, the writes and the
    delivery run in a background thread for every pair, real or made up, so that the answer,
    its timing and the writes behind it tell nobody who is registered (issue #20).

    Raises RateLimited (429) when this client or the pair asked too often."""
    limit_client(request)
    at = now()
    try:
        admit_code_request(registry.store, registry.policy, national_id=national_id,
                           phone=phone, now=at)
    except RateLimited:
        _in_background(request, registry, national_id, phone, at, True)
        raise
    _in_background(request, registry, national_id, phone, at, False)


def _in_background(request: Request, registry: Registry, national_id: str, phone: str,
                   at: dt.datetime, limited: bool) -> None:
    running: set[threading.Thread] = request.app.state.background
    t = threading.Thread(target=_issue, args=(registry, national_id, phone, at, limited,
                                              running), daemon=True, name="sign-in-code")
    running.add(t)
    t.start()


def _issue(registry: Registry, national_id: str, phone: str, at: dt.datetime,
           limited: bool, running: set[threading.Thread] | None = None) -> None:
    try:
        _issue_now(registry, national_id, phone, at, limited)
    finally:
        if running is not None:
            running.discard(threading.current_thread())


def _issue_now(registry: Registry, national_id: str, phone: str, at: dt.datetime,
               limited: bool) -> None:
    try:
        notice = issue_code(registry.store, registry.policy, national_id=national_id,
                            phone=phone, now=at, limited=limited)
    except RateLimited:
        return  # the subject's own hourly limit: the same silence as for a made-up pair
    except Exception:  # the person can ask again
        log.warning("a sign-in request could not be handled now")
        return
    if notice is not None:
        serve_one(registry, notice)


def serve_one(registry: Registry, notice: int) -> None:
    """Deliver the one notice ``notice`` (a code) now; a failure is logged and left to the
    clocks, which retry it."""
    try:
        deliver_notices(registry.store, adapter_for(registry.settings), now=now(),
                        only=notice)
    except Exception:  # the clocks retry it; the person can ask again
        log.warning("a sign-in code could not be served now; the clocks will retry")


def _not_cross_site(request: Request) -> None:
    """Raises PermissionDenied for a sign-in another site's page sent (login CSRF)."""
    if not same_origin(request):
        raise PermissionDenied("sign-in requests from another site are refused")


@subject_api.post("/sign-in", status_code=202, response_model=SentPublic)
def sign_in(body: SignInIn, request: Request, registry: RegistryDep) -> dict[str, str]:
    """Ask for a one-time code by SMS (the same answer whether or not the pair exists)."""
    _not_cross_site(request)
    send_code(request, registry, body.national_id, body.phone)
    return {"message": SENT}


@subject_api.post("/session", response_model=SessionOut)
def start_session(body: SessionIn, request: Request, response: Response,
                  registry: RegistryDep) -> dict[str, str]:
    """Exchange the code for a session cookie; the answer carries the CSRF token."""
    _not_cross_site(request)
    limit_client(request)
    session = verify_code(registry.store, registry.policy, national_id=body.national_id,
                          phone=body.phone, code=body.code, now=now())
    set_session_cookie(request, response, registry, session.token,
                       registry.policy.due_process.session_hours)
    return {"csrf": session.csrf, "expires_at": session.expires_at}


@subject_api.delete("/session", status_code=204)
def stop_session(request: Request, registry: RegistryDep, who: SubjectWriteDep) -> Response:
    """Sign out."""
    end_session(registry.store, request.cookies[COOKIE], now=now())
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response
