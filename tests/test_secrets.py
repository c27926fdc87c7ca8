"""API keys: argon2id at rest, one check per attempt whatever the key id, the 0001 → 0002
migration of SHA-256 hashes, and revocation reaching a running server through the ledger.

Every test builds its own registry (SQLite file, then a PostgreSQL schema); the revocation test
runs the real console script in a subprocess against a real uvicorn server on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import insert, select

from conftest import TODAY
from servers import running
from socialcredit.api import create_app
from socialcredit.api import keys as access
from socialcredit.api.deps import KEY_CACHE_SECONDS, KeyCache
from socialcredit.api.keys import (
    add_furnisher,
    add_gate,
    add_operator,
    authenticate,
    revoke_key,
)
from socialcredit.api.registry import Registry
from socialcredit.errors import AuthError, NotFound
from socialcredit.settings import Settings
from socialcredit.store import Store
from socialcredit.store.db import _alembic_config
from socialcredit.store.tables import api_keys, events


def _stored_hash(reg: Registry, key: str) -> str:
    key_id = key.split("_")[2]
    with reg.store.read() as conn:
        return str(conn.execute(select(api_keys.c.key_hash)
                                .where(api_keys.c.key_id == key_id)).scalar_one())


def _with_secret(key: str, secret: str) -> str:
    return "_".join(key.split("_")[:3] + [secret])


def test_keys_are_stored_as_argon2id_and_checked(registry: Registry) -> None:
    key = add_furnisher(registry.store, name="court-a", kind="court")
    secret = key.split("_", 3)[3]
    stored = _stored_hash(registry, key)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")  # > 64 chars: the wide column
    assert secret not in stored and hashlib.sha256(secret.encode()).hexdigest() not in stored
    assert authenticate(registry.store, key).name == "court-a"
    gate_key = add_gate(registry.store, registry.policy, name="air", services=["air"])
    gate = authenticate(registry.store, gate_key)
    assert (gate.role, gate.services) == ("gate", frozenset({"air"}))
    wrong = _with_secret(key, secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    unknown = "sc_f_0123456789ab_" + secret
    for bad in (wrong, unknown, "sc_f_nothex_" + secret, key + "x"):
        with pytest.raises(AuthError, match="invalid or revoked API key"):
            authenticate(registry.store, bad)


class CountingHasher:
    """Wraps the real hasher and records the hash each ``verify`` is asked about."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.checked = inner, []

    def verify(self, stored: str, secret: str) -> bool:
        self.checked.append(stored)
        return bool(self.inner.verify(stored, secret))


