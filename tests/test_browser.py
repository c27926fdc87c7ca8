"""The public search page in a real browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import TODAY, make_id, write_csv
from servers import running
from socialcredit.api.keys import add_furnisher, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.settings import Settings

pytestmark = pytest.mark.browser



def test_public_search_page(browser: Any, sqlite_url: str, tmp_path: Path) -> None:
    reg = Registry(Settings(database_url=sqlite_url), today=TODAY)
    reg.ensure_schema()
    listed = make_id(region="510104", birth="19770707", seq=77)
    add_furnisher(reg.store, name="court-cd", kind="court")
    rows = [{"furnisher_record_id": "1", "kind": "dishonesty_finding",
             "occurred_at": "2026-03-03", "national_id": listed, "name": "王芳",
             "case_number": "(2026)川0104执5号", "ground": 1, "amount_minor": 1_234_56,
             "currency": "CNY"}]
    ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, "court-cd"),
                path=write_csv(tmp_path / "c.csv", rows), as_of=TODAY)
    with running(reg) as base:
        page = browser.new_page()
        page.goto(base + "/")
        page.get_by_label("Name or ID number").fill("王芳")
        page.get_by_test_id("search-submit").click()
        page.wait_for_selector("[data-testid=result-row]")
        rows_seen = page.get_by_test_id("result-row")
        assert rows_seen.count() == 1
        text = rows_seen.first.inner_text()
        assert "王芳" in text and "1,234.56 CNY" in text
        assert page.get_by_test_id("masked-id").first.inner_text() == (
            listed[:6] + "*" * 12)
        assert listed not in page.content()
        page.get_by_label("Name or ID number").fill("%")
        page.get_by_test_id("search-submit").click()
        page.wait_for_selector("[data-testid=search-error]")
        assert "short" in page.get_by_test_id("search-error").inner_text()
        page.get_by_label("Name or ID number").fill("赵无名")
        page.get_by_test_id("search-submit").click()
        page.wait_for_selector("[data-testid=no-results]")
    reg.close()
