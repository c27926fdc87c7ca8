"""Due-process routes: the subject's sign-in, file, disputes, repair applications and review
requests (JSON under ``/v1/me`` and web pages under ``/me``), the furnisher's dispute answers
and the operator's appeal, review and repair queues.

A subject is signed in by a session cookie (``sc_session``: HttpOnly, SameSite=Strict, Secure
when ``settings.secure_cookies``); every state-changing call of a signed-in subject also needs
the session's CSRF token — header ``X-CSRF-Token`` on the API, hidden field ``csrf`` in forms.
A missing or wrong token is ``403 forbidden`` and an ``access.refused`` ledger event. The
sign-in forms carry their own token (cookie ``sc_login``) against login CSRF.

One module per facet, each used by the ones after it:

* :mod:`.session` — the session cookie, the signed-in subject and the CSRF check
  (``SubjectDep``, ``SubjectWriteDep``), and the ``/v1/me`` router;
* :mod:`.signin` — asking for a one-time code (answered alike for every pair, the work done in
  the background) and exchanging it for a session;
* :mod:`.models` — the request and answer shapes of disputes, reviews and repairs;
* :mod:`.subject` — the subject's own file, disputes, appeals, reviews and repairs (JSON);
* :mod:`.queues` — the furnisher's open disputes and the operator's appeal, review and repair
  queues;
* :mod:`.pages` — the same for a browser: the ``/me`` pages and their forms;
* :mod:`.receipts_page` — ``/me/receipts``: receipts checked in the browser, offline.
"""

from __future__ import annotations

from fastapi import APIRouter

from socialcredit.api.due_process import signin as _signin
from socialcredit.api.due_process import subject as _subject
from socialcredit.api.due_process.pages import subject_web
from socialcredit.api.due_process.queues import furnisher_disputes, operator_queue
from socialcredit.api.due_process.receipts_page import receipts_web
from socialcredit.api.due_process.session import COOKIE, subject_api

__all__ = ["COOKIE", "due_process_routers", "subject_api", "subject_web"]

# the routes of /v1/me are added to ``subject_api`` by these two modules, in this order
_ROUTE_MODULES = (_signin, _subject)


def due_process_routers() -> list[APIRouter]:
    return [subject_api, subject_web, receipts_web, furnisher_disputes, operator_queue]
