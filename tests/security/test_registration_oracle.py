"""Nothing tells an outsider whether a person is registered (issue #20, finding 2).

* A sign-in request writes one ledger event whether the ID and phone belong to someone or
  not, and its answer is the same, byte for byte.
* The request does no database work while the caller waits: with the registry's write lock
  held by someone else, both a real and a made-up pair are answered at once (the lookup and the
  writes happen afterwards, in the background) — so the two cannot differ in time.
* The per-pair limit answers the same for both, keyed on the normalised ID.
* ``/healthz`` shows no ledger counter and ``/metrics`` is refused outside the operator's
  network (here: a server whose operator network does not include the test's 127.0.0.1).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from conftest import TODAY, furnish, last_code, make_id, trust_channel
from servers import running
from socialcredit.api.registry import Registry
from socialcredit.settings import Settings
from socialcredit.store.tables import events

REAL = make_id(region="330106", birth="19900505", seq=15)
REAL_PHONE = "+8613722223333"
MADE_UP = make_id(region="330106", birth="19900505", seq=17)


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Registry]]:
    reg = Registry(Settings(database_url=db_url, notices_dir=tmp_path / "notices",
                            operator_networks=["10.255.0.0/16"]), today=TODAY)
    reg.ensure_schema()
    furnish(reg, tmp_path, "court-hz", "court", [
        {"furnisher_record_id": "J-1", "kind": "court_judgment", "occurred_at": "2026-03-01",
         "national_id": REAL, "phone": REAL_PHONE, "name": "周敏", "case_number": "(2026)浙01执1号",
         "amount_minor": 10_000, "currency": "CNY"}])
    trust_channel(reg, REAL, REAL_PHONE)  # one furnisher's phone gives no channel (#20)
    with running(reg) as base:
        yield base, reg
    reg.close()


def _seq(reg: Registry) -> int:
    with reg.store.read() as conn:
        return int(conn.execute(select(func.max(events.c.seq))).scalar() or 0)


def _wait_seq(reg: Registry, at_least: int) -> int:
    import time

    deadline = time.monotonic() + 20
    while _seq(reg) < at_least:
        assert time.monotonic() < deadline, "the background sign-in work did not finish"
        time.sleep(0.02)
    return _seq(reg)


def test_sign_in_requests_look_alike_for_real_and_made_up_people(
        served: tuple[str, Registry]) -> None:
    base, reg = served
    with httpx.Client(base_url=base, timeout=20) as c:
        # the registry's write lock is held: a request that wrote (or waited to write) before
        # answering could not answer; both answer, identically
        hold, answered = threading.Event(), threading.Event()

        def holder() -> None:
            with reg.store.batch():
                hold.set()
                answered.wait(30)

        t = threading.Thread(target=holder)
        t.start()
        hold.wait(10)
        try:
            before = _seq(reg)
            real = c.post("/v1/me/sign-in", json={"national_id": REAL, "phone": REAL_PHONE})
            fake = c.post("/v1/me/sign-in", json={"national_id": MADE_UP,
                                                  "phone": REAL_PHONE})
        finally:
            answered.set()
            t.join()
        assert real.status_code == fake.status_code == 202
        assert real.content == fake.content
        # afterwards, one ledger event each (a code issued / a refusal), and the code arrives
        assert _wait_seq(reg, before + 2) == before + 2
        assert last_code(reg.settings.notices_dir)

        # one request each more, one event each
        for nid in (REAL, MADE_UP):
            before = _seq(reg)
            c.post("/v1/me/sign-in", json={"national_id": nid, "phone": REAL_PHONE})
            assert _wait_seq(reg, before + 1) == before + 1

        # the per-pair limit: the same answer for both (digits aside), a full-width ID alike
        wide = str.maketrans("0123456789", "０１２３４５６７８９")
        answers = {}
        before = _seq(reg)
        for nid in (REAL, MADE_UP):
            for _ in range(4):  # two asked above; the fifth is the last allowed
                r = c.post("/v1/me/sign-in", json={"national_id": nid.translate(wide),
                                                   "phone": REAL_PHONE})
            answers[nid] = (r.status_code, re.sub(r"\d+", "N", r.text))
        assert answers[REAL] == answers[MADE_UP] and answers[REAL][0] == 429
        # every request, answered or limited, real or made up, wrote one event
        assert _wait_seq(reg, before + 8) == before + 8


def test_no_public_counter_reveals_writes(served: tuple[str, Registry]) -> None:
    base, reg = served
    with httpx.Client(base_url=base, timeout=20) as c:
        health = c.get("/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        metrics = c.get("/metrics")
        assert metrics.status_code == 403
        assert "operator's network only" in metrics.json()["error"]["message"]
        # a forged X-Forwarded-For changes nothing: no proxy is trusted by default
        forged = c.get("/metrics", headers={"X-Forwarded-For": "10.255.0.1"})
        assert forged.status_code == 403


def test_the_operator_network_sees_them(db_url: str, tmp_path: Path) -> None:
    reg = Registry(Settings(database_url=db_url, notices_dir=tmp_path / "n"), today=TODAY)
    reg.ensure_schema()
    try:
        with running(reg) as base, httpx.Client(base_url=base, timeout=20) as c:
            assert "ledger_seq" in c.get("/healthz").json()  # loopback: the default network
            assert c.get("/metrics").status_code == 200
    finally:
        reg.close()
