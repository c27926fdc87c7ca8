"""The console's policy page in a real browser (Debian's chromium): versions, ``policy diff``
and the what-if, run from the page on the DuckDB engine.

The world, sent through ingest as furnishers would: three debtors with a court finding (listed
under both policies) and eight riders with two rail fare evasions each this year — listed under
``strict.yaml`` (two a year) but not under the registry's ``default.yaml`` (three). The
operator sees the ledger's policy version matched to the registry's file, diffs the two files
(the fare-evasion threshold 3 → 2 among the changes), runs the what-if with strict.yaml as NEW
(the page shows its steps, then the entries, the disparate-impact table and two charts) and
the ledger does not move; a pasted policy that does not validate shows the validator's
messages (YAML path and reason) with a 422, never a 500.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from axe import assert_accessible
from conftest import TODAY, furnish, make_id
from servers import running
from socialcredit.api.keys import add_operator
from socialcredit.api.registry import Registry
from socialcredit.settings import DEFAULT_POLICY_PATH, Settings
from socialcredit.store.tables import events

pytestmark = pytest.mark.browser


def _world(reg: Registry, tmp_path: Path) -> None:
    court = [{"furnisher_record_id": f"C-{i}", "kind": "dishonesty_finding",
              "occurred_at": "2026-03-01", "national_id": make_id(
                  region="110105", birth=f"19{70 + i}0412", seq=31 + 2 * i),
              "case_number": f"(2026)京0105执{i}号", "ground": 1,
              "amount_minor": 100_000, "currency": "CNY"} for i in range(3)]
    furnish(reg, tmp_path, "court", "court", court)
    rail = [{"furnisher_record_id": f"R-{i}-{n}", "kind": "fare_evasion",
             "occurred_at": day, "national_id": make_id(
                 region="440305" if i % 2 else "310101", birth=f"19{85 + i}0101", seq=40 + i),
             "service": "rail", "amount_minor": 1_500, "currency": "CNY"}
            for i in range(8) for n, day in enumerate(("2026-02-01", "2026-05-20"))]
    furnish(reg, tmp_path, "rail", "transport", rail)


def _head(reg: Registry) -> int:
    with reg.store.read() as conn:
        return int(conn.execute(select(func.max(events.c.seq))).scalar() or 0)


def _click(page: Any, testid: str) -> None:
    page.get_by_test_id(testid).click()
    page.wait_for_load_state()


def test_policy_diff_and_what_if_from_the_console(browser: Any, tmp_path: Path) -> None:
    # the due-process clocks would write notices meanwhile: this test counts ledger events
    reg = Registry(Settings(database_url=f"sqlite:///{tmp_path / 'registry.db'}",
                            notices_dir=tmp_path / "notices", clocks_every_seconds=3600),
                   today=TODAY)
    reg.ensure_schema()
    _world(reg, tmp_path)
    key = add_operator(reg.store, name="alice")
    with running(reg) as base:
        page = browser.new_page()
        page.goto(base + "/admin/sign-in")
        page.get_by_label("Operator key").fill(key)
        _click(page, "admin-submit")
        page.get_by_role("link", name="Policy").click()
        page.wait_for_url("**/admin/policy")
        assert reg.policy.version in page.get_by_test_id("policy-current").inner_text()
        versions = page.get_by_test_id("policy-versions").inner_text()
        assert reg.policy.version_hash in versions and "current" in versions
        assert "package/strict.yaml" in page.get_by_test_id("policy-files").inner_text()
        assert_accessible(page)

        # policy diff: default.yaml (current) → strict.yaml
        page.get_by_label("To (B)").select_option("package/strict.yaml")
        _click(page, "diff-submit")
        changes = page.get_by_test_id("diff-changes").inner_text()
        assert "lists.repeat_fare_evaders.criteria.at_least" in changes
        assert "2026.11-strict-1" in page.get_by_test_id("diff-sides").inner_text()
        assert_accessible(page)

        # the what-if: strict.yaml as NEW, on DuckDB; the ledger does not move
        head = _head(reg)
        page.goto(base + "/admin/policy")
        page.get_by_test_id("what-if-candidate").select_option("package/strict.yaml")
        _click(page, "what-if-submit")
        assert "/admin/policy/what-if/" in page.url
        assert "on duckdb" in page.get_by_test_id("what-if-progress").inner_text() or \
            page.get_by_test_id("what-if-done").count() == 1
        page.get_by_test_id("what-if-done").wait_for(timeout=120_000)
        steps = page.get_by_test_id("what-if-progress").inner_text()
        assert "evaluating policy 1 of 2 (strict 2026.11-strict-1) on duckdb" in steps
        assert "comparing" in steps
        lists = page.get_by_test_id("what-if-lists")
        fare = lists.locator("tr", has_text="fare")
        assert fare.locator("td").nth(0).inner_text() == "0"  # active under CURRENT
        assert fare.locator("td").nth(1).inner_text() == "8"  # active under NEW
        impact = page.get_by_test_id("what-if-impact").inner_text()
        assert "overall" in impact and "Guangdong" in impact and "Shanghai" in impact
        for chart in ("chart-entries", "chart-impact"):
            assert page.get_by_test_id(chart).evaluate("img => img.naturalWidth") > 100
        page.screenshot(path=str(tmp_path / "admin-what-if.png"), full_page=True)
        assert_accessible(page)
        assert _head(reg) == head, "the what-if wrote to the ledger"

        # a candidate that does not validate: the validator's messages on the page
        broken = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
        broken["lists"]["repeat_fare_evaders"]["criteria"]["at_least"] = "two"
        del broken["catalogue"]["fare_evasion"]["legal_basis"]
        page.goto(base + "/admin/policy")
        page.get_by_test_id("what-if-pasted").fill(yaml.safe_dump(broken, allow_unicode=True))
        with page.expect_response("**/admin/policy/what-if") as answer:
            page.get_by_test_id("what-if-submit").click()
        assert answer.value.status == 422
        said = page.get_by_test_id("what-if-invalid").inner_text()
        assert "does not validate" in said
        assert "lists.repeat_fare_evaders.criteria.at_least" in said
        assert "catalogue.fare_evasion.legal_basis" in said
        assert "/tmp/" not in said
        assert_accessible(page)
        page.get_by_test_id("lang-zh").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "政策"
        assert _head(reg) == head

        # not YAML at all, a file key that is not at hand, a second run while one goes:
        # named errors, never a 500
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        csrf = page.locator("input[name=csrf]").first.get_attribute("value")
        with httpx.Client(base_url=base, timeout=20, cookies=cookies) as client:
            r = client.post("/admin/policy/what-if", data={"csrf": csrf,
                                                           "pasted": "lists: [unclosed"})
            assert r.status_code == 422 and "the pasted policy is not valid YAML" in r.text
            r = client.post("/admin/policy/what-if",
                            data={"csrf": csrf, "candidate": "../../etc/passwd"})
            assert r.status_code == 404 and "no policy file" in r.text
            r = client.get("/admin/policy/diff", params={"a": "current", "b": "nope"})
            assert r.status_code == 404 and "no policy file" in r.text
            r = client.get("/admin/policy/what-if/nope")
            assert r.status_code == 404 and "no what-if run" in r.text
            first = client.post("/admin/policy/what-if",
                                data={"csrf": csrf, "candidate": "package/strict.yaml"})
            assert first.status_code == 303
            second = client.post("/admin/policy/what-if",
                                 data={"csrf": csrf, "candidate": "package/strict.yaml"})
            assert second.status_code == 409
            assert "a what-if is already running, started by alice at 20" in second.text
            r = client.post("/admin/policy/what-if",
                            data={"csrf": "another", "candidate": "current"})
            assert r.status_code == 403 and "CSRF" in r.text
    reg.close()
