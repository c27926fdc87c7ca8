"""A person's first trusted channel never comes from one furnisher alone (issue #20, finding 1:
pre-registration planting).

Trust on first use let the first furnisher to report a person not yet registered choose
where their sign-in codes and notices go: a dishonest or stolen furnisher key could register a
stranger with its own phone before any honest furnisher did. Now, run as every furnisher kind
of the policy (over ``POST /v1/records`` on a real server):

* one furnisher reporting a new person with the attacker's phone, in as many rows as it likes,
  gives no channel: a sign-in request for that pair answers and writes exactly as one for a
  made-up pair, and no code is sent;
* a second, distinct furnisher reporting the same phone with the person's ID corroborates it:
  ``contact.channel_set`` with ``source: corroborated`` naming both, and the person signs in;
* two furnishers that disagree give none; a furnisher of a kind the policy names
  authoritative gives one alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from conftest import TODAY, last_code, make_id
from security.test_takeover import _attacks, _outbox, _row
from servers import running
from socialcredit.access import add_furnisher
from socialcredit.registry import Registry
from socialcredit.settings import DEFAULT_POLICY_PATH, Settings
from socialcredit.store.tables import events

NEWCOMER = make_id(region="440305", birth="19910303", seq=52)
MADE_UP = make_id(region="440305", birth="19910303", seq=54)
ATTACKER_PHONE = "+8618677778888"
OTHER_PHONE = "+8613800001111"


def _registry(db_url: str, tmp_path: Path, policy: Path = DEFAULT_POLICY_PATH) -> Registry:
    reg = Registry(Settings(database_url=db_url, notices_dir=tmp_path / "notices",
                            clocks_every_seconds=0.2, policy_path=policy), today=TODAY)
    reg.ensure_schema()
    return reg


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Registry]]:
    reg = _registry(db_url, tmp_path)
    with running(reg) as base:
        yield base, reg
    reg.close()


def _send(c: httpx.Client, key: str, *rows: dict[str, Any]) -> None:
    r = c.post("/v1/records", json={"records": list(rows)},
               headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and r.json()["accepted"] == len(rows), r.text


def _channel_events(reg: Registry) -> list[dict[str, Any]]:
    with reg.store.read() as conn:
        return [json.loads(p) for p in conn.execute(select(events.c.payload).where(
            events.c.type.in_(("contact.channel_set", "contact.channel_changed")))
            .order_by(events.c.seq)).scalars()]


def _seq(reg: Registry) -> int:
    with reg.store.read() as conn:
        return int(conn.execute(select(func.max(events.c.seq))).scalar() or 0)


def _sign_in_writes(c: httpx.Client, reg: Registry, national_id: str,
                    phone: str) -> tuple[int, bytes, list[tuple[str, Any]]]:
    """(status, body, [(type, subject_id)] of the sign-in events it wrote) of one request (the
    server's clock may write other events meanwhile: they are not the request's)."""
    before = _seq(reg)
    r = c.post("/v1/me/sign-in", json={"national_id": national_id, "phone": phone})
    kinds = ("access.refused", "sign_in.code_issued")
    deadline = time.monotonic() + 20
    while True:  # the lookup and writes happen after the answer
        with reg.store.read() as conn:
            written = [(t, s) for t, s in conn.execute(
                select(events.c.type, events.c.subject_id).where(
                    events.c.seq > before, events.c.type.in_(kinds)))]
        if written:
            break
        assert time.monotonic() < deadline, "the background sign-in work did not finish"
        time.sleep(0.02)
    return r.status_code, r.content, written


def _codes_to(reg: Registry, phone: str) -> list[dict[str, Any]]:
    return [n for n in _outbox(reg) if n["to"] == phone and n["kind"] == "sign_in_code"]


@pytest.mark.parametrize(("furnisher_kind", "record_kind"), _attacks())
def test_one_furnisher_alone_gives_a_new_person_no_channel(
        served: tuple[str, Registry], furnisher_kind: str, record_kind: str) -> None:
    base, reg = served
    planter = add_furnisher(reg.store, name=f"planter-{furnisher_kind}", kind=furnisher_kind)
    with httpx.Client(base_url=base, timeout=20) as c:
        # the first to report the person, with the attacker's phone, twice over
        _send(c, planter, _row(record_kind, "P-1", NEWCOMER, ATTACKER_PHONE, "2026-06-01"),
              _row(record_kind, "P-2", NEWCOMER, ATTACKER_PHONE, "2026-06-02"))
        _send(c, planter, _row(record_kind, "P-3", NEWCOMER, ATTACKER_PHONE, "2026-06-03"))
        assert _channel_events(reg) == []
        # no oracle: the same answer and the same writes as for a made-up pair
        planted = _sign_in_writes(c, reg, NEWCOMER, ATTACKER_PHONE)
        unknown = _sign_in_writes(c, reg, MADE_UP, ATTACKER_PHONE)
        assert planted == unknown, (planted, unknown)
        assert planted[0] == 202
        assert _codes_to(reg, ATTACKER_PHONE) == []

        # a second, distinct furnisher gives the same phone with the person's ID: corroborated
        other = add_furnisher(reg.store, name="court-second", kind="court")
        _send(c, other, _row("court_judgment", "J-1", NEWCOMER, ATTACKER_PHONE, "2026-06-10"))
        [set_] = _channel_events(reg)
        assert set_["phone"] == ATTACKER_PHONE and set_["source"] == "corroborated"
        assert len(set_["furnishers"]) == 2
        assert c.post("/v1/me/sign-in", json={"national_id": NEWCOMER,
                                              "phone": ATTACKER_PHONE}).status_code == 202
        r = c.post("/v1/me/session", json={"national_id": NEWCOMER, "phone": ATTACKER_PHONE,
                                           "code": last_code(reg.settings.notices_dir)})
        assert r.status_code == 200, r.text


def _attacks_record(furnisher_kind: str) -> str:
    return next(rk for fk, rk in _attacks() if fk == furnisher_kind)


def test_furnishers_that_disagree_give_no_channel(served: tuple[str, Registry]) -> None:
    base, reg = served
    a = add_furnisher(reg.store, name="lender-a", kind="lender")
    b = add_furnisher(reg.store, name="court-b", kind="court")
    with httpx.Client(base_url=base, timeout=20) as c:
        _send(c, a, _row("loan_default", "L-1", NEWCOMER, ATTACKER_PHONE, "2026-06-01"))
        _send(c, b, _row("court_judgment", "J-1", NEWCOMER, OTHER_PHONE, "2026-06-02"))
        assert _channel_events(reg) == []
        # ... until a third agrees with one of them (here, the court's)
        third = add_furnisher(reg.store, name="school-c", kind="school")
        _send(c, third, _row(_attacks_record("school"), "S-1", NEWCOMER, OTHER_PHONE,
                             "2026-06-03"))
        [set_] = _channel_events(reg)
        assert (set_["phone"], set_["source"]) == (OTHER_PHONE, "corroborated")


def test_an_authoritative_furnisher_alone_gives_the_first_channel(
        db_url: str, tmp_path: Path) -> None:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8").replace(
        "    recycle_after_days: 90", "    authoritative_furnisher_kinds: [lender]\n"
        "    recycle_after_days: 90", 1)
    assert "authoritative_furnisher_kinds" in text
    policy = tmp_path / "carrier-trusted.yaml"
    policy.write_text(text, encoding="utf-8")
    reg = _registry(db_url, tmp_path, policy)
    carrier = add_furnisher(reg.store, name="carrier-like", kind="lender")
    try:
        with running(reg) as base, httpx.Client(base_url=base, timeout=20) as c:
            _send(c, carrier, _row("loan_repayment", "C-1", NEWCOMER, OTHER_PHONE,
                                   "2026-06-01"))
            [set_] = _channel_events(reg)
            assert (set_["phone"], set_["source"]) == (OTHER_PHONE, "authoritative")
            assert set_["by"].startswith("furnisher:")
    finally:
        reg.close()
