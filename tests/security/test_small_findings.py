"""Smaller findings of issue #20 (finding 8): the public page counts searches, not visits;
decision fields are bounded, so an error never echoes megabytes back. (No proxy trusted by
default: tests/security/test_headers.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import TODAY
from servers import running
from socialcredit.api.keys import add_gate
from socialcredit.api.registry import Registry
from socialcredit.settings import Settings


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Registry]]:
    reg = Registry(Settings(database_url=db_url, notices_dir=tmp_path / "n",
                            public_rate_burst=3, public_rate_per_minute=1), today=TODAY)
    reg.ensure_schema()
    with running(reg) as base:
        yield base, reg
    reg.close()


def test_visits_of_the_search_page_do_not_use_up_searches(served: tuple[str, Registry]) -> None:
    base, _ = served
    with httpx.Client(base_url=base, timeout=20) as c:
        assert all(c.get("/").status_code == 200 for _ in range(10))
        assert c.get("/", params={"q": "王芳"}).status_code == 200  # the budget is intact


def test_decision_fields_are_bounded(served: tuple[str, Registry]) -> None:
    base, reg = served
    gate = add_gate(reg.store, reg.policy, name="airline", services=["air"])
    huge = "1" * 1_000_000
    with httpx.Client(base_url=base, timeout=30,
                      headers={"Authorization": f"Bearer {gate}"}) as c:
        for body in ({"service": "air", "national_id": huge}, {"service": huge, "phone": "1"},
                     {"service": "air", "national_id": "1", "name": huge}):
            r = c.post("/v1/decisions", json=body)
            assert r.status_code == 422 and len(r.content) < 2000, r.text[:200]
        r = c.post("/v1/decisions:batch", json={"service": huge, "people": [{"phone": "1"}]})
        assert r.status_code == 422 and len(r.content) < 2000
