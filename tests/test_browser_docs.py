"""``/docs`` and ``/redoc`` work without internet, in a real browser (Debian's chromium).

The browser may reach 127.0.0.1 only: every other request is refused and remembered. Swagger
UI must list every operation of ``/openapi.json`` and ReDoc must render them, with no request
leaving the machine; the pages themselves name no outside host and hold no inline script (so
a strict Content-Security-Policy allows them).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from servers import running
from socialcredit.api.registry import Registry
from socialcredit.settings import Settings

pytestmark = pytest.mark.browser


def _offline_page(browser: Any) -> tuple[Any, list[str]]:
    """A page whose requests to any host but 127.0.0.1 fail; returns it and the list the
    refused URLs are added to."""
    refused: list[str] = []
    context = browser.new_context()

    def only_local(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_local)
    return context.new_page(), refused


def test_docs_render_every_operation_offline(browser: Any, tmp_path: Path) -> None:
    reg = Registry(Settings(database_url=f"sqlite:///{tmp_path / 'registry.db'}"))
    with running(reg) as base:
        spec = httpx.get(base + "/openapi.json", timeout=20).json()
        operations = {(method.upper(), path) for path, item in spec["paths"].items()
                      for method in item}
        assert ("POST", "/v1/records") in operations
        icon = httpx.get(base + "/favicon.ico", timeout=20)
        assert icon.status_code == 200 and icon.content.startswith(b"\x89PNG")
        for page_path in ("/docs", "/redoc"):
            html = httpx.get(base + page_path, timeout=20).text
            assert not re.search(r"(src|href)=\"(https?:)?//", html), html
            assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"

        page, refused = _offline_page(browser)
        page.goto(base + "/docs")
        page.locator(".opblock").first.wait_for()
        shown = {(b.locator(".opblock-summary-method").inner_text().strip(),
                  b.locator(".opblock-summary-path").get_attribute("data-path"))
                 for b in page.locator(".opblock").all()}
        assert shown == operations
        assert page.locator(".errors-wrapper").count() == 0

        page.goto(base + "/redoc")
        page.get_by_role("heading", name="Submit Records").first.wait_for()
        assert page.locator("[data-section-id^='operation/']").count() == len(operations)
        assert refused == [], refused
