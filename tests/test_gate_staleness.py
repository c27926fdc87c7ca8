"""The gate's stale-index limit: every service of the policy, both decision routes, walked on
a frozen clock; and a gate whose database is cut answers up to each limit, then refuses.

The clock starts on a whole second, so ``t0 + limit`` and ``t0 + limit - 0.5`` are exact
floats: a test at the limit itself asks what the code says there, not what rounding says.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from conftest import PG_ENV, TODAY, _pg_schema_url, make_id, write_csv
from servers import TcpProxy, running
from socialcredit.api.keys import add_furnisher, add_gate, authenticate, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.errors import SocialCreditError
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.settings import Settings

LISTED = [make_id(birth=f"19{60 + i:02d}0101", seq=100 + i) for i in range(3)]

#: Each service a gate may ask for without a platform, with its limit in seconds as
#: policies/default.yaml sets it (air, rail_hsr and credit named; the others the default).
LIMITS_S = {"air": 60, "rail_hsr": 60, "rail_first_class": 300, "hotel_star": 300,
            "credit": 600}


def _list_people(reg: Registry, tmp_path: Path) -> None:
    add_furnisher(reg.store, name="court", kind="court")
    rows = [{"furnisher_record_id": f"f{i}", "kind": "dishonesty_finding",
             "occurred_at": "2026-01-05", "national_id": nid, "phone": f"+86139{i:08d}",
             "case_number": f"K{i}", "ground": 1, "amount_minor": 1, "currency": "CNY"}
            for i, nid in enumerate(LISTED)]
    ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, "court"),
                as_of=TODAY, path=write_csv(tmp_path / "court.csv", rows))


class FrozenClock:
    """Stands in for the ``time`` module of ``socialcredit.gate.index``: the index reads the
    wall clock only through ``time.time()``, so a test sets the hour instead of waiting."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def time(self) -> float:
        return self.now


def _ask(c: httpx.Client, h: dict[str, str], service: str) -> tuple[httpx.Response, ...]:
    """The same person asked on both routes: ``/v1/decisions`` and ``/v1/decisions:batch``."""
    person = {"national_id": LISTED[0]}
    return (c.post("/v1/decisions", json={"service": service, **person}, headers=h),
            c.post("/v1/decisions:batch", json={"service": service, "people": [person]},
                   headers=h))


def _decision(r: httpx.Response) -> str:
    body = r.json()
    return str(body["data"][0]["decision"] if "data" in body else body["decision"])


def _answers(asked: tuple[httpx.Response, ...], stale_s: float, want: str) -> None:
    """A gate within its limit: still the last good index's answer, and says how stale."""
    for r in asked:
        assert r.status_code == 200, (r.request.url, stale_s, r.text)
        assert _decision(r) == want, r.request.url  # never a silent allow
        assert int(r.headers["X-Gate-Staleness-Ms"]) == int(stale_s * 1000)


def _refuses_for_the_limit(asked: tuple[httpx.Response, ...], stale_s: int,
                           limit_s: int) -> None:
    for r in asked:
        assert r.status_code == 503, (r.request.url, stale_s, r.text)
        err = r.json()["error"]
        assert err["code"] == "unavailable"
        assert err["details"] == {"staleness_seconds": stale_s, "limit_seconds": limit_s}


def _walk_the_limits(c: httpx.Client, h: dict[str, str], clock: FrozenClock,
                     t0: float, policy: Any) -> None:
    """From the last good refresh at ``t0``, for every service on both routes: it answers
    half a second before its own limit and exactly at it, and refuses a second past it,
    naming that limit."""
    named = set(policy.gate.staleness_limit_seconds) - {"default"}
    assert named <= set(LIMITS_S) <= set(policy.services)  # every named limit is walked
    assert {s: policy.gate.limit_for(s) for s in LIMITS_S} == LIMITS_S
    clock.now = t0
    want = {}
    for service in LIMITS_S:
        asked = _ask(c, h, service)
        want[service] = _decision(asked[0])
        _answers(asked, 0, want[service])
    assert want["air"] == want["rail_hsr"] == want["hotel_star"] == "deny"
    for service, limit in LIMITS_S.items():
        for stale in (limit - 0.5, limit):
            clock.now = t0 + stale
            _answers(_ask(c, h, service), stale, want[service])
        clock.now = t0 + limit + 1
        _refuses_for_the_limit(_ask(c, h, service), limit + 1, limit)
    clock.now = t0 + 301  # one hour for all: each service is judged by its own limit
    for service, limit in LIMITS_S.items():
        if limit < 301:
            _refuses_for_the_limit(_ask(c, h, service), 301, limit)
        else:
            _answers(_ask(c, h, service), 301, want[service])


