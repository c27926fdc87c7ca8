"""Sign-in hardening (issue #20, finding 5; NIST SP 800-63B §5.2.2).

* Login CSRF: the sign-in forms need the sign-in page's own token (cookie + field), and a
  request another site sends is refused, so a cross-site page cannot sign a browser into
  someone else's file.
* Wrong codes count per person across codes: a new code does not unlock; the wait grows; the
  person is told; the count is in the database, so it holds across server processes.
(The ``Secure`` cookie behind a trusted HTTPS proxy is in test_headers.py.)
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import TODAY, furnish, last_code, make_id, trust_channel
from security.test_takeover import _outbox, _wait_for
from servers import running
from socialcredit.api.due_process import COOKIE
from socialcredit.api.registry import Registry
from socialcredit.disclosure.signin import request_code, verify_code
from socialcredit.errors import RateLimited
from socialcredit.settings import Settings

PERSON = make_id(region="210102", birth="19860606", seq=27)
PHONE = "+8613455556666"


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Registry]]:
    reg = Registry(Settings(database_url=db_url, notices_dir=tmp_path / "n",
                            clocks_every_seconds=0.2), today=TODAY)
    reg.ensure_schema()
    furnish(reg, tmp_path, "court-sy", "court", [
        {"furnisher_record_id": "J-1", "kind": "court_judgment", "occurred_at": "2026-03-01",
         "national_id": PERSON, "phone": PHONE, "name": "孙丽", "case_number": "(2026)辽01执1号",
         "amount_minor": 10_000, "currency": "CNY"}])
    trust_channel(reg, PERSON, PHONE)  # one furnisher's phone gives no channel (#20)
    with running(reg) as base:
        yield base, reg
    reg.close()


def _form_token(c: httpx.Client) -> str:
    page = c.get("/me/sign-in").text
    m = re.search(r'name="login_csrf" value="([^"]+)"', page)
    assert m, "the sign-in form carries its token"
    return m.group(1)


def test_login_csrf_is_refused(served: tuple[str, Registry]) -> None:
    base, reg = served
    with httpx.Client(base_url=base, timeout=20) as attacker:
        # the attacker gets a real code for their own (here: this) file...
        assert attacker.post("/v1/me/sign-in", json={"national_id": PERSON, "phone": PHONE}
                             ).status_code == 202
        code = last_code(reg.settings.notices_dir)
    form = {"national_id": PERSON, "phone": PHONE, "code": code}
    with httpx.Client(base_url=base, timeout=20) as victim:
        # ...and a cross-site page posts it from the victim's browser: no token, or another
        # site's Origin, is refused and sets no session
        for headers, data in (({}, form),
                              ({"Origin": "https://evil.example"}, form),
                              ({"Sec-Fetch-Site": "cross-site"}, form),
                              # a sandboxed frame of any site has an opaque origin
                              ({"Origin": "null"}, form)):
            r = victim.post("/me/verify", data=data, headers=headers)
            assert r.status_code == 403 and COOKIE not in victim.cookies, r.text
        token = _form_token(victim)
        r = victim.post("/me/verify", data={**form, "login_csrf": token},
                        headers={"Origin": "https://evil.example"})
        assert r.status_code == 403 and COOKIE not in victim.cookies
        r = victim.post("/v1/me/session", json=form, headers={"Origin": "https://evil.example"})
        assert r.status_code == 403 and COOKIE not in victim.cookies
        # Origin: null, even with the page's token and a browser that sends no Sec-Fetch-Site
        # (a sandboxed frame: <iframe sandbox="allow-forms"> on another site)
        for path, kwargs in (("/me/verify", {"data": {**form, "login_csrf": token}}),
                             ("/v1/me/session", {"json": form})):
            r = victim.post(path, headers={"Origin": "null"}, **kwargs)  # type: ignore[arg-type]
            assert r.status_code == 403 and COOKIE not in victim.cookies, (path, r.text)
        # our own pages send their real origin: their referrer policy is same-origin, under
        # which browsers do not replace the Origin of a same-site post by "null"
        assert victim.get("/me/sign-in").headers["referrer-policy"] == "same-origin"
        # the registry's own page, same origin: works
        r = victim.post("/me/verify", data={**form, "login_csrf": token},
                        headers={"Origin": base}, follow_redirects=False)
        assert r.status_code == 303 and COOKIE in victim.cookies, r.text


def test_wrong_codes_count_across_codes_with_a_growing_wait(
        served: tuple[str, Registry]) -> None:
    base, reg = served
    limit = reg.policy.due_process.sign_in_max_attempts
    with httpx.Client(base_url=base, timeout=20) as c:
        assert c.post("/v1/me/sign-in", json={"national_id": PERSON, "phone": PHONE}
                      ).status_code == 202
        code = last_code(reg.settings.notices_dir)
        wrong = "000000" if code != "000000" else "111111"
        answers = [c.post("/v1/me/session", json={"national_id": PERSON, "phone": PHONE,
                                                  "code": wrong}) for _ in range(limit + 1)]
        assert [r.status_code for r in answers] == [401] * (limit - 1) + [429, 429]
        first_wait = answers[-1].json()["error"]["details"]["retry_after_seconds"]
        # a new code does not unlock: even the right one waits
        assert c.post("/v1/me/sign-in", json={"national_id": PERSON, "phone": PHONE}
                      ).status_code == 202
        code = last_code(reg.settings.notices_dir)
        r = c.post("/v1/me/session", json={"national_id": PERSON, "phone": PHONE,
                                           "code": code})
        assert r.status_code == 429 and COOKIE not in c.cookies
        assert 0 < first_wait <= 60
    # the person was told on their own phone
    told = _wait_for(lambda: [n for n in _outbox(reg) if n["kind"] == "sign_in_locked"],
                     "the notice of the lock")
    assert {n["to"] for n in told} == {PHONE}


_OTHER_PROCESS = """
import datetime as dt, sys
from pathlib import Path
from socialcredit.disclosure.signin import verify_code
from socialcredit.errors import AuthError
from socialcredit.api.registry import Registry
from socialcredit.settings import Settings
url, notices, keys, nid, phone, tries = sys.argv[1:7]
reg = Registry(Settings(database_url=url, notices_dir=Path(notices), keys_dir=Path(keys)))
for _ in range(int(tries)):
    try:
        verify_code(reg.store, reg.policy, national_id=nid, phone=phone, code="000000",
                    now=dt.datetime.now(dt.UTC))
    except AuthError:
        pass
