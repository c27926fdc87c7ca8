"""A person's first trusted channel never comes from ordinary furnisher data (issue #20,
finding 1: pre-registration planting).

Trust on first use let the first furnisher to report a person not yet registered choose where
their sign-in codes and notices go; then two furnisher keys of any kind agreeing on a phone
did (a newcomer's review: 34 of 57 listed demo people had their channel so), and two keys are
easily held by one party. Now, by default, over ``POST /v1/records`` on a real server:

* as every furnisher kind but an authoritative one, three furnishers of that kind — or one of
  every such kind — reporting the attacker's phone with a new person's ID give no channel: a
  sign-in request for that pair answers and writes exactly as one for a made-up pair, and no
  code goes to that phone;
* the carrier's real-name registration (kind ``carrier``, which the default policy names in
  ``identity.phone.authoritative_furnisher_kinds``) gives it alone, and the person signs in;
* an operator gives it after an identity check (``POST /v1/operator/subjects/{id}/channel``);
* a policy may still enable corroboration (``channel_corroborating_furnishers`` ≥ 2): then
  one furnisher counts once however many rows it sends, and furnishers that disagree give
  none; 1, or an unknown authoritative kind, is refused with the YAML path.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from conftest import last_code, make_id
from security.conftest import carrier_registers, channel_registry, phone_policy
from security.test_takeover import _POLICY, _attacks, _outbox, _row
from servers import running
from socialcredit.api.keys import add_furnisher, add_operator
from socialcredit.api.registry import Registry
from socialcredit.errors import ConfigError
from socialcredit.policy.model import load_policy
from socialcredit.store.tables import events, subjects

NEWCOMER = make_id(region="440305", birth="19910303", seq=52)
MADE_UP = make_id(region="440305", birth="19910303", seq=54)
ATTACKER_PHONE = "+8618677778888"
OTHER_PHONE = "+8613800001111"


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


def _no_channel_and_no_oracle(c: httpx.Client, reg: Registry) -> None:
    assert _channel_events(reg) == []
    planted = _sign_in_writes(c, reg, NEWCOMER, ATTACKER_PHONE)
    unknown = _sign_in_writes(c, reg, MADE_UP, ATTACKER_PHONE)
    assert planted == unknown, (planted, unknown)
    assert planted[0] == 202
    assert _codes_to(reg, ATTACKER_PHONE) == []


def _signs_in(c: httpx.Client, reg: Registry, phone: str) -> None:
    assert c.post("/v1/me/sign-in", json={"national_id": NEWCOMER,
                                          "phone": phone}).status_code == 202
    r = c.post("/v1/me/session", json={"national_id": NEWCOMER, "phone": phone,
                                       "code": last_code(reg.settings.notices_dir)})
    assert r.status_code == 200, r.text


TRUSTED_KINDS = set(_POLICY.identity.phone.authoritative_furnisher_kinds)


def test_the_default_policy_trusts_the_carrier_alone() -> None:
    assert set(_POLICY.identity.phone.authoritative_furnisher_kinds) == {"carrier"}
    assert _POLICY.identity.phone.channel_corroborating_furnishers == 0
    assert not [fk for fk, _ in _attacks() if fk in TRUSTED_KINDS]


@pytest.mark.parametrize(("furnisher_kind", "record_kind"), _attacks())
def test_furnishers_of_a_kind_give_a_new_person_no_channel_however_many_agree(
        served: tuple[str, Registry], furnisher_kind: str, record_kind: str) -> None:
    base, reg = served
    keys = [add_furnisher(reg.store, name=f"planter-{furnisher_kind}-{n}", kind=furnisher_kind)
            for n in range(3)]
    with httpx.Client(base_url=base, timeout=20) as c:
        # the first to report the person, with the attacker's phone, twice over
        _send(c, keys[0], _row(record_kind, "P-1", NEWCOMER, ATTACKER_PHONE, "2026-06-01"),
              _row(record_kind, "P-2", NEWCOMER, ATTACKER_PHONE, "2026-06-02"))
        _no_channel_and_no_oracle(c, reg)
        # two more keys of the same kind agree (one party may hold all three)
        for n, key in enumerate(keys[1:], start=3):
            _send(c, key, _row(record_kind, f"P-{n}", NEWCOMER, ATTACKER_PHONE,
                               f"2026-06-0{n}"))
        _no_channel_and_no_oracle(c, reg)


def test_one_furnisher_of_every_kind_agreeing_gives_no_channel(
        served: tuple[str, Registry]) -> None:
    base, reg = served
    with httpx.Client(base_url=base, timeout=20) as c:
        for n, (fk, rk) in enumerate(_attacks()):
            key = add_furnisher(reg.store, name=f"agree-{n}", kind=fk)
            _send(c, key, _row(rk, f"A-{n}", NEWCOMER, ATTACKER_PHONE, "2026-06-01"))
        _no_channel_and_no_oracle(c, reg)


def test_a_carrier_registration_gives_the_first_channel(
        served: tuple[str, Registry], tmp_path: Path) -> None:
    base, reg = served
    lender = add_furnisher(reg.store, name="lender-a", kind="lender")
    court = add_furnisher(reg.store, name="court-b", kind="court")
    with httpx.Client(base_url=base, timeout=20) as c:
        _send(c, lender, _row("loan_default", "L-1", NEWCOMER, ATTACKER_PHONE, "2026-06-01"))
        _send(c, court, _row("court_judgment", "J-1", NEWCOMER, ATTACKER_PHONE, "2026-06-02"))
        assert _channel_events(reg) == []
        carrier_registers(reg, tmp_path, NEWCOMER, OTHER_PHONE, day="2026-06-03")
        [set_] = _channel_events(reg)
        assert (set_["phone"], set_["source"]) == (OTHER_PHONE, "authoritative")
        assert set_["by"].startswith("furnisher:")
        _signs_in(c, reg, OTHER_PHONE)
        # the ordinary furnishers' phone still gets nothing
        c.cookies.clear()
        _, _, written = _sign_in_writes(c, reg, NEWCOMER, ATTACKER_PHONE)
        assert "sign_in.code_issued" not in [t for t, _ in written]
        assert _codes_to(reg, ATTACKER_PHONE) == []


def test_an_operator_gives_the_first_channel_after_an_identity_check(
        served: tuple[str, Registry]) -> None:
    base, reg = served
    court = add_furnisher(reg.store, name="court-c", kind="court")
    operator = add_operator(reg.store, name="desk-first")
    with httpx.Client(base_url=base, timeout=20) as c:
        _send(c, court, _row("court_judgment", "J-1", NEWCOMER, ATTACKER_PHONE, "2026-06-01"))
        with reg.store.read() as conn:
            sid = conn.execute(select(subjects.c.id).where(
                subjects.c.national_id == NEWCOMER)).scalar_one()
        r = c.post(f"/v1/operator/subjects/{sid}/channel",
                   headers={"Authorization": f"Bearer {operator}"},
                   json={"phone": OTHER_PHONE, "evidence": "ID card seen at the counter, 3"})
        assert r.status_code == 200 and r.json()["changed"] is True, r.text
        [set_] = _channel_events(reg)
        assert (set_["from"], set_["to"], set_["how"]) == (None, OTHER_PHONE, "operator")
        _signs_in(c, reg, OTHER_PHONE)


def test_a_policy_may_enable_corroboration(db_url: str, tmp_path: Path) -> None:
    """Where a policy sets ``channel_corroborating_furnishers: 2``: one furnisher counts once
    however many rows it sends; two that disagree give none; a third agreeing gives it."""
    reg = channel_registry(db_url, tmp_path, phone_policy(
        tmp_path, channel_corroborating_furnishers="2"))
    a = add_furnisher(reg.store, name="lender-a", kind="lender")
    b = add_furnisher(reg.store, name="court-b", kind="court")
    third = add_furnisher(reg.store, name="school-c", kind="school")
    school_kind = next(rk for fk, rk in _attacks() if fk == "school")
    try:
        with running(reg) as base, httpx.Client(base_url=base, timeout=20) as c:
            _send(c, a, _row("loan_default", "L-1", NEWCOMER, ATTACKER_PHONE, "2026-06-01"),
                  _row("loan_default", "L-2", NEWCOMER, ATTACKER_PHONE, "2026-06-02"))
            _send(c, a, _row("loan_repayment", "L-3", NEWCOMER, ATTACKER_PHONE, "2026-06-03"))
            assert _channel_events(reg) == []
            _send(c, b, _row("court_judgment", "J-1", NEWCOMER, OTHER_PHONE, "2026-06-04"))
            assert _channel_events(reg) == []
            _send(c, third, _row(school_kind, "S-1", NEWCOMER, OTHER_PHONE, "2026-06-05"))
            [set_] = _channel_events(reg)
            assert (set_["phone"], set_["source"]) == (OTHER_PHONE, "corroborated")
            assert len(set_["furnishers"]) == 2
            _signs_in(c, reg, OTHER_PHONE)
    finally:
        reg.close()


@pytest.mark.parametrize(("setting", "value", "reason"), [
    ("channel_corroborating_furnishers", "1", "a single furnisher key would choose"),
    ("authoritative_furnisher_kinds", "[carriers]", "unknown furnisher kind 'carriers'"),
])
def test_a_policy_that_lets_one_furnisher_choose_is_refused(
        tmp_path: Path, setting: str, value: str, reason: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_policy(phone_policy(tmp_path, **{setting: value}))
    [problem] = e.value.details["problems"]
    assert problem["path"] == f"identity.phone.{setting}", problem
    assert reason in problem["reason"] and problem["line"], problem
