"""The receipts page, ``GET /me/receipts`` (issue #15): a receipt checked in the browser, offline.

Anyone may open it: they paste a receipt (the JSON ``socialcredit audit verify-proof`` takes:
one receipt, or the whole answer of ``GET /v1/me/receipts``) and the registry's public key
(PEM), and ``/static/receipt-check.js`` checks it with WebCrypto, making no request: the tree
head's Ed25519 signature (RFC 8032) over the same bytes as
:func:`socialcredit.store.tree_head.verify_head`, the head's ``key_id`` against the key, the
event's hash from its fields (:func:`socialcredit.store.ledger.event_hash`) and the RFC 9162
§2.1.3.2 inclusion proof to the head's root (:func:`socialcredit.store.merkle.verify_inclusion`).

A signed-in person also sees their own receipts (the newest 500 events about them, against the
latest signed head, as :func:`~socialcredit.store.tree_head.subject_receipts` gives them), each
with a button that puts it in the form and checks it. The key field starts with the key this
registry publishes (``GET /v1/transparency/key``), which the person may replace with one got
elsewhere. The page is never cached (``Cache-Control: no-store``): it may hold personal data.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from socialcredit.api.deps import RegistryDep
from socialcredit.api.due_process.session import COOKIE, now
from socialcredit.disclosure.signin import session_subject
from socialcredit.errors import AuthError, NotFound

__all__ = ["receipts_web"]

receipts_web = APIRouter(prefix="/me", tags=["subject"], include_in_schema=False)


def _published_key(registry: Any) -> str:
    """The registry's public key (PEM), or ``""`` before the first head made one."""
    from socialcredit.gate.offline import public_key_path

    try:
        return public_key_path(registry.settings.keys_dir).read_text(encoding="ascii")
    except OSError:
        return ""


@receipts_web.get("/receipts")
def receipts_page(request: Request, registry: RegistryDep) -> HTMLResponse:
    """The page: the check form for anyone, and the signed-in person's receipts."""
    from socialcredit.store.tree_head import subject_receipts

    signed_in, mine, pending, no_head = False, [], 0, False
    token = request.cookies.get(COOKIE)
    if token:
        try:
            sid, _csrf = session_subject(registry.store, token, now=now())
            signed_in = True
        except AuthError:
            pass
    if signed_in:
        try:
            with registry.store.read() as conn:
                got = subject_receipts(conn, sid)
            mine = [{"seq": r["event"]["seq"], "type": r["event"]["type"],
                     "at": r["event"]["at"], "json": json.dumps(r, ensure_ascii=False)}
                    for r in got["receipts"]]
            pending = int(got["pending"])
        except NotFound:
            no_head = True
    html = request.app.state.templates.get_template("me_receipts.html").render(
        policy_version=registry.policy.version_hash, signed_in=signed_in, receipts=mine,
        pending=pending, no_head=no_head, public_key=_published_key(registry))
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})
