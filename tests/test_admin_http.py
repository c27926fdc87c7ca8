"""The console's sign-in over real HTTP (a server on 127.0.0.1): the optional authenticator
code (TOTP), and the refusals the issue names, each an ``access.refused`` ledger event."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pyotp
from sqlalchemy import select

from servers import running
from socialcredit.api import totp
from socialcredit.api.keys import add_operator, revoke_key
from socialcredit.api.registry import Registry
from socialcredit.settings import Settings
from socialcredit.store.tables import events


def _refusals(reg: Registry) -> list[str]:
    with reg.store.read() as conn:
        return [json.loads(p)["reason"] for p in conn.execute(
            select(events.c.payload).where(events.c.type == "access.refused")
            .order_by(events.c.seq)).scalars()]


def test_sign_in_with_an_authenticator_code(db_url: str, tmp_path: Path) -> None:
    reg = Registry(Settings(database_url=db_url))
    reg.ensure_schema()
    key = add_operator(reg.store, name="alice")
    secret, uri = totp.enrol(reg.store, name="alice")
    assert uri.startswith("otpauth://totp/") and "alice" in uri
    with running(reg) as base, httpx.Client(base_url=base, timeout=20) as client:
        no_code = client.post("/admin/sign-in", data={"key": key})
        assert no_code.status_code == 401
        assert "authenticator code is missing or wrong" in no_code.text
        wrong = client.post("/admin/sign-in", data={"key": key, "code": "000000"
                            if pyotp.TOTP(secret).now() != "000000" else "111111"})
        assert wrong.status_code == 401
        assert _refusals(reg)[-2:] == ["wrong authenticator code for operator alice"] * 2

        ok = client.post("/admin/sign-in", data={"key": key, "code": pyotp.TOTP(secret).now()})
        assert ok.status_code == 303 and ok.headers["location"] == "/admin"
        page = client.get("/admin")
        assert page.status_code == 200 and 'data-testid="operator">alice<' in page.text
        assert page.headers["cache-control"] == "no-store"

        # the key is revoked: the session is refused (and logged) at once
        revoke_key(reg.store, name="alice", role="operator")
        after = client.get("/admin")
        assert after.status_code == 303 and after.headers["location"] == "/admin/sign-in"
        assert "after its key was revoked" in _refusals(reg)[-1]
    assert totp.remove(reg.store, name="alice") and not totp.required(reg.store, "alice")
    reg.close()