def test_an_unknown_key_id_costs_one_argon2_check_like_a_wrong_secret(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = Registry(Settings(database_url=sqlite_url))
    reg.ensure_schema()
    key = add_operator(reg.store, name="ops")
    spy = CountingHasher(access._HASHER)
    monkeypatch.setattr(access, "_HASHER", spy)
    secret = key.split("_", 3)[3]
    attempts = {"wrong secret": _with_secret(key, "w" * len(secret)),
                "unknown key id": "sc_o_0123456789ab_" + secret,
                "revoked": None}
    for what, bad in attempts.items():
        if bad is None:
            revoke_key(reg.store, name="ops", role="operator")
            bad = key
        spy.checked.clear()
        with pytest.raises(AuthError):
            authenticate(reg.store, bad)
        assert len(spy.checked) == 1, what  # one argon2id check, whatever the reason
        assert spy.checked[0].startswith("$argon2id$"), what
    assert spy.checked[0] == _stored_hash(reg, key)
    spy.checked.clear()
    with pytest.raises(AuthError):
        authenticate(reg.store, "sc_o_short")  # malformed: refused by its shape alone
    assert spy.checked == []
    reg.close()


def test_sha256_hashes_of_revision_0001_are_rehashed_and_keep_working(db_url: str) -> None:
    store = Store(db_url)
    cfg = _alembic_config(store.engine)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    secret = "s" * 43
    key = f"sc_o_00000000abcd_{secret}"
    with store.engine.begin() as conn:
        conn.execute(insert(api_keys).values(
            key_id="00000000abcd", key_hash=hashlib.sha256(secret.encode()).hexdigest(),
            role="operator", principal_id=None, name="old-ops", created_at="2026-01-01"))
    store.ensure_schema()  # 0001 → head
    with store.read() as conn:
        stored = conn.execute(select(api_keys.c.key_hash)).scalar_one()
    assert stored.startswith("sha256$$argon2id$") and len(stored) > 64
    assert hashlib.sha256(secret.encode()).hexdigest() not in stored
    assert authenticate(store, key).name == "old-ops"
    with pytest.raises(AuthError):
        authenticate(store, _with_secret(key, "t" * 43))
    store.dispose()


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOCIALCREDIT_DATABASE_URL": db_url, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "socialcredit", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_revocation_is_a_ledger_event_without_secrets(sqlite_url: str) -> None:
    reg = Registry(Settings(database_url=sqlite_url))
    reg.ensure_schema()
    first = add_furnisher(reg.store, name="court-b", kind="court")
    with pytest.raises(NotFound, match="no furnisher named 'nobody'"):
        revoke_key(reg.store, name="nobody", role="furnisher")
    with pytest.raises(NotFound, match="no gate named 'court-b'"):
        revoke_key(reg.store, name="court-b", role="gate")
    assert revoke_key(reg.store, name="court-b", role="furnisher") == [first.split("_")[2]]
    assert revoke_key(reg.store, name="court-b", role="furnisher") == []  # nothing left
    with reg.store.read() as conn:
        (ev,) = conn.execute(select(events).where(events.c.type == "access.revoked")).all()
    assert json.loads(ev.payload) == {"role": "furnisher", "name": "court-b",
                                      "key_ids": [first.split("_")[2]]}
    assert first.split("_", 3)[3] not in ev.payload
    assert reg.store.verify().ok
    with pytest.raises(AuthError):
        authenticate(reg.store, first)
    reg.close()
    r = _cli(sqlite_url, "furnishers", "revoke", "no-such-court")
    assert r.returncode == 1 and "no furnisher named 'no-such-court'" in r.stderr
    assert "Traceback" not in r.stderr
    r = _cli(sqlite_url, "gates", "revoke", "court-b")
    assert r.returncode == 1 and "no gate named 'court-b'" in r.stderr


def _refused_after_revocation(client: httpx.Client, cache: KeyCache, key: str,
                              call: dict[str, Any], revoke: list[str], db_url: str) -> float:
    """Call until the key is cached, revoke it with the CLI, then call until 401; return the
    seconds from the CLI's exit to the first 401 (bounded by the cache's TTL)."""
    headers = {"Authorization": f"Bearer {key}"}
    deadline = time.monotonic() + 10
    while cache.get(KeyCache.digest(key)) is None:  # cached once the follower has looked
        assert client.request(**call, headers=headers).status_code == 200
        assert time.monotonic() < deadline, "the key never entered the cache"
        time.sleep(0.05)
    r = _cli(db_url, *revoke, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["count"] == 1
    done = time.monotonic()
    while (status := client.request(**call, headers=headers).status_code) == 200:
        # without the ledger event the cached key would keep working for KEY_CACHE_SECONDS
        assert time.monotonic() - done < KEY_CACHE_SECONDS / 3, "revocation did not arrive"
        time.sleep(0.02)
    assert status == 401
    return time.monotonic() - done


def test_revoked_keys_are_refused_by_a_running_server(db_url: str) -> None:
    reg = Registry(Settings(database_url=db_url), today=TODAY)
    reg.ensure_schema()
    court = add_furnisher(reg.store, name="court-c", kind="court")
    airline = add_gate(reg.store, reg.policy, name="airline", services=["air"])
    ops = add_operator(reg.store, name="ops")
    app = create_app(registry=reg)
    decision = {"method": "POST", "url": "/v1/decisions",
                "json": {"service": "air", "national_id": "11010519491231002X"}}
    with running(reg, app=app) as base, httpx.Client(base_url=base, timeout=20) as client:
        cache: KeyCache = app.state.key_cache
        _refused_after_revocation(client, cache, court,
                                  {"method": "GET", "url": "/v1/furnisher/rejects"},
                                  ["furnishers", "revoke", "court-c"], db_url)
        _refused_after_revocation(client, cache, airline, decision,
                                  ["gates", "revoke", "airline"], db_url)
        r = client.post("/v1/decisions", json=decision["json"],
                        headers={"Authorization": f"Bearer {ops}"})
        assert r.status_code == 200  # other keys are untouched
        assert client.post("/v1/decisions", json=decision["json"], headers={
            "Authorization": f"Bearer {airline}"}).json()["error"]["code"] == "unauthenticated"
