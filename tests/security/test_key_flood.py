"""Work an unauthenticated client can force (issue #20, finding 4).

* A malformed key is refused before any hashing.
* Failed key checks are limited per client address and per key id: past the limit the answer
  is 429 with no argon2 work.
* Argon2 checks run on their own threads: with every one of them stuck, ``/healthz`` and a
  gate whose key is already verified are still served.

The argon2 check is the real one, counted (or held) by wrapping it in this process, where the
real server runs.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

import socialcredit.api.keys as access
from conftest import TODAY, make_id
from servers import running
from socialcredit.api.keys import add_gate
from socialcredit.api.registry import Registry
from socialcredit.settings import Settings


def _fake_key() -> str:
    return f"sc_g_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real: Callable[[str, str], bool] = access._verify_hash

    def counted(stored: str, secret: str) -> bool:
        calls.append(1)
        return real(stored, secret)

    monkeypatch.setattr(access, "_verify_hash", counted)
    return calls


def _serve(db_url: str, tmp_path: Path, **settings: Any) -> Registry:
    reg = Registry(Settings(database_url=db_url, notices_dir=tmp_path / "n", **settings),
                   today=TODAY)
    reg.ensure_schema()
    return reg


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Registry]]:
    reg = _serve(db_url, tmp_path, auth_failures_per_client=5)
    with running(reg) as base:
        yield base, reg
    reg.close()


def _decide(c: httpx.Client, key: str) -> httpx.Response:
    return c.post("/v1/decisions", json={"service": "air", "national_id": make_id()},
                  headers={"Authorization": f"Bearer {key}"})


def test_malformed_keys_are_refused_before_hashing_and_failures_are_limited(
        served: tuple[str, Registry], hashes: list[int]) -> None:
    base, _ = served
    with httpx.Client(base_url=base, timeout=20) as c:
        for bad in ("nonsense", "sc_g_NOTHEX000000_" + "a" * 43, "sc_x_0123456789ab_" + "a" * 43,
                    "sc_g_0123456789ab_" + "a" * 5000, "sc_g_0123456789ab_short"):
            r = _decide(c, bad)
            assert r.status_code == 401, r.text
        assert hashes == []
        answers = [_decide(c, _fake_key()).status_code for _ in range(8)]
        assert answers == [401] * 5 + [429] * 3
        assert len(hashes) == 5  # the refused ones cost no argon2 check
        assert "retry-after" in _decide(c, _fake_key()).headers


def test_made_up_keys_from_many_addresses_cost_a_bounded_number_of_checks(
        db_url: str, tmp_path: Path, hashes: list[int]) -> None:
    """Per-client limits cannot stop a flood from many addresses, each key id made up: the
    dummy checks of unknown key ids have a process-wide budget, past which they are refused
    without argon2 (bench/load.py --flood-addresses measured decisions 90x slower without)."""
    reg = _serve(db_url, tmp_path, trusted_proxies=["127.0.0.1/32"])
    access._UNKNOWN_CHECKS = access._unknown_key_budget()
    gate_key = add_gate(reg.store, reg.policy, name="air", services=["air"])
    try:
        with running(reg) as base, httpx.Client(base_url=base, timeout=20) as c:
            start = time.monotonic()
            answers = [c.post("/v1/decisions", json={"service": "air", "national_id": make_id()},
                              headers={"Authorization": f"Bearer {_fake_key()}",
                                       "X-Forwarded-For": f"198.51.100.{n}"}).status_code
                       for n in range(1, 61)]
            spent = time.monotonic() - start
            assert set(answers) == {401}
            budget = access.UNKNOWN_KEY_CHECKS_PER_S * (1 + spent)
            assert len(hashes) <= budget < 60, (len(hashes), spent)
            # a real key is still checked, and answered
            assert _decide(c, gate_key).status_code == 200
    finally:
        reg.close()


def test_failures_are_limited_per_key_id_across_clients(
        db_url: str, tmp_path: Path, hashes: list[int]) -> None:
    reg = _serve(db_url, tmp_path, auth_failures_per_key_id=3,
                 trusted_proxies=["127.0.0.1/32"])
    key_id = secrets.token_hex(6)
    try:
        with running(reg) as base, httpx.Client(base_url=base, timeout=20) as c:
            answers = [c.post("/v1/decisions", json={"service": "air", "national_id": make_id()},
                              headers={"Authorization": f"Bearer sc_g_{key_id}_"
                                                        f"{secrets.token_urlsafe(32)}",
                                       "X-Forwarded-For": f"203.0.113.{n}"}).status_code
                       for n in range(1, 7)]
        assert answers == [401] * 3 + [429] * 3 and len(hashes) == 3
    finally:
        reg.close()


def test_stuck_key_checks_do_not_hold_up_anyone_else(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = _serve(db_url, tmp_path, auth_failures_per_client=10**6)
    gate = add_gate(reg.store, reg.policy, name="airline", services=["air"])
    release = threading.Event()
    real = access._verify_hash
    try:
        with running(reg) as base, httpx.Client(base_url=base, timeout=30) as c:
            assert _decide(c, gate).status_code == 200  # verified once, then cached

            def stuck(stored: str, secret: str) -> bool:
                release.wait(60)
                return real(stored, secret)

            monkeypatch.setattr(access, "_verify_hash", stuck)
            with ThreadPoolExecutor(50) as pool:
                flood = [pool.submit(lambda: httpx.post(
                    base + "/v1/decisions", json={"service": "air", "national_id": make_id()},
                    headers={"Authorization": f"Bearer {_fake_key()}"}, timeout=90))
                    for _ in range(50)]
                try:
                    # 50 checks are stuck or queued: the rest of the server does not wait
                    assert c.get("/healthz", timeout=15).status_code == 200
                    assert _decide(c, gate).status_code == 200
                    assert c.get("/v1/public/entries", params={"q": "王芳"},
                                 timeout=15).status_code == 200
                finally:
                    release.set()
                assert {f.result().status_code for f in flood} <= {401, 429}
    finally:
        release.set()
        reg.close()
