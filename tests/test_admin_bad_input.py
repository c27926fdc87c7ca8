"""The console's bad input of issue #16 over real HTTP (a server on 127.0.0.1), each a clear
message and an ``access.refused`` ledger event, never a 500:

* a CSRF token from another operator's live session is refused (403);
* an appeal someone else decided meanwhile: the JSON route answers 409 naming who and when,
  the console's form says the same on the page;
* an unknown language is said on the page, which is served in the language chosen otherwise;
* every form of the console (decide, what-if, sign-out) refuses a wrong CSRF token alike.

(An operator session used after its key is revoked: tests/test_admin_http.py; a what-if on a
policy that does not validate: tests/test_browser_admin_policy.py.)
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import httpx
from sqlalchemy import select

from conftest import TODAY, furnish, make_id
from servers import running
from socialcredit.api.keys import add_operator
from socialcredit.api.keys import furnisher_id as furnisher_id_of
from socialcredit.api.registry import Registry
from socialcredit.disclosure.disputes import answer_dispute, appeal_dispute, open_dispute
from socialcredit.settings import Settings
from socialcredit.store.tables import events, records

DEBTOR = make_id(region="110105", birth="19791212", seq=31)


def _refusals(reg: Registry) -> list[str]:
    with reg.store.read() as conn:
        return [json.loads(p)["reason"] for p in conn.execute(
            select(events.c.payload).where(events.c.type == "access.refused")
            .order_by(events.c.seq)).scalars()]


def _appealed(reg: Registry, tmp_path: Path) -> int:
    furnish(reg, tmp_path, "court", "court", [{
        "furnisher_record_id": "W-1", "kind": "dishonesty_finding", "occurred_at": "2026-03-01",
        "national_id": DEBTOR, "case_number": "(2026)京0105执1号", "ground": 1,
        "amount_minor": 100_00, "currency": "CNY"}])
    with reg.store.read() as conn:
        rec = conn.execute(select(records.c.id, records.c.subject_id)).one()
    now = dt.datetime.now(dt.UTC)
    dispute = open_dispute(reg.store, reg.policy, subject_id=rec.subject_id, record_id=rec.id,
                           reason="paid already", now=now)["id"]
    answer_dispute(reg.store, reg.policy, furnisher_id=furnisher_id_of(reg.store, "court"),
                   dispute_id=dispute, answer="verify", now=now)
    appeal_dispute(reg.store, subject_id=rec.subject_id, dispute_id=dispute,
                   reason="receipt ignored", now=now)
    return int(dispute)


def _signed_in(base: str, key: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=20)
    assert client.post("/admin/sign-in", data={"key": key}).status_code == 303
    page = client.get("/admin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    return client, csrf.group(1)


def test_the_consoles_bad_input(tmp_path: Path) -> None:
    reg = Registry(Settings(database_url=f"sqlite:///{tmp_path / 'registry.db'}",
                            notices_dir=tmp_path / "notices", clocks_every_seconds=3600),
                   today=TODAY)
    reg.ensure_schema()
    dispute = _appealed(reg, tmp_path)
    alice_key, bob_key = add_operator(reg.store, name="alice"), add_operator(reg.store, name="bob")
    with running(reg) as base:
        alice, alice_csrf = _signed_in(base, alice_key)
        bob, bob_csrf = _signed_in(base, bob_key)
        form = {"queue": "appeals", "item": str(dispute), "outcome": "upheld"}

        # bob's CSRF token on alice's session
        r = alice.post("/admin/decide", data={**form, "csrf": bob_csrf})
        assert r.status_code == 403 and "missing or wrong CSRF token" in r.text
        assert _refusals(reg)[-1] == "missing or wrong CSRF token (operator alice)"

        # bob overturns the appeal through the JSON route; alice's stale form, then the route
        r = httpx.post(base + f"/v1/operator/appeals/{dispute}", json={"outcome": "overturned"},
                       headers={"Authorization": f"Bearer {bob_key}"}, timeout=20)
        assert r.status_code == 200, r.text
        r = alice.post("/admin/decide", data={**form, "csrf": alice_csrf})
        assert r.status_code == 303
        said = alice.get("/admin").text
        assert re.search(rf"dispute {dispute} was already decided \(overturned\) by bob at "
                         r"20\d\d-\d\d-\d\dT", said), said
        assert _refusals(reg)[-1].startswith(f"operator alice: dispute {dispute} was already "
                                             "decided (overturned) by bob at 20")
        r = httpx.post(base + f"/v1/operator/appeals/{dispute}", json={"outcome": "upheld"},
                       headers={"Authorization": f"Bearer {alice_key}"}, timeout=20)
        assert r.status_code == 409
        error = r.json()["error"]
        assert error["code"] == "conflict" and error["details"]["decided_by"] == "bob"
        assert error["details"]["decided_at"].startswith("20")

        # an unknown language: said, in the language chosen otherwise
        r = alice.get("/admin", params={"lang": "klingon"})
        assert r.status_code == 200 and "Unknown language &#39;klingon&#39;" in r.text
        assert '<html lang="en">' in r.text
        for client in (alice, bob):
            client.close()
    reg.close()


def test_another_sites_page_cannot_sign_a_browser_into_the_console(tmp_path: Path) -> None:
    """Login CSRF (newcomer review of #20): a post to /admin/sign-in that another site's page
    made is refused (403, no session cookie, an ``access.refused`` event), whatever key it
    carries; the same post from the console's own page signs in."""
    reg = Registry(Settings(database_url=f"sqlite:///{tmp_path / 'registry.db'}",
                            notices_dir=tmp_path / "notices", clocks_every_seconds=3600),
                   today=TODAY)
    reg.ensure_schema()
    key = add_operator(reg.store, name="carol")
    with running(reg) as base, httpx.Client(base_url=base, timeout=20) as c:
        for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                        {"Origin": "null"}):  # "null": a sandboxed frame of any site
            r = c.post("/admin/sign-in", data={"key": key}, headers=headers)
            assert r.status_code == 403, r.text
            assert "sc_admin" not in r.headers.get("set-cookie", "")
            assert "Sign in from this site" in r.text
            assert _refusals(reg)[-1] == "cross-site sign-in"
        r = c.post("/admin/sign-in", data={"key": key}, headers={"Origin": base})
        assert r.status_code == 303 and "sc_admin" in r.headers.get("set-cookie", "")
        assert "secure" not in r.headers["set-cookie"].lower()  # plain HTTP
    reg.close()


