"""The operator console in a real browser (Debian's chromium), every queue end to end.

The world is built through ingest as furnishers would send it: twins 张伟 A and B and a
court finding whose ID has one typo from each (so it waits in the identity review queue with
two pairs), a listed debtor 王芳 with an answered dispute she appealed, a refusal she asked a
person to review and an application for early removal, and a file with one bad row (held in
quarantine). The operator signs in with a wrong key (refused, logged), then the real one;
sees each queue's count; accepts the pair for A with the evidence side by side; overturns the
appeal, upholds the review, refuses the repair; a stale form on a review another operator
decided meanwhile says so; a forged CSRF token is refused and logged; after
``operators revoke`` the next click sends the operator to sign in again (logged). Each
decision is a ledger event in the operator's name, as the JSON routes make.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from axe import assert_accessible
from conftest import TODAY, furnish, make_id
from servers import running
from socialcredit.api.keys import add_furnisher, add_gate, add_operator, authenticate, revoke_key
from socialcredit.api.keys import furnisher_id as furnisher_id_of
from socialcredit.api.registry import Registry
from socialcredit.disclosure.disputes import answer_dispute, appeal_dispute, open_dispute
from socialcredit.disclosure.repairs import apply_for_repair
from socialcredit.disclosure.reviews import request_review
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.settings import Settings
from socialcredit.store.tables import events, list_entries, records, subjects
from test_link_review import AMBIGUOUS_ID, BIRTH, NAME, TWIN_A, TWIN_B, _court_judgment

pytestmark = pytest.mark.browser
DEBTOR = make_id(region="110105", birth="19791212", seq=31)
PHONE = "+8613900139000"


def _finding(n: int, nid: str = DEBTOR) -> dict[str, Any]:
    return {"furnisher_record_id": f"W-{n}", "kind": "dishonesty_finding",
            "occurred_at": "2026-03-01", "national_id": nid, "phone": PHONE, "name": "王芳",
            "case_number": f"(2026)京0105执{n}号", "ground": 1, "amount_minor": 100_00,
            "currency": "CNY"}


def _world(reg: Registry, tmp_path: Path) -> dict[str, Any]:
    furnish(reg, tmp_path, "court", "court", [
        _court_judgment("A1", TWIN_A, "+8613800138001"),
        _court_judgment("B1", TWIN_B, "+8613800138002"), _finding(1), _finding(2),
        _finding(3)])
    furnish(reg, tmp_path, "court", "court", [{
        "furnisher_record_id": "F-1", "kind": "dishonesty_finding", "occurred_at": "2026-04-01",
        "national_id": AMBIGUOUS_ID, "name": NAME, "birth_date": BIRTH,
        "case_number": "(2026)京0105执9号", "ground": 1, "amount_minor": 80_000_00,
        "currency": "CNY"}])
    bad = tmp_path / "bad.csv"
    bad.write_text("furnisher_record_id,kind,occurred_at,national_id\nX-1,no_such_kind,"
                   f"2026-01-01,{DEBTOR}\n", encoding="utf-8")
    ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id_of(reg.store, "court"),
                path=bad, as_of=TODAY)
    court = furnisher_id_of(reg.store, "court")
    with reg.store.read() as conn:
        sid = conn.execute(select(subjects.c.id).where(subjects.c.national_id == DEBTOR)
                           ).scalar_one()
        rec = list(conn.execute(select(records.c.id).where(records.c.subject_id == sid)
                                .order_by(records.c.id)).scalars())
        ent = {e.record_id: e.id for e in conn.execute(select(list_entries).where(
            list_entries.c.subject_id == sid))}
    now = dt.datetime.now(dt.UTC)
    appealed = open_dispute(reg.store, reg.policy, subject_id=sid, record_id=rec[0],
                            reason="paid already", now=now)["id"]
    answer_dispute(reg.store, reg.policy, furnisher_id=court, dispute_id=appealed,
                   answer="verify", now=now)
    appeal_dispute(reg.store, subject_id=sid, dispute_id=appealed, reason="receipt ignored",
                   now=now)
    repair = apply_for_repair(reg.store, subject_id=sid, entry_id=ent[rec[1]],
                              condition="settlement", evidence="settlement of 2026-05-01",
                              now=now)["id"]
    gate = authenticate(reg.store, add_gate(reg.store, reg.policy, name="airline",
                                             services=["air"]))
    reg.gate_index.refresh()
    refusals = [reg.decisions.decide(service="air", national_id=DEBTOR, gate=gate).decision_id
                for _ in range(2)]
    reg.decisions.flush()
    reviews = [request_review(reg.store, subject_id=sid, decision_id=d, reason="not me",
                              now=now)["id"] for d in refusals]
    return {"appealed": appealed, "repair": repair, "reviews": reviews}


def _events(reg: Registry, kind: str) -> list[dict[str, Any]]:
    with reg.store.read() as conn:
        return [json.loads(p) for p in conn.execute(
            select(events.c.payload).where(events.c.type == kind).order_by(events.c.seq)
        ).scalars()]


def _click(page: Any, testid: str) -> None:
    page.get_by_test_id(testid).click()
    page.wait_for_load_state()


def test_every_queue_from_the_console(browser: Any, tmp_path: Path) -> None:
    reg = Registry(Settings(database_url=f"sqlite:///{tmp_path / 'registry.db'}",
                            notices_dir=tmp_path / "notices"), today=TODAY)
    reg.ensure_schema()
    add_furnisher(reg.store, name="court", kind="court")
    ids = _world(reg, tmp_path)
    key = add_operator(reg.store, name="alice")
    other = add_operator(reg.store, name="bob")
    with running(reg) as base:
        page = browser.new_page()
        page.goto(base + "/admin")
        assert page.url == base + "/admin/sign-in"
        assert_accessible(page)
        refused = len(_events(reg, "access.refused"))
        page.get_by_label("Operator key").fill("sc_o_0123456789ab_" + "x" * 43)
        _click(page, "admin-submit")
        assert "not a live operator key" in page.get_by_test_id("admin-error").inner_text()
        assert len(_events(reg, "access.refused")) == refused + 1
        page.get_by_label("Operator key").fill(key)
        _click(page, "admin-submit")
        assert page.url == base + "/admin"
        counts = {q: int(page.get_by_test_id(f"count-{q}").inner_text()) for q in (
            "links", "appeals", "disputes", "reviews", "repairs", "quarantine")}
        assert counts == {"links": 2, "appeals": 1, "disputes": 0, "reviews": 2,
                          "repairs": 1, "quarantine": 1}
        page.screenshot(path=str(tmp_path / "admin.png"), full_page=True)
        assert_accessible(page)

        # identity: the evidence side by side, masked; accept the pair with twin A
        pairs = page.get_by_test_id("pair")
        text = pairs.first.inner_text()
        assert NAME in text and "1985-03-17" in text and TWIN_A not in page.content()
        assert "ID differs at" in text
        with reg.store.read() as conn:
            a = conn.execute(select(subjects.c.id).where(subjects.c.national_id == TWIN_A)
                             ).scalar_one()
        pair_a = page.locator(f"[data-testid=pair]:has-text('Subject {a}')")
        candidate = pair_a.get_attribute("data-candidate-id")
        _click(page, f"links-{candidate}-accept")
        assert "accept" in page.get_by_test_id("admin-done").inner_text()
        assert page.get_by_test_id("count-links").inner_text() == "0"

        # the appeal, overturned: the record behind it is suppressed
        page.get_by_label("Note").first.fill("the receipt is genuine")
        _click(page, f"appeals-{ids['appealed']}-overturned")
        assert page.get_by_test_id("count-appeals").inner_text() == "0"
        _click(page, f"reviews-{ids['reviews'][0]}-upheld")
        _click(page, f"repairs-{ids['repair']}-refused")
        assert page.get_by_test_id("count-repairs").inner_text() == "0"
        assert "Nothing held" not in page.locator("#quarantine + *").inner_text()

        # another operator decides the second review meanwhile: this page's form is stale
        r = httpx.post(base + f"/v1/operator/reviews/{ids['reviews'][1]}",
                       json={"outcome": "overturned"},
                       headers={"Authorization": f"Bearer {other}"}, timeout=20)
        assert r.status_code == 200, r.text
        _click(page, f"reviews-{ids['reviews'][1]}-upheld")
        said = page.get_by_test_id("admin-error").inner_text()
        assert "already decided (overturned) by bob at 20" in said, said

        decided = [(e.get("by") or e.get("operator") or e.get("decided_by"))
                   for t in ("dispute.decided", "review.decided", "repair.decided")
                   for e in _events(reg, t)]
        assert decided.count("alice") == 3 and decided.count("bob") == 1, decided

        # the subject's page: entries, records with their links, and the ledger as a timeline
        page.get_by_test_id("find-subject").fill(DEBTOR)
        page.get_by_test_id("find-subject").press("Enter")
        page.wait_for_url("**/admin/subjects/*")
        assert page.locator("h1").inner_text().startswith("Subject ")
        assert DEBTOR not in page.content()
        timeline = page.get_by_test_id("timeline")
        types = [li.get_attribute("data-type") for li in timeline.locator("li").all()]
        assert types[0] == "file.read"  # this very read, in the operator's name
        assert {"dispute.decided", "review.decided", "repair.decided"} <= set(types)
        assert _events(reg, "file.read")[-1]["reader"] == "operator:alice"
        assert_accessible(page)

        # identity on a subject's page: merge twin B into A, split it again, and unlink the
        # finding confirmed above (each through identity/review.py, each a ledger event)
        with reg.store.read() as conn:
            b = conn.execute(select(subjects.c.id).where(subjects.c.national_id == TWIN_B)
                             ).scalar_one()
        page.goto(base + f"/admin/subjects/{a}")
        page.get_by_test_id("merge-absorbed").fill(str(b))
        page.get_by_test_id("merge-note").fill("same person, two IDs (test)")
        _click(page, "merge-submit")
        assert page.url == base + f"/admin/subjects/{a}"
        assert "merge" in page.get_by_test_id("admin-done").inner_text()
        merge_form = page.locator("[data-testid^=split-]")
        merge_form.get_by_label("Why").fill("two people after all")
        merge_form.get_by_role("button", name="split").click()
        page.wait_for_load_state()
        assert "split" in page.get_by_test_id("admin-done").inner_text()
        finding = page.locator("[data-testid^=unlink-]")
        assert finding.count() == 1  # the one record not linked by its own national ID
        finding.get_by_label("Why").fill("the court confirmed it is B's")
        finding.get_by_role("button", name="unlink").click()
        page.wait_for_load_state()
        assert "unlink" in page.get_by_test_id("admin-done").inner_text()
        kinds = [li.get_attribute("data-type")
                 for li in page.get_by_test_id("timeline").locator("li").all()]
        assert {"subject.merged", "subject.split", "record.unlinked"} <= set(kinds)
        assert_accessible(page)

        # the transparency report
        page.get_by_role("link", name="Transparency report").click()
        page.wait_for_url("**/admin/report")
        assert "List of dishonest judgment debtors" in page.get_by_test_id(
            "report-entries").inner_text()
        page.screenshot(path=str(tmp_path / "admin-report.png"), full_page=True)
        assert_accessible(page)
        # the console in Chinese too, with the same switch
        page.get_by_test_id("lang-zh").click()
        page.wait_for_url("**/admin/report?lang=zh")
        assert page.locator("h1").inner_text() == "透明度报告"
        assert "失信被执行人名单" in page.get_by_test_id("report-entries").inner_text()
        page.goto(base + "/admin")
        assert page.locator("h1").inner_text() == "待办队列"
        assert_accessible(page)

        # a forged CSRF token is refused and logged
        page.goto(base + "/admin")
        refused = len(_events(reg, "access.refused"))
        page.evaluate("document.querySelectorAll('input[name=csrf]').forEach("
                      "i => i.value = 'forged')")
        _click(page, "admin-sign-out")
        assert "CSRF" in page.get_by_test_id("me-error").inner_text()
        assert len(_events(reg, "access.refused")) == refused + 1

        page.goto(base + "/admin")
        # the key is revoked: the session ends at the next click
        revoke_key(reg.store, name="alice", role="operator")
        page.reload()
        assert page.url == base + "/admin/sign-in"
        assert any("revoked" in e["reason"] for e in _events(reg, "access.refused"))
