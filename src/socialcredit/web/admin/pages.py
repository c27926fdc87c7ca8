"""Console pages that only read: a subject's file with the ledger events about them as a
timeline (``GET /admin/subjects/{subject_id}``, or ``?find=`` a subject id or national ID)
and the transparency report (``GET /admin/report``). Opening a subject's page is itself a
``file.read`` ledger event by ``operator:NAME`` (principle 7: reads are logged)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import or_, select

from socialcredit.api.deps import RegistryDep
from socialcredit.disclosure.public import mask_identifier
from socialcredit.disclosure.subject_file import subject_file
from socialcredit.errors import NotFound
from socialcredit.reports import summarise
from socialcredit.store.tables import events, merges, subjects
from socialcredit.web.admin.common import SESSIONS, page, signed_in
from socialcredit.web.admin.sessions import COOKIE
from socialcredit.web.report import headline

__all__ = ["TIMELINE_LIMIT", "pages_router"]

pages_router = APIRouter(prefix="", include_in_schema=False)
#: Newest ledger events shown on a subject's timeline.
TIMELINE_LIMIT = 500


#: Payload keys whose values are identifiers: shown masked on the timeline.
IDENTIFIER_KEYS = frozenset({"national_id", "claimed_id", "phone", "document", "uscc",
                             "identifier", "old_phone", "new_phone"})


def _masked(value: Any, key: str = "") -> Any:
    """``value`` with every identifier under :data:`IDENTIFIER_KEYS` masked, at any depth."""
    if isinstance(value, dict):
        return {k: _masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, key) for v in value]
    if key in IDENTIFIER_KEYS and isinstance(value, str) and value:
        return mask_identifier(value)
    return value


def _timeline(registry: Any, subject_id: int) -> list[dict[str, Any]]:
    with registry.store.read() as conn:
        rows = conn.execute(select(events.c.seq, events.c.at, events.c.type, events.c.payload)
                            .where(events.c.subject_id == subject_id)
                            .order_by(events.c.seq.desc()).limit(TIMELINE_LIMIT)).all()
    return [{"seq": r.seq, "at": r.at, "type": r.type,
             "payload": _masked(json.loads(r.payload))}
            for r in rows]


@pages_router.get("/subjects")
def find_subject(request: Request, registry: RegistryDep, find: str = "") -> Response:
    """``?find=`` a subject id or a national ID (exact) → that subject's page."""
    if signed_in(request, registry) is None:
        return RedirectResponse("/admin/sign-in", status_code=303)
    text = find.strip()[:40]
    with registry.store.read() as conn:
        sid = conn.execute(select(subjects.c.id).where(or_(
            subjects.c.national_id == text.upper(),
            subjects.c.id == (int(text) if text.isdigit() and len(text) < 18 else -1)))
        ).scalar()
    if sid is None:
        return page(request, registry, "me_error.html", status=404,
                    error=f"no subject with id or national ID {text!r}")
    return RedirectResponse(f"/admin/subjects/{sid}", status_code=303)


@pages_router.get("/subjects/{subject_id}")
def subject_page(request: Request, registry: RegistryDep, subject_id: int) -> Response:
    session = signed_in(request, registry)
    if session is None:
        return RedirectResponse("/admin/sign-in", status_code=303)
    try:
        file = subject_file(registry.store, registry.policy, subject_id,
                            reader=f"operator:{session.operator}")
    except NotFound as e:
        return page(request, registry, "me_error.html", status=404, error=e.message)
    with registry.store.read() as conn:
        merged = conn.execute(select(merges).where(
            or_(merges.c.survivor_id == subject_id, merges.c.absorbed_id == subject_id),
            merges.c.status == "merged").order_by(merges.c.id)).all()
    done, error = SESSIONS.said(request.cookies.get(COOKIE))
    return page(request, registry, "admin_subject.html", operator=session.operator,
                csrf=session.csrf, file=file, merges=merged, done=done, error=error,
                timeline=_timeline(registry, subject_id), limit=TIMELINE_LIMIT)


@pages_router.get("/report")
def report_page(request: Request, registry: RegistryDep) -> Response:
    session = signed_in(request, registry)
    if session is None:
        return RedirectResponse("/admin/sign-in", status_code=303)
    if "decisions" in registry.__dict__:
        registry.decisions.flush()
    summary = summarise(registry.store, registry.policy, as_of=registry.today)
    titles = {name: spec.title for name, spec in registry.policy.lists.items()}
    return page(request, registry, "admin_report.html", operator=session.operator,
                summary=summary, headline=headline(summary, list_titles=titles),
                titles=titles, services=registry.policy.services)