def test_every_form_refuses_a_wrong_csrf_token_alike(tmp_path: Path) -> None:
    """The console's forms share one check (web/admin/common.py ``require_session``): a wrong
    CSRF token gets the 403 page and an ``access.refused`` event naming the form, and leaves
    the session live; sign-out with the right token ends it, and without a live session
    drops the cookie all the same."""
    reg = Registry(Settings(database_url=f"sqlite:///{tmp_path / 'registry.db'}",
                            notices_dir=tmp_path / "notices", clocks_every_seconds=3600),
                   today=TODAY)
    reg.ensure_schema()
    key = add_operator(reg.store, name="dora")
    with running(reg) as base:
        dora, csrf = _signed_in(base, key)
        forms = {"/admin/decide": {"queue": "appeals", "item": "1", "outcome": "upheld"},
                 "/admin/policy/what-if": {"candidate": "current"},
                 "/admin/sign-out": {}}
        for path, form in forms.items():
            r = dora.post(path, data={**form, "csrf": "not-the-token"})
            assert r.status_code == 403 and "missing or wrong CSRF token" in r.text, path
            assert _refusals(reg)[-1] == "missing or wrong CSRF token (operator dora)", path
            assert dora.get("/admin").status_code == 200, path  # still signed in
        r = dora.post("/admin/sign-out", data={"csrf": csrf})
        assert r.status_code == 303 and r.headers["location"] == "/admin/sign-in"
        assert "sc_admin" in r.headers.get("set-cookie", "")  # the cookie is dropped
        r = dora.post("/admin/decide", data={**forms["/admin/decide"], "csrf": csrf})
        assert r.status_code == 303 and r.headers["location"] == "/admin/sign-in"
        r = httpx.post(base + "/admin/sign-out", data={"csrf": csrf},
                       cookies={"sc_admin": "stale"}, timeout=20)
        assert r.status_code == 303 and "sc_admin" in r.headers.get("set-cookie", "")
        dora.close()
    reg.close()
