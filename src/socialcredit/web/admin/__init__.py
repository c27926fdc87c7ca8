"""The operator console at ``/admin``: sign-in with an operator key, then the queues.

Routes (declared in api/roles.py): ``GET/POST /admin/sign-in``, ``GET /admin`` (every queue
with counts, oldest first, deadlines; ``?furnisher=`` filters disputes and quarantine),
``POST /admin/decide`` (one form for every queue action) and ``POST /admin/sign-out``;
the subject page and the report (pages.py) and the policy page (policy.py).
Every action calls the same function as the JSON route of the operator API
(``decide_appeal``, ``decide_review``, ``decide_repair``, ``accept_candidate``,
``reject_candidate``), so it is the same ledger event, attributed to the operator. An item
someone else decided meanwhile is refused by that function (409): the page says who decided
it and when, and the refusal is an ``access.refused`` ledger event.
Pages have no inline script or style (a strict CSP allows them).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from socialcredit.api.deps import RegistryDep, refreshed
from socialcredit.api.ratelimit import limit_client
from socialcredit.api.registry import Registry
from socialcredit.disclosure.disputes import decide_appeal
from socialcredit.disclosure.repairs import decide_repair
from socialcredit.disclosure.reviews import decide_review
from socialcredit.disclosure.signin import refuse
from socialcredit.errors import (
    Conflict,
    InputError,
    SocialCreditError,
)
from socialcredit.identity.review import (
    accept_candidate,
    merge_subjects,
    reject_candidate,
    split_merge,
    unlink_record,
)
from socialcredit.policy.jurisdiction import local_today
from socialcredit.web.admin.common import SESSIONS as _SESSIONS
from socialcredit.web.admin.common import csrf_refusal, require_session, signed_in
from socialcredit.web.admin.common import now as _now
from socialcredit.web.admin.common import page as _page
from socialcredit.web.admin.pages import pages_router
from socialcredit.web.admin.policy import policy_router
from socialcredit.web.admin.queues import ACTIONS, OUTCOMES, QUEUES, queues
from socialcredit.web.admin.sessions import COOKIE, SESSION_HOURS
from socialcredit.web.i18n import gettext
from socialcredit.web.i18n import gettext as tr
from socialcredit.web.origin import same_origin

__all__ = ["admin_router"]

admin_router = APIRouter(prefix="/admin", tags=["operator"], include_in_schema=False)


@admin_router.get("/sign-in")
def sign_in_page(request: Request, registry: RegistryDep) -> HTMLResponse:
    return _page(request, registry, "admin_sign_in.html")


@admin_router.post("/sign-in")
def sign_in(request: Request, registry: RegistryDep,
            key: Annotated[str, Form(max_length=200)] = "",
            code: Annotated[str, Form(max_length=20)] = "") -> Response:
    if not same_origin(request):  # login CSRF: another site's page posting an operator key
        refuse(registry.store, what="POST /admin/sign-in", reason="cross-site sign-in")
        return _page(request, registry, "admin_sign_in.html", status=403,
                     error=gettext("Sign in from this site's own page."))
    try:
        limit_client(request)
        token, _ = _SESSIONS.sign_in(registry.store, key, now=_now(), code=code)
    except SocialCreditError as e:
        return _page(request, registry, "admin_sign_in.html", status=e.status_code,
                     error=e.message)
    response = RedirectResponse("/admin", status_code=303)
    response.set_cookie(COOKIE, token, max_age=SESSION_HOURS * 3600, httponly=True,
                        samesite="strict", path="/admin",
                        # as the subject's session: Secure over HTTPS, also through a proxy
                        secure=registry.settings.secure_cookies or request.url.scheme == "https")
    return response


@admin_router.get("")
def console(request: Request, registry: RegistryDep, furnisher: str = "") -> Response:
    session = signed_in(request, registry)
    if session is None:
        return RedirectResponse("/admin/sign-in", status_code=303)
    done, error = _SESSIONS.said(request.cookies.get(COOKIE))
    return _page(request, registry, "admin.html", operator=session.operator,
                 csrf=session.csrf, queues=queues(registry.store, furnisher=furnisher or None),
                 titles=QUEUES, outcomes_text=OUTCOMES, furnisher=furnisher[:120], done=done,
                 error=error)


def _act(registry: Registry, operator: str, queue: str, item: int, outcome: str,
         note: str, subject: int | None = None) -> str:
    store, policy = registry.store, registry.policy
    by, as_of = f"operator:{operator}", registry.today or local_today(policy.jurisdiction, _now())
    if queue == "appeals" and outcome in ("upheld", "overturned"):
        refreshed(registry, decide_appeal(store, policy, operator=operator, dispute_id=item,
                                          outcome=outcome, note=note, now=_now()))
    elif queue == "reviews" and outcome in ("upheld", "overturned"):
        refreshed(registry, decide_review(store, policy, operator=operator, review_id=item,
                                          outcome=outcome, note=note, now=_now()))
    elif queue == "repairs" and outcome in ("granted", "refused"):
        refreshed(registry, decide_repair(store, policy, operator=operator, repair_id=item,
                                          outcome=outcome, note=note, now=_now()))
    elif queue == "links" and outcome in ("accept", "reject"):
        act = accept_candidate if outcome == "accept" else reject_candidate
        refreshed(registry, act(store, policy, item, by=by, note=note or None, as_of=as_of))
    elif queue == "merge" and outcome == "merge" and subject is not None:
        refreshed(registry, merge_subjects(store, policy, survivor=subject, absorbed=item,
                                           by=by, reason=note, as_of=as_of))
    elif queue == "split" and outcome == "split":
        refreshed(registry, split_merge(store, policy, item, by=by, reason=note, as_of=as_of))
    elif queue == "unlink" and outcome == "unlink":
        refreshed(registry, unlink_record(store, policy, item, by=by, reason=note,
                                          as_of=as_of))
    else:
        raise InputError(f"no action {outcome!r} on the {queue!r} queue")
    return f"{tr(ACTIONS[queue])} {item}: {tr(OUTCOMES[outcome])}"


@admin_router.post("/decide")
def decide(request: Request, registry: RegistryDep,
           csrf: Annotated[str, Form(max_length=100)] = "",
           queue: Annotated[str, Form(max_length=20)] = "",
           item: Annotated[int, Form(ge=1, le=2**62)] = 1,
           outcome: Annotated[str, Form(max_length=20)] = "",
           note: Annotated[str, Form(max_length=2000)] = "",
           subject: Annotated[int | None, Form(ge=1, le=2**62)] = None) -> Response:
    """One form for every action; the subject page's forms (merge, split, unlink) return
    to that subject's page, the queues' forms to the queues."""
    session = require_session(request, registry, csrf)
    if isinstance(session, Response):
        return session
    token = request.cookies.get(COOKIE, "")
    try:
        _SESSIONS.say(token, "done", _act(registry, session.operator, queue, item, outcome,
                                          note, subject))
    except Conflict as e:  # decided meanwhile by someone else: said, and logged
        refuse(registry.store, what="POST /admin/decide",
               reason=f"operator {session.operator}: {e.message}")
        _SESSIONS.say(token, "error", e.message)
    except SocialCreditError as e:
        _SESSIONS.say(token, "error", e.message)
    back = f"/admin/subjects/{subject}" if subject is not None else "/admin"
    return RedirectResponse(back, status_code=303)


@admin_router.post("/sign-out")
def sign_out(request: Request, registry: RegistryDep,
             csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Ends the session (a wrong CSRF token is refused; without a live session, the cookie is
    dropped all the same)."""
    token = request.cookies.get(COOKIE)
    session = signed_in(request, registry)
    if session is not None:
        refusal = csrf_refusal(request, registry, session, csrf)
        if refusal is not None:
            return refusal
    _SESSIONS.end(token)
    response = RedirectResponse("/admin/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path="/admin")
    return response


admin_router.include_router(pages_router)
admin_router.include_router(policy_router)
