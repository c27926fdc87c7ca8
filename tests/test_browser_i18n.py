"""A person's file in Chinese, in plain words, in a real browser (Debian's chromium).

A court lists 徐英; she signs in (session made as in tests/conftest.py) with a browser whose
language is Chinese. Her file says in Chinese what the listing is, why the record is in her
file and what ends it, with dates written the Chinese way and none of the registry's internal
names (``judgment_performance``, ``full=True``, ``dishonesty_finding``). The switch turns the
page to English and the choice stays on the next page. A screenshot is kept in the test's
folder (``me-zh.png``) for a person to look at; a CJK font must be installed for it to show
characters rather than boxes (Debian: ``fonts-noto-cjk`` or ``fonts-wqy-microhei``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from axe import assert_accessible
from conftest import TODAY, furnish, make_id, subject_session, trust_channel
from servers import running
from socialcredit.api.due_process import COOKIE
from socialcredit.api.registry import Registry
from socialcredit.settings import Settings

pytestmark = pytest.mark.browser
PERSON = make_id(region="310104", birth="19850214", seq=62)
PHONE = "+8613812345678"
INTERNAL = ("judgment_performance", "full=True", "dishonesty_finding", "case_number",
            "pending_review", "creditor_consent")


def test_the_file_in_chinese_in_plain_words(browser: Any, tmp_path: Path) -> None:
    if shutil.which("fc-list"):
        fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
        assert fonts.strip(), "install a CJK font: apt-get install fonts-wqy-microhei"
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'registry.db'}",
                        notices_dir=tmp_path / "notices")
    reg = Registry(settings, today=TODAY)
    reg.ensure_schema()
    furnish(reg, tmp_path, "court-sh", "court", [{
        "furnisher_record_id": "SH-1", "kind": "dishonesty_finding", "occurred_at": "2026-05-04",
        "national_id": PERSON, "phone": PHONE, "name": "徐英",
        "case_number": "(2026)沪0104执77号", "ground": 1, "amount_minor": 5_000_00,
        "currency": "CNY"}])
    trust_channel(reg, PERSON, PHONE)  # one furnisher's phone gives no channel (#20)
    session = subject_session(reg, PERSON, PHONE)
    with running(reg) as base:
        context = browser.new_context(locale="zh-CN")
        context.add_cookies([{"name": COOKIE, "value": session.token, "url": base}])
        page = context.new_page()
        page.goto(base + "/me")
        assert page.locator("h1").inner_text() == "你的档案"
        assert page.locator("html").get_attribute("lang") == "zh-Hans"
        entry = page.get_by_test_id("entry-row")
        assert "失信被执行人名单" in entry.inner_text()
        assert "生效中" in entry.inner_text()
        ends = page.get_by_test_id("ends-when").inner_text()
        assert "你全部履行了本案判决确定的义务。" in ends
        assert "年" in ends and "月" in ends  # the expiry date, written the Chinese way
        record = page.get_by_test_id("record-row").inner_text()
        assert "法院决定将你列入失信被执行人名单" in record
        assert "该记录带有你的身份证号码。" in record
        assert "2026年5月4日" in record
        text = page.locator("main").inner_text()
        assert [word for word in INTERNAL if word in text] == []
        page.screenshot(path=str(tmp_path / "me-zh.png"), full_page=True)
        assert_accessible(page)

        # a dispute from the Chinese page: what it did is said in Chinese, with the date
        page.get_by_test_id("dispute-reason").fill("我已经全部还清")
        page.get_by_test_id("dispute-submit").click()
        page.wait_for_selector("[data-testid=me-message]")
        said = page.get_by_test_id("me-message").inner_text()
        assert "已提出，必须在" in said and "年" in said, said
        assert page.get_by_test_id("dispute-status").inner_text() == "等待答复"

        page.get_by_test_id("lang-en").click()
        page.wait_for_url("**/me?lang=en")
        assert page.locator("h1").inner_text() == "Your file"
        assert "You pay in full what the court ordered in this case." in \
            page.get_by_test_id("ends-when").inner_text()
        assert [word for word in INTERNAL if word in page.locator("main").inner_text()] == []
        # the served notices' titles are in plain words too (their text, kept as it was sent
        # by SMS, is behind "Text as sent")
        for title in page.locator("[data-testid=notices] li strong").all():
            assert [word for word in INTERNAL if word in title.inner_text()] == []
        page.goto(base + "/")  # the choice is remembered
        assert page.locator("h1").inner_text() == "Search the public list"
        assert_accessible(page)
        page.goto(base + "/?lang=zh&q=徐英")
        assert page.get_by_test_id("result-row").count() == 1
        assert_accessible(page)
