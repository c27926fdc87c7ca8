"""Abuse of the public search: rate limit per client, no enumeration, masked identifiers, and
no timing oracle on whether an unlisted ID exists."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import event

from conftest import TODAY, make_id, write_csv
from servers import running
from socialcredit.api.keys import add_furnisher
from socialcredit.api.ratelimit import RateLimiter
from socialcredit.api.registry import Registry
from socialcredit.disclosure import search_public
from socialcredit.errors import RateLimited
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.settings import Settings

LISTED = make_id(region="310104", birth="19700505", seq=11)
UNLISTED = make_id(region="310104", birth="19700505", seq=13)  # a subject, never listed
NEVER_SEEN = make_id(region="310104", birth="19700505", seq=15)


@pytest.fixture
def populated(db_url: str, tmp_path: object) -> Iterator[Registry]:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    # the test's client speaks through a proxy on loopback, configured as trusted (no proxy is
    # trusted by default: tests/security/test_headers.py)
    reg = Registry(Settings(database_url=db_url, public_rate_burst=5,
                            public_rate_per_minute=60, trusted_proxies=["127.0.0.1/32"]),
                   today=TODAY)
    reg.ensure_schema()
    add_furnisher(reg.store, name="court", kind="court")
    rows = [
        {"furnisher_record_id": "A", "kind": "dishonesty_finding", "occurred_at": "2026-01-10",
         "national_id": LISTED, "name": "李娜", "case_number": "(2026)沪0104执5号",
         "ground": 1, "amount_minor": 5_000_00, "currency": "CNY"},
        {"furnisher_record_id": "B", "kind": "court_judgment", "occurred_at": "2026-01-10",
         "national_id": UNLISTED, "name": "李娜", "case_number": "(2026)沪0104民6号",
         "amount_minor": 1_000_00, "currency": "CNY"},
    ]
    from socialcredit.api.keys import furnisher_id

    result = ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, "court"),
                         path=write_csv(tmp_path / "court.csv", rows), as_of=TODAY)
    assert result.rejected == 0, result
    yield reg
    reg.close()


def test_rate_limit_per_client_with_retry_after(populated: Registry) -> None:
    with running(populated) as base, httpx.Client(base_url=base, timeout=10) as c:
        a = {"X-Forwarded-For": "203.0.113.7"}  # from the trusted loopback proxy
        statuses = [c.get("/v1/public/entries", params={"q": "李娜"}, headers=a).status_code
                    for _ in range(5)]
        assert statuses == [200] * 5
        r = c.get("/v1/public/entries", params={"q": "李娜"}, headers=a)
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "rate_limited"
        assert int(r.headers["Retry-After"]) >= 1
        assert r.json()["error"]["details"]["retry_after_seconds"] == int(r.headers["Retry-After"])
        page = c.get("/", params={"q": "李娜"}, headers=a)  # the web page shares the budget
        assert page.status_code == 429 and "retry in" in page.text
        assert "Retry-After" in page.headers
        b = {"X-Forwarded-For": "198.51.100.9"}  # another client is not affected
        assert c.get("/v1/public/entries", params={"q": "李娜"}, headers=b).status_code == 200
        # refused queries spend the budget too: enumeration by bad queries is limited as well
        statuses = [c.get("/v1/public/entries", params={"q": "%"}, headers=b).status_code
                    for _ in range(5)]
        assert statuses == [400] * 4 + [429]


def test_bucket_refills_at_the_rate_and_memory_is_bounded() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=6, burst=2, max_clients=3, clock=lambda: now[0])
    limiter.take("a")
    limiter.take("a")
    with pytest.raises(RateLimited) as e:
        limiter.take("a")
    assert e.value.details["retry_after_seconds"] == 10  # 6 a minute: one token per 10 s
    now[0] = 9.0
    with pytest.raises(RateLimited):
        limiter.take("a")
    now[0] = 19.5  # a refused try does not restart the refill: 0.9 + 1.05 tokens
    limiter.take("a")
    for client in ("b", "c", "d", "e"):
        limiter.take(client)
    assert len(limiter._buckets) == 3 and "a" not in limiter._buckets


def test_results_never_show_an_unmasked_identifier(populated: Registry) -> None:
    with running(populated) as base, httpx.Client(base_url=base, timeout=10) as c:
        for q in ("李娜", LISTED):
            api = c.get("/v1/public/entries", params={"q": q})
            assert api.status_code == 200 and api.json()["count"] == 1, api.text
            page = c.get("/", params={"q": q})
            assert page.status_code == 200
            for body in (api.text, page.text.replace(q, "")):
                assert LISTED not in body and UNLISTED not in body
            assert api.json()["data"][0]["masked_id"] == LISTED[:6] + "*" * 12


def test_an_unlisted_id_costs_the_same_queries_as_an_unknown_one(populated: Registry) -> None:
    """The same SQL statements, in the same order, whether the ID belongs to a subject who is
    not listed, to nobody, or to a listed person: the response time has nothing to reveal
    beyond the size of the answer (measured in bench/load.py)."""
    statements: list[str] = []

    def capture(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    engine = populated.store.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        seen: dict[str, list[str]] = {}
        counts = {}
        for nid in (UNLISTED, NEVER_SEEN, LISTED):
            statements.clear()
            _, counts[nid] = search_public(populated.store, populated.policy, nid)
            seen[nid] = list(statements)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert counts == {UNLISTED: 0, NEVER_SEEN: 0, LISTED: 1}
    assert seen[UNLISTED] == seen[NEVER_SEEN] == seen[LISTED] and len(seen[LISTED]) == 1
