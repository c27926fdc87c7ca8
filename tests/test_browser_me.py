"""The subject's dispute form in a real browser (Debian's chromium driven by Playwright), from
sign-in by one-time code to the furnisher's answer, on a real server over SQLite.

A court has listed a person; in the browser the person opens ``/me``, is sent to sign in, types
a wrong code (a clear error) and then the code from the file adapter's outbox, reads the
listing, the record with why it was linked and the notices, is refused with a forged CSRF
token, opens a dispute with the form; the court answers ``delete`` through the API; the
reloaded page shows the dispute deleted, the record deleted and the entry removed, and a gate
now allows the person. Signing out ends the session. Each page is checked for one ``h1`` and a
label on every form control.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from conftest import TODAY, last_code, make_id, trust_channel, write_csv
from servers import running
from socialcredit.api.keys import add_furnisher, add_gate, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.settings import Settings
from socialcredit.store.tables import events

pytestmark = pytest.mark.browser
DEBTOR = make_id(region="320102", birth="19880412", seq=45)
PHONE = "+8613911112222"

# Form controls a person fills in that have no accessible name: no <label for>, no wrapping
# <label>, no aria-label / aria-labelledby. Hidden inputs and buttons are not counted.
_UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden' && el.type !== 'submit' && el.type !== 'button')
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML)"""



def _accessible(page: Any) -> None:
    """One h1, and every control a person fills in has a label."""
    assert page.locator("h1").count() == 1, page.url
    assert page.evaluate(_UNLABELLED) == [], page.url


def _reload_until_served(page: Any, kinds: set[str]) -> None:
    """Reload the file page until a served notice of each of ``kinds`` is listed (the server's
    clocks thread projects and serves notices every 0.2 s); fail after 100 reloads."""
    for _ in range(100):
        served = {li.get_attribute("data-kind") for li in
                  page.locator("[data-testid=notices] li").all()
                  if li.get_attribute("data-served") == "yes"}
        if kinds <= served:
            return
        page.wait_for_timeout(100)
        page.reload()
    raise AssertionError(f"notices {sorted(kinds - served)} not served; saw {sorted(served)}")


def _csrf_refusals(reg: Registry) -> int:
    with reg.store.read() as conn:
        return sum("CSRF" in json.loads(p)["reason"] for p in conn.execute(
            select(events.c.payload).where(events.c.type == "access.refused")).scalars())


def _gate(base: str, key: str) -> str:
    r = httpx.post(base + "/v1/decisions", json={"service": "air", "national_id": DEBTOR},
                   headers={"Authorization": f"Bearer {key}"}, timeout=20)
    assert r.status_code == 200, r.text
    return str(r.json()["decision"])


