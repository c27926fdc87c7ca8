"""Due-process routes: the subject's sign-in, file, disputes, repair applications and review
requests (JSON under ``/v1/me`` and web pages under ``/me``), the furnisher's dispute answers
and the operator's appeal, review and repair queues.

A subject is signed in by a session cookie (``sc_session``: HttpOnly, SameSite=Strict, Secure
when ``settings.secure_cookies``); every state-changing call of a signed-in subject also needs
the session's CSRF token — header ``X-CSRF-Token`` on the API, hidden field ``csrf`` in forms.
A missing or wrong token is ``403 forbidden`` and an ``access.refused`` ledger event. The
sign-in forms carry their own token (cookie ``sc_login``) against login CSRF.

Longer than 400 lines: the JSON routes and the pages of one audience share their session,
CSRF and sign-in helpers here; splitting the pages into ``api/me_pages.py`` is the next step.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from socialcredit.access import Principal
from socialcredit.api.deps import FurnisherDep, OperatorDep, RegistryDep, RowId, refreshed
from socialcredit.api.ratelimit import limit_client
from socialcredit.api.schemas import error_responses
from socialcredit.disclosure.disputes import (
    answer_dispute,
    appeal_dispute,
    decide_appeal,
    disputes_of_furnisher,
    open_dispute,
)
from socialcredit.disclosure.notices import adapter_for, deliver_notices
from socialcredit.disclosure.repairs import apply_for_repair, decide_repair, open_repairs
from socialcredit.disclosure.reviews import decide_review, open_reviews, request_review
from socialcredit.disclosure.signin import (
    admit_code_request,
    end_session,
    issue_code,
    refuse,
    session_subject,
    verify_code,
)
from socialcredit.disclosure.subject_file import subject_file
from socialcredit.errors import (
    AuthError,
    InputError,
    PermissionDenied,
    RateLimited,
    SocialCreditError,
)
from socialcredit.registry import Registry
from socialcredit.web.origin import same_origin
from socialcredit.web.plain import explain, said

__all__ = ["COOKIE", "due_process_routers", "subject_api", "subject_web"]

COOKIE = "sc_session"
log = logging.getLogger("socialcredit.api")

subject_api = APIRouter(prefix="/v1/me", tags=["subject"],
                        responses=error_responses(400, 401, 403, 404, 409, 422, 429, 503))
subject_web = APIRouter(prefix="/me", tags=["subject"], include_in_schema=False)
furnisher_disputes = APIRouter(prefix="/v1/furnisher", tags=["furnisher"],
                               responses=error_responses(400, 401, 403, 404, 409, 422, 503))
operator_queue = APIRouter(prefix="/v1/operator", tags=["operator"],
                           responses=error_responses(400, 401, 403, 404, 409, 422, 503))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ----------------------------------------------------------------------------- the subject
async def _subject(request: Request, registry: RegistryDep) -> Principal:
    token = request.cookies.get(COOKIE)
    if not token:
        raise AuthError("sign in first: POST /v1/me/sign-in, then /v1/me/session")
    sid, csrf = await run_in_threadpool(session_subject, registry.store, token, now=_now())
    request.state.csrf = csrf
    return Principal("subject", f"subject:{sid}", sid)


SubjectDep = Annotated[Principal, Depends(_subject)]


def _check_csrf(request: Request, registry: Registry, who: Principal, sent: str | None) -> None:
    expected: str = request.state.csrf
    if not sent or not hmac.compare_digest(sent, expected):
        refuse(registry.store, what=f"{request.method} {request.url.path}",
               reason="missing or wrong CSRF token", subject_id=who.principal_id)
        raise PermissionDenied("missing or wrong CSRF token: send the X-CSRF-Token header (or "
                               "the form's csrf field) of your session")


async def _csrf_header(request: Request, registry: RegistryDep, who: SubjectDep) -> Principal:
    await run_in_threadpool(_check_csrf, request, registry, who,
                            request.headers.get("x-csrf-token"))
    return who


SubjectWriteDep = Annotated[Principal, Depends(_csrf_header)]


class SignInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    national_id: str = Field(min_length=1, max_length=40)
    phone: str = Field(min_length=1, max_length=40)


class SessionIn(SignInIn):
    code: str = Field(min_length=1, max_length=12)


class SessionOut(BaseModel):
    csrf: str
    expires_at: str


class DisputeIn(BaseModel):
    """Exactly one of ``record_id`` or ``entry_id``, and what is wrong."""

    model_config = ConfigDict(extra="forbid")
    record_id: int | None = Field(None, ge=1, le=2**62)
    entry_id: int | None = Field(None, ge=1, le=2**62)
    reason: str = Field(min_length=1, max_length=2000)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


class ReviewIn(ReasonIn):
    decision_id: str = Field(min_length=1, max_length=40)


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: Literal["verify", "correct", "delete"]
    note: str = Field("", max_length=2000)


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["upheld", "overturned"]
    note: str = Field("", max_length=2000)


class DisputePublic(BaseModel):
    id: int
    record_id: int | None
    entry_id: int | None
    status: str
    reason: str
    opened_at: str
    due_on: str
    answered_at: str | None
    answer_note: str | None
    appeal_reason: str | None
    decided_by: str | None


class FurnisherDisputePublic(DisputePublic):
    furnisher_record_id: str | None
    kind: str | None


class DisputesPublic(BaseModel):
    data: list[FurnisherDisputePublic]
    count: int


class ReviewPublic(BaseModel):
    id: int
    decision_id: str
    reason: str
    opened_at: str
    status: str
    decided_at: str | None
    decided_by: str | None
    note: str | None


class QueuedReviewPublic(ReviewPublic):
    service: str
    gate: str
    decided_on: str
    reasons: list[dict[str, Any]]


class ReviewsPublic(BaseModel):
    data: list[QueuedReviewPublic]
    count: int


class SentPublic(BaseModel):
    message: str


_SENT = ("If this ID number and phone match a person in the registry, a one-time code was "
         "sent to that phone.")


def _send_code(request: Request, registry: Registry, national_id: str, phone: str) -> None:
    """Ask for a code. Only the in-memory limits run here; the lookup, the writes and the
    delivery run in a background thread for every pair, real or made up, so that the answer,
    its timing and the writes behind it tell nobody who is registered (issue #20)."""
    limit_client(request)
    now = _now()
    try:
        admit_code_request(registry.store, registry.policy, national_id=national_id,
                           phone=phone, now=now)
    except RateLimited:
        _in_background(request, registry, national_id, phone, now, True)
        raise
    _in_background(request, registry, national_id, phone, now, False)


def _in_background(request: Request, registry: Registry, national_id: str, phone: str,
                   now: dt.datetime, limited: bool) -> None:
    running: set[threading.Thread] = request.app.state.background
    t = threading.Thread(target=_issue, args=(registry, national_id, phone, now, limited,
                                              running), daemon=True, name="sign-in-code")
    running.add(t)
    t.start()


def _issue(registry: Registry, national_id: str, phone: str, now: dt.datetime,
           limited: bool, running: set[threading.Thread] | None = None) -> None:
    try:
        _issue_now(registry, national_id, phone, now, limited)
    finally:
        if running is not None:
            running.discard(threading.current_thread())


def _issue_now(registry: Registry, national_id: str, phone: str, now: dt.datetime,
               limited: bool) -> None:
    try:
        notice = issue_code(registry.store, registry.policy, national_id=national_id,
                            phone=phone, now=now, limited=limited)
    except RateLimited:
        return  # the subject's own hourly limit: the same silence as for a made-up pair
    except Exception:  # the person can ask again
        log.warning("a sign-in request could not be handled now")
        return
    if notice is not None:
        _serve_one(registry, notice)


def _serve_one(registry: Registry, notice: int) -> None:
    try:
        deliver_notices(registry.store, adapter_for(registry.settings), now=_now(),
                        only=notice)
    except Exception:  # the clocks retry it; the person can ask again
        log.warning("a sign-in code could not be served now; the clocks will retry")


def _set_cookie(request: Request, response: Response, registry: Registry, token: str,
                hours: int) -> None:
    """``Secure`` when configured, or whenever the request came over HTTPS (directly, or
    through a proxy in ``settings.trusted_proxies``: api/clients.py)."""
    secure = registry.settings.secure_cookies or request.url.scheme == "https"
    response.set_cookie(COOKIE, token, max_age=hours * 3600, httponly=True, samesite="strict",
                        secure=secure, path="/")


def _not_cross_site(request: Request) -> None:
    """Raises PermissionDenied for a sign-in another site's page sent (login CSRF)."""
    if not same_origin(request):
        raise PermissionDenied("sign-in requests from another site are refused")


@subject_api.post("/sign-in", status_code=202, response_model=SentPublic)
def sign_in(body: SignInIn, request: Request, registry: RegistryDep) -> dict[str, str]:
    """Ask for a one-time code by SMS (the same answer whether or not the pair exists)."""
    _not_cross_site(request)
    _send_code(request, registry, body.national_id, body.phone)
    return {"message": _SENT}


@subject_api.post("/session", response_model=SessionOut)
def start_session(body: SessionIn, request: Request, response: Response,
                  registry: RegistryDep) -> dict[str, str]:
    """Exchange the code for a session cookie; the answer carries the CSRF token."""
    _not_cross_site(request)
    limit_client(request)
    session = verify_code(registry.store, registry.policy, national_id=body.national_id,
                          phone=body.phone, code=body.code, now=_now())
    _set_cookie(request, response, registry, session.token,
                registry.policy.due_process.session_hours)
    return {"csrf": session.csrf, "expires_at": session.expires_at}


@subject_api.delete("/session", status_code=204)
def stop_session(request: Request, registry: RegistryDep, who: SubjectWriteDep) -> Response:
    """Sign out."""
    end_session(registry.store, request.cookies[COOKIE], now=_now())
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response


@subject_api.get("/file")
def my_file(registry: RegistryDep, who: SubjectDep, response: Response) -> dict[str, Any]:
    """The signed-in subject's file (shape: :func:`socialcredit.disclosure.subject_file`)."""
    assert who.principal_id is not None
    response.headers["Cache-Control"] = "no-store"
    return subject_file(registry.store, registry.policy, who.principal_id)


@subject_api.post("/disputes", status_code=201, response_model=DisputePublic)
def my_dispute(body: DisputeIn, registry: RegistryDep, who: SubjectWriteDep) -> dict[str, Any]:
    """Dispute a record or an entry of your file; the answer carries its deadline."""
    assert who.principal_id is not None
    return refreshed(registry, open_dispute(
        registry.store, registry.policy, subject_id=who.principal_id, record_id=body.record_id,
        entry_id=body.entry_id, reason=body.reason, now=_now()))


@subject_api.post("/disputes/{dispute_id}/appeal", response_model=DisputePublic)
def my_appeal(dispute_id: RowId, body: ReasonIn, registry: RegistryDep,
              who: SubjectWriteDep) -> dict[str, Any]:
    """Appeal a furnisher's answer to the registry operator."""
    assert who.principal_id is not None
    return appeal_dispute(registry.store, subject_id=who.principal_id, dispute_id=dispute_id,
                          reason=body.reason, now=_now())


@subject_api.post("/reviews", status_code=201, response_model=ReviewPublic)
def my_review(body: ReviewIn, registry: RegistryDep, who: SubjectWriteDep) -> dict[str, Any]:
    """Ask for a human review of a refusal about you."""
    assert who.principal_id is not None
    return request_review(registry.store, subject_id=who.principal_id,
                          decision_id=body.decision_id, reason=body.reason, now=_now())


class RepairIn(BaseModel):
    """Apply to end ``entry_id`` early: ``condition`` met, and the evidence."""

    model_config = ConfigDict(extra="forbid")
    entry_id: int = Field(ge=1, le=2**62)
    condition: Literal["performance", "settlement", "consent"]
    evidence: str = Field(min_length=1, max_length=2000)


class RepairPublic(BaseModel):
    id: int
    entry_id: int
    condition: str
    evidence: str
    opened_at: str
    status: str
    decided_at: str | None
    decided_by: str | None
    note: str | None


class RepairsPublic(BaseModel):
    data: list[RepairPublic]
    count: int


class RepairOutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["granted", "refused"]
    note: str = Field("", max_length=2000)


@subject_api.post("/repairs", status_code=201, response_model=RepairPublic)
def my_repair(body: RepairIn, registry: RegistryDep, who: SubjectWriteDep) -> dict[str, Any]:
    """Apply for early removal of a listing (performance, settlement, creditor consent)."""
    assert who.principal_id is not None
    return apply_for_repair(registry.store, subject_id=who.principal_id,
                            entry_id=body.entry_id, condition=body.condition,
                            evidence=body.evidence, now=_now())


# ----------------------------------------------------------------------------- furnishers
@furnisher_disputes.get("/disputes", response_model=DisputesPublic)
def furnisher_open_disputes(registry: RegistryDep, who: FurnisherDep) -> dict[str, Any]:
    """Your open disputes, nearest deadline first."""
    data = disputes_of_furnisher(registry.store, who.principal_id)
    return {"data": data, "count": len(data)}


@furnisher_disputes.post("/disputes/{dispute_id}", response_model=DisputePublic)
def furnisher_answer(dispute_id: RowId, body: AnswerIn, registry: RegistryDep,
                     who: FurnisherDep) -> dict[str, Any]:
    """Answer ``verify``, ``correct`` (after sending the corrected record) or ``delete``."""
    assert who.principal_id is not None
    return refreshed(registry, answer_dispute(
        registry.store, registry.policy, furnisher_id=who.principal_id, dispute_id=dispute_id,
        answer=body.answer, note=body.note, now=_now()))


# ----------------------------------------------------------------------------- operators
@operator_queue.get("/appeals", response_model=DisputesPublic)
def appeals(registry: RegistryDep, who: OperatorDep) -> dict[str, Any]:
    """Disputes appealed to the operator."""
    data = disputes_of_furnisher(registry.store, None, status="appealed")
    return {"data": data, "count": len(data)}


@operator_queue.post("/appeals/{dispute_id}", response_model=DisputePublic)
def decide_an_appeal(dispute_id: RowId, body: OutcomeIn, registry: RegistryDep,
                     who: OperatorDep) -> dict[str, Any]:
    """``upheld`` (the record stands) or ``overturned`` (it is suppressed)."""
    return refreshed(registry, decide_appeal(registry.store, registry.policy, operator=who.name,
                         dispute_id=dispute_id, outcome=body.outcome, note=body.note,
                         now=_now()))


@operator_queue.get("/reviews", response_model=ReviewsPublic)
def reviews_queue(registry: RegistryDep, who: OperatorDep) -> dict[str, Any]:
    """Open requests for human review of a refusal, oldest first."""
    data = open_reviews(registry.store)
    return {"data": data, "count": len(data)}


@operator_queue.post("/reviews/{review_id}", response_model=ReviewPublic)
def decide_a_review(review_id: RowId, body: OutcomeIn, registry: RegistryDep,
                    who: OperatorDep) -> dict[str, Any]:
    """``upheld`` or ``overturned`` (the records behind the refusal are suppressed)."""
    return refreshed(registry, decide_review(registry.store, registry.policy, operator=who.name,
                         review_id=review_id, outcome=body.outcome, note=body.note,
                         now=_now()))


@operator_queue.get("/repairs", response_model=RepairsPublic)
def repairs_queue(registry: RegistryDep, who: OperatorDep) -> dict[str, Any]:
    """Open applications for early removal, oldest first."""
    data = open_repairs(registry.store)
    return {"data": data, "count": len(data)}


@operator_queue.post("/repairs/{repair_id}", response_model=RepairPublic)
def decide_a_repair(repair_id: RowId, body: RepairOutcomeIn, registry: RegistryDep,
                    who: OperatorDep) -> dict[str, Any]:
    """``granted`` (the entry ends today) or ``refused``."""
    return refreshed(registry, decide_repair(
        registry.store, registry.policy, operator=who.name, repair_id=repair_id,
        outcome=body.outcome, note=body.note, now=_now()))


# ----------------------------------------------------------------------------- web pages
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
        sid, csrf = session_subject(registry.store, token, now=_now())
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
        _send_code(request, registry, national_id, phone)
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
                              phone=phone, code=code, now=_now())
    except SocialCreditError as e:
        return _sign_in_page(request, registry, step="code", error=e.message,
                             status=e.status_code, national_id=national_id, phone=phone)
    response = RedirectResponse("/me", status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/me")  # its one use is done
    _set_cookie(request, response, registry, session.token,
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
        sid, request.state.csrf = session_subject(registry.store, token, now=_now())
    except AuthError:
        return RedirectResponse("/me/sign-in", status_code=303)
    who = Principal("subject", f"subject:{sid}", sid)
    try:
        _check_csrf(request, registry, who, csrf)
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
                         now=_now(), **{f"{kind}_id": int(number)})
        return said("dispute_opened", id=d["id"], day=d["due_on"])

    return _form_action(request, registry, csrf, act)


@subject_web.post("/appeals")
def appeal_form(request: Request, registry: RegistryDep,
                csrf: Annotated[str, Form(max_length=100)] = "",
                dispute_id: Annotated[int, Form(ge=1, le=2**62)] = 1,
                reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    def act(sid: int) -> str:
        appeal_dispute(registry.store, subject_id=sid, dispute_id=dispute_id, reason=reason,
                       now=_now())
        return said("appealed", id=dispute_id)

    return _form_action(request, registry, csrf, act)


@subject_web.post("/reviews")
def review_form(request: Request, registry: RegistryDep,
                csrf: Annotated[str, Form(max_length=100)] = "",
                decision_id: Annotated[str, Form(max_length=40)] = "",
                reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    def act(sid: int) -> str:
        r = request_review(registry.store, subject_id=sid, decision_id=decision_id,
                           reason=reason, now=_now())
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
                             condition=condition, evidence=evidence, now=_now())
        return said("repair_requested", id=r["id"])

    return _form_action(request, registry, csrf, act)


@subject_web.post("/sign-out")
def sign_out_form(request: Request, registry: RegistryDep,
                  csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    def act(sid: int) -> str:
        end_session(registry.store, request.cookies[COOKIE], now=_now())
        return "signed out"

    response = _form_action(request, registry, csrf, act, then="/me/sign-in")
    if response.status_code == 303:
        response.delete_cookie(COOKIE, path="/")
    return response


def due_process_routers() -> list[APIRouter]:
    return [subject_api, subject_web, furnisher_disputes, operator_queue]
