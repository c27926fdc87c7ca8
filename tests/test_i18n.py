"""Pages in Simplified Chinese and English: the catalogue is complete, the language is chosen
from ``?lang=``, the cookie or ``Accept-Language``, and an unknown language is said, not a
500. A real server on 127.0.0.1; the catalogue is checked against a fresh Babel extraction of
the templates and :mod:`socialcredit.web.plain`, so a new message without its Chinese fails.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from servers import running
from socialcredit.api.registry import Registry
from socialcredit.settings import DEFAULT_POLICY_PATH, Settings
from socialcredit.web import i18n
from socialcredit.web.i18n import LOCALE_DIR, local_date, negotiate, policy_texts, using

PACKAGE = Path(i18n.__file__).parents[1]


def _catalogue() -> dict[str, str]:
    with (LOCALE_DIR / "zh" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        cat = read_po(fh)
    return {m.id if isinstance(m.id, str) else m.id[0]: m.string if isinstance(m.string, str)
            else m.string[0] for m in cat if m.id}


def test_every_message_has_its_chinese() -> None:
    """What babel.cfg extracts (templates, web modules, the policy's text for people) is
    the catalogue's messages, each with its Chinese."""
    zh = _catalogue()
    method_map = [("web/**.py", "python"), ("web/templates/**.html", "jinja2"),
                  ("policy/default.yaml", "socialcredit.web.i18n.extract_policy")]
    options = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = {m[2] if isinstance(m[2], str) else m[2][0] for m in extract_from_dir(
        str(PACKAGE), method_map, options_map=options,
        keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None})}
    assert len(found) > 250
    missing = sorted(m for m in found if not zh.get(m))
    assert missing == [], "add these to web/locale/zh/LC_MESSAGES/messages.po"
    assert sorted(set(zh) - found) == [], "messages no page uses any more"


def test_the_policy_words_for_people_are_extracted() -> None:
    policy = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    texts = list(policy_texts(policy))
    assert "List of dishonest judgment debtors" in texts
    assert "Violates a consumption-restriction order" in texts  # a ground
    assert "Civil aviation tickets" in texts  # a service
    zh = _catalogue()
    assert [t for t in texts if not zh.get(t)] == []


@pytest.mark.parametrize(("header", "lang"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("en-US,en;q=0.9,zh;q=0.8", "en"),
    ("fr-FR,zh-Hans;q=0.5", "zh"), ("fr", "en"), ("", "en"), (None, "en"),
    ("en;q=0.2, zh-TW;q=0.9", "zh"), ("zh;q=abc, en", "en"), ("zh;q=0", "en"),
])
def test_accept_language_is_negotiated(header: str | None, lang: str) -> None:
    assert negotiate(header) == lang


def test_dates_are_written_the_local_way() -> None:
    with using("zh"):
        assert local_date("2026-06-30") == "2026年6月30日"
        assert local_date("2026-06-30T08:01:02+00:00") == "2026年6月30日"
    with using("en"):
        assert local_date("2026-06-30") == "2026-06-30"
    assert local_date(None) == ""


def test_pages_speak_the_chosen_language(tmp_path: Path) -> None:
    reg = Registry(Settings(database_url=f"sqlite:///{tmp_path / 'registry.db'}"))
    with running(reg) as base, httpx.Client(base_url=base, timeout=20) as client:
        zh = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        assert zh.status_code == 200
        assert '<html lang="zh-Hans">' in zh.text and "<h1>查询公开名单</h1>" in zh.text
        en = client.get("/me/sign-in", headers={"Accept-Language": "en"})
        assert "<h1>Your file</h1>" in en.text and "sc_lang" not in en.headers.get(
            "set-cookie", "")

        # the switch wins over the header, and is remembered in a cookie
        switched = client.get("/me/sign-in?lang=zh", headers={"Accept-Language": "en"})
        assert "<h1>你的档案</h1>" in switched.text
        assert "sc_lang=zh" in switched.headers["set-cookie"]
        again = client.get("/me/sign-in", headers={"Accept-Language": "en"})
        assert "<h1>你的档案</h1>" in again.text  # the client sent the cookie back

        # an unknown language: the page, in the language chosen otherwise, says which exist
        client.cookies.set("sc_lang", "en")
        unknown = client.get("/?lang=klingon")
        assert unknown.status_code == 200
        assert "Unknown language &#39;klingon&#39;: choose en (English) or zh (中文)" \
            in unknown.text