def test_dispute_form_from_sign_in_to_outcome(browser: Any, tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'registry.db'}",
                        notices_dir=tmp_path / "notices", clocks_every_seconds=0.2)
    reg = Registry(settings, today=TODAY)
    reg.ensure_schema()
    court_key = add_furnisher(reg.store, name="court-nj", kind="court")
    gate_key = add_gate(reg.store, reg.policy, name="airline", services=["air"])
    rows = [{"furnisher_record_id": "NJ-1", "kind": "dishonesty_finding",
             "occurred_at": "2026-05-01", "national_id": DEBTOR, "phone": PHONE,
             "name": "李明", "case_number": "(2026)苏0102执9号", "ground": 1,
             "amount_minor": 80_000_00, "currency": "CNY"}]
    ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, "court-nj"),
                path=write_csv(tmp_path / "court.csv", rows), as_of=TODAY)
    trust_channel(reg, DEBTOR, PHONE)  # one furnisher's phone gives no channel (#20)
    with running(reg) as base:
        assert _gate(base, gate_key) == "deny"
        page = browser.new_page()

        # not signed in: /me sends the person to the sign-in form
        page.goto(base + "/me")
        assert page.url == base + "/me/sign-in"
        _accessible(page)
        page.get_by_label("ID number", exact=True).fill(DEBTOR)
        page.get_by_label("Mobile phone registered to you").fill(PHONE)
        page.get_by_test_id("send-code").click()
        page.wait_for_selector("[data-testid=code-form]")
        assert "one-time code was sent" in page.get_by_test_id("sign-in-message").inner_text()
        _accessible(page)
        code = last_code(settings.notices_dir)

        # a wrong code first: a clear error, and the code form again
        page.get_by_label("One-time code").fill("000000" if code != "000000" else "111111")
        with page.expect_response(lambda r: r.url.endswith("/me/verify")) as wrong:
            page.get_by_test_id("verify-code").click()
        assert wrong.value.status == 401
        error = page.get_by_test_id("sign-in-error").inner_text()
        assert "code" in error.lower(), error
        page.get_by_label("One-time code").fill(code)
        page.get_by_test_id("verify-code").click()
        page.wait_for_url(base + "/me")

        # the file: the listing, the record and why it was linked, the notices
        entry = page.get_by_test_id("entry-row")
        assert entry.count() == 1 and entry.get_attribute("data-status") == "active"
        assert "Ground 1" in entry.inner_text()
        record = page.get_by_test_id("record-row")
        assert record.count() == 1 and record.get_attribute("data-status") == "active"
        assert "national ID number" in record.inner_text()
        assert "court-nj" in record.inner_text()
        assert DEBTOR not in page.content()  # identifiers are masked, even to the subject
        _reload_until_served(page, {"listing", "refusal"})  # the airline's refusal too
        entry_id = page.get_by_test_id("entry-row").get_attribute("data-entry-id")
        listed = page.locator("[data-testid=notices] li[data-kind=listing]").text_content() or ""
        assert f"Entry {entry_id} " in listed and "Legal basis" in listed, listed
        assert page.get_by_test_id("decision-row").count() == 1
        _accessible(page)  # with the review form of the refusal
        api = page.request.get(base + "/v1/me/file")  # the same session cookie
        assert api.ok and api.json()["entries"][0]["id"] == int(entry_id or 0)
        for personal in (page.reload(), api):  # never kept in a cache after sign-out
            assert personal is not None and personal.headers["cache-control"] == "no-store"

        # a forged CSRF token: the 403 page with a clear message, and an audit event
        before = _csrf_refusals(reg)
        page.evaluate("""() => { document.querySelector(
            '[data-testid=dispute-form] input[name=csrf]').value = 'forged'; }""")
        page.get_by_test_id("dispute-reason").fill("I paid the whole amount")
        with page.expect_response(lambda r: r.url.endswith("/me/disputes")) as forged:
            page.get_by_test_id("dispute-submit").click()
        assert forged.value.status == 403
        assert "CSRF" in page.get_by_test_id("me-error").inner_text()
        _accessible(page)
        assert _csrf_refusals(reg) == before + 1

        # the real dispute, with the form
        page.goto(base + "/me")
        assert page.get_by_test_id("dispute-row").count() == 0  # the forged one did nothing
        page.get_by_label("What is wrong").select_option(f"entry:{entry_id}")
        page.get_by_label("Why", exact=True).fill("I paid the whole amount on 2026-06-01")
        page.get_by_test_id("dispute-submit").click()
        page.wait_for_selector("[data-testid=me-message]")
        message = page.get_by_test_id("me-message").inner_text()
        assert "must be answered by" in message, message
        row = page.get_by_test_id("dispute-row")
        assert row.count() == 1 and row.get_attribute("data-status") == "open"
        assert row.get_by_test_id("dispute-status").inner_text() == "waiting for an answer"
        assert message.rstrip(".").endswith(row.locator("td.nowrap").inner_text())
        dispute_id = row.get_attribute("data-dispute-id")

        # the court answers delete through the API
        r = httpx.post(base + f"/v1/furnisher/disputes/{dispute_id}",
                       json={"answer": "delete", "note": "paid in full"},
                       headers={"Authorization": f"Bearer {court_key}"}, timeout=20)
        assert r.status_code == 200 and r.json()["status"] == "deleted", r.text

        page.reload()
        row = page.get_by_test_id("dispute-row")
        assert row.get_attribute("data-status") == "deleted"
        assert "paid in full" in row.inner_text()
        assert page.get_by_test_id("record-row").get_attribute("data-status") == "deleted"
        assert page.get_by_test_id("entry-row").get_attribute("data-status") == "removed"
        assert _gate(base, gate_key) == "allow"
        _reload_until_served(page, {"dispute_opened", "dispute_answered", "removal"})

        # sign out: the cookie is dropped and the session ended on the server too
        session = page.context.cookies()
        assert [c["name"] for c in session] == ["sc_session"]
        assert session[0]["httpOnly"] and session[0]["sameSite"] == "Strict"
        page.get_by_test_id("sign-out").click()
        page.wait_for_url(base + "/me/sign-in")
        # (the sign-in page sets its own form cookie again: tests/security/test_sign_in_hardening)
        assert [c["name"] for c in page.context.cookies()] in ([], ["sc_login"])
        page.go_back()  # the browser's back button does not show the file from its cache
        assert page.url == base + "/me/sign-in"
        assert page.get_by_test_id("entry-row").count() == 0
        page.context.add_cookies(session)  # the old cookie, replayed
        page.goto(base + "/me")
        assert page.url == base + "/me/sign-in"
    reg.close()