reg.close()
"""


def test_wrong_codes_are_counted_across_server_processes(db_url: str, tmp_path: Path) -> None:
    """The count of wrong codes lives in the database (``sign_in_failures``), so several server
    processes on one registry allow no more tries than one (issue #20): another process types
    all but one of the allowed wrong codes; here, the next wrong one locks."""
    import subprocess
    import sys

    reg = Registry(Settings(database_url=db_url, notices_dir=tmp_path / "n",
                            keys_dir=tmp_path / "keys"), today=TODAY)
    reg.ensure_schema()
    furnish(reg, tmp_path, "court-sy", "court", [
        {"furnisher_record_id": "J-1", "kind": "court_judgment", "occurred_at": "2026-03-01",
         "national_id": PERSON, "phone": PHONE, "name": "孙丽", "case_number": "(2026)辽01执1号",
         "amount_minor": 10_000, "currency": "CNY"}])
    trust_channel(reg, PERSON, PHONE)
    limit = reg.policy.due_process.sign_in_max_attempts
    try:
        now = dt.datetime.now(dt.UTC)
        assert request_code(reg.store, reg.policy, national_id=PERSON, phone=PHONE,
                            now=now) is not None
        done = subprocess.run(
            [sys.executable, "-c", _OTHER_PROCESS, db_url, str(tmp_path / "n"),
             str(tmp_path / "keys"), PERSON, PHONE, str(limit - 1)],
            capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        with pytest.raises(RateLimited):
            verify_code(reg.store, reg.policy, national_id=PERSON, phone=PHONE,
                        code="000000", now=dt.datetime.now(dt.UTC))
    finally:
        reg.close()
