"""Security headers on every page and answer (issue #20, finding 6), HTTPS seen only through a
trusted proxy (findings 5 and 8): ``Secure`` cookies (session, language, console) and HSTS
then, and a forged
``X-Forwarded-For`` from an untrusted peer changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import TODAY, furnish, last_code, make_id, trust_channel
from servers import running
from socialcredit.api.keys import add_operator
from socialcredit.api.registry import Registry
from socialcredit.settings import Settings

PERSON = make_id(region="510104", birth="19830303", seq=19)
PHONE = "+8613544445555"
PAGES = ["/", "/?q=王芳", "/me", "/me/sign-in", "/docs", "/redoc", "/openapi.json", "/healthz",
         "/static/style.css", "/v1/public/entries?q=王芳", "/no-such-page", "/v1/me/file"]


def _serve(db_url: str, tmp_path: Path, **settings: object) -> Registry:
    reg = Registry(Settings(database_url=db_url, notices_dir=tmp_path / "n", **settings),
                   today=TODAY)
    reg.ensure_schema()
    furnish(reg, tmp_path, "court-cd", "court", [
        {"furnisher_record_id": "J-1", "kind": "court_judgment", "occurred_at": "2026-03-01",
         "national_id": PERSON, "phone": PHONE, "name": "郑洁", "case_number": "(2026)川01执1号",
         "amount_minor": 10_000, "currency": "CNY"}])
    trust_channel(reg, PERSON, PHONE)  # one furnisher's phone gives no channel (#20)
    return reg


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Registry]]:
    reg = _serve(db_url, tmp_path, trusted_proxies=["127.0.0.1/32"])
    with running(reg) as base:
        yield base, reg
    reg.close()


def _cookie(r: httpx.Response, name: str) -> str:
    """The ``Set-Cookie`` header of one cookie of a response."""
    [found] = [h for h in r.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    return found


def test_every_page_sends_the_security_headers(served: tuple[str, Registry]) -> None:
    base, _ = served
    with httpx.Client(base_url=base, timeout=20) as c:
        for page in PAGES:
            r = c.get(page)
            h = r.headers
            csp = h.get("content-security-policy", "")
            assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, page
            assert re.search(r"script-src 'self'( 'sha256-[A-Za-z0-9+/=]+')*;", csp), csp
            script_src = csp.split("script-src", 1)[1].split(";", 1)[0]
            assert "unsafe-inline" not in script_src and "unsafe-eval" not in csp, page
            # inline styles only on the OpenAPI pages, whose viewers set style attributes
            assert ("unsafe-inline" in csp) == page.startswith(("/docs", "/redoc")), page
            assert h.get("x-frame-options") == "DENY", page
            assert h.get("x-content-type-options") == "nosniff", page
            assert h.get("referrer-policy") == "same-origin", page
            assert "strict-transport-security" not in h, page  # plain HTTP: no HSTS
        r = c.post("/v1/me/sign-in", json={"national_id": PERSON, "phone": PHONE})
        assert r.headers.get("x-frame-options") == "DENY"


def test_https_through_a_trusted_proxy(served: tuple[str, Registry]) -> None:
    base, reg = served
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
    with httpx.Client(base_url=base, timeout=20, headers=https) as c:
        r = c.get("/me/sign-in")
        assert r.headers["strict-transport-security"].startswith("max-age=31536000")
        assert c.post("/v1/me/sign-in", json={"national_id": PERSON, "phone": PHONE}
                      ).status_code == 202
        r = c.post("/v1/me/session", json={"national_id": PERSON, "phone": PHONE,
                                           "code": last_code(reg.settings.notices_dir)})
        assert r.status_code == 200, r.text
        assert "secure" in r.headers["set-cookie"].lower().split("; ")
        # the language cookie and the console's session cookie are Secure too
        r = c.get("/me/sign-in", params={"lang": "zh"})
        assert "secure" in _cookie(r, "sc_lang").lower().split("; ")
        key = add_operator(reg.store, name="dora")
        r = c.post("/admin/sign-in", data={"key": key},
                   headers={"Origin": base.replace("http://", "https://")})
        assert r.status_code == 303, r.text
        assert "secure" in _cookie(r, "sc_admin").lower().split("; ")
        # the forwarded client is not the operator's network: no metrics for it
        assert c.get("/metrics").status_code == 403


def test_no_proxy_is_trusted_by_default(db_url: str, tmp_path: Path) -> None:
    reg = _serve(db_url, tmp_path, public_rate_burst=2, public_rate_per_minute=1)
    try:
        with running(reg) as base, httpx.Client(base_url=base, timeout=20) as c:
            r = c.get("/me/sign-in", headers={"X-Forwarded-Proto": "https"})
            assert "strict-transport-security" not in r.headers
            r = c.get("/me/sign-in", params={"lang": "zh"},
                      headers={"X-Forwarded-Proto": "https"})
            assert "secure" not in _cookie(r, "sc_lang").lower().split("; ")
            # a new X-Forwarded-For each time does not buy a new search budget
            answers = [c.get("/v1/public/entries", params={"q": "郑洁"},
                             headers={"X-Forwarded-For": f"192.0.2.{n}"}).status_code
                       for n in range(1, 5)]
            assert answers[:2] == [200, 200] and 429 in answers[2:]
    finally:
        reg.close()