def test_gate_answers_up_to_each_services_limit_then_refuses(
        registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The staleness limits of the default policy, walked on a frozen clock with a follower
    that does not run (nothing refreshes the index after its build)."""
    import socialcredit.gate.index as index_module

    clock = FrozenClock()
    monkeypatch.setattr(index_module, "time", clock)
    _list_people(registry, tmp_path)
    gate_key = add_gate(registry.store, registry.policy, name="air", services=list(LIMITS_S))
    registry.settings.gate_refresh_ms = 3_600_000
    t0 = registry.gate_index.last_ok
    with running(registry) as base, httpx.Client(base_url=base, timeout=10) as c:
        _walk_the_limits(c, {"Authorization": f"Bearer {gate_key}"}, clock, t0, registry.policy)


def _reachable(reg: Registry) -> bool:
    from sqlalchemy import text

    try:
        with reg.store.read() as conn:
            conn.execute(text("SELECT 1"))
    except SocialCreditError:
        return False
    return True


def _count_follower_rounds(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """One item per round of the gate's follower (each round starts by evicting revoked
    keys): once two more rounds have started, at least one whole round, its failure
    handling included, ran in between."""
    from socialcredit.api.deps import KeyCache

    rounds: list[None] = []
    evict = KeyCache.evict_revoked

    def counted(self: KeyCache, store: Any) -> int:
        rounds.append(None)
        return evict(self, store)

    monkeypatch.setattr(KeyCache, "evict_revoked", counted)
    return rounds


@pytest.mark.postgres
def test_gate_survives_a_lost_database_then_refuses_past_the_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database is cut under a running gate whose follower keeps trying (every 100 ms):
    failed refreshes do not count as fresh, so once the follower has failed after the cut it
    still answers from its last good index up to each service's limit, then 503 for that
    limit. Time is a frozen clock moved by the test, so no limit is waited for."""
    import socialcredit.gate.index as index_module

    base_url = os.environ.get(PG_ENV)
    if not base_url:
        pytest.skip(f"needs {PG_ENV}: the database connection is cut through a TCP proxy")
    clock = FrozenClock()
    monkeypatch.setattr(index_module, "time", clock)
    rounds = _count_follower_rounds(monkeypatch)
    for url in _pg_schema_url(base_url):
        parts = urlsplit(url)
        proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
        netloc = f"{parts.username}@127.0.0.1:{proxy.port}"
        proxied = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        reg = Registry(Settings(database_url=proxied, gate_refresh_ms=100), today=TODAY)
        reg.ensure_schema()
        _list_people(reg, tmp_path)
        gate_key = add_gate(reg.store, reg.policy, name="air", services=list(LIMITS_S))
        assert authenticate(reg.store, gate_key).name == "air"
        index = reg.gate_index
        try:
            with running(reg) as base, httpx.Client(base_url=base, timeout=10) as c:
                h = {"Authorization": f"Bearer {gate_key}"}
                _answers(_ask(c, h, "air"), 0, "deny")  # the key is checked while it is up
                proxy.cut()
                deadline = time.monotonic() + 30
                while _reachable(reg):  # from here on no read reaches the database
                    assert time.monotonic() < deadline, "the proxy did not cut the database"
                    time.sleep(0.05)
                seen = len(rounds)
                while len(rounds) < seen + 2:  # a whole round failed after the cut
                    assert time.monotonic() < deadline, "the follower stopped following"
                    time.sleep(0.05)
                with index._writer:  # a refresh that read before the cut has finished
                    pass
                # every refresh since the build ran at the frozen hour, the last good one
                # too; the failed ones after the cut left it as it was
                assert index.last_ok == clock.now
                _walk_the_limits(c, h, clock, clock.now, reg.policy)
                clock.now = index.last_ok + 301
                metrics = c.get("/metrics").text
                assert "socialcredit_gate_staleness_seconds 301.0" in metrics
        finally:
            proxy.close()
            reg.close()
