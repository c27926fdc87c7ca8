"""No furnisher can take over a person's sign-in or notices (issue #20, finding 1).

The attack, as any furnisher key can send it over ``POST /v1/records``: one record gives the
victim the attacker's phone; a second, for a made-up person carrying the victim's own phone and
dated 90+ days after its last use, makes the linker infer the victim's number was recycled.
Then the attacker asks for a sign-in code with the victim's ID and the attacker's phone. It
must get no code and no session, and the victim's notices keep going to the victim's phone;
the inferred recycling only flags the channel for an operator. Run as every furnisher kind the
policy's catalogue names (each with a record kind it may send) but the carrier the policy names
authoritative, plus a lender sending harmless ``loan_repayment`` rows.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from conftest import TODAY, last_code, make_id, write_csv
from security.conftest import Seed, carrier_registers
from socialcredit.api.keys import add_furnisher, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.policy.model import FURNISHER_KINDS, FieldSpec, load_policy
from socialcredit.settings import Settings
from socialcredit.store.tables import events

VICTIM = make_id(region="310104", birth="19780214", seq=41)
VICTIM_PHONE = "+8613911112222"
ATTACKER_PHONE = "+8618655556666"
MADE_UP = make_id(region="310104", birth="19990909", seq=77)
_POLICY = load_policy(Settings().policy_path)


def _value(name: str, spec: FieldSpec) -> Any:
    if spec.type == "money":
        return 12_300
    if spec.type == "currency":
        return "CNY"
    if spec.type == "int":
        return spec.min if spec.min is not None else 1
    if spec.type == "bool":
        return "true"
    if spec.type == "date":
        return "2026-06-01"
    if spec.type == "enum":
        assert spec.choices
        return spec.choices[0]
    return f"{name}-1"


def _attacks() -> list[tuple[str, str]]:
    """(furnisher kind, record kind): every furnisher kind of the default policy with the
    first record kind it may send, and a lender's ``loan_repayment`` — except the kinds the
    policy names authoritative for phones (the carrier: moving a channel is its role)."""
    catalogue = _POLICY.catalogue
    trusted = set(_POLICY.identity.phone.authoritative_furnisher_kinds)
    chosen: dict[str, str] = {}
    for kind, spec in catalogue.items():
        for fk in spec.furnisher_kinds or ():
            if "person" in spec.subjects:  # a row that can carry a person's ID and phone
                chosen.setdefault(fk, kind)
    # a furnisher kind that reports only about organisations (the regulator) cannot send a
    # person's phone at all: its kinds refuse a national_id or phone (test_organisations.py)
    for fk in set(FURNISHER_KINDS) - chosen.keys():
        assert all("person" not in spec.subjects for spec in catalogue.values()
                   if fk in (spec.furnisher_kinds or ())), fk
    return [*sorted((fk, rk) for fk, rk in chosen.items() if fk not in trusted),
            ("lender", "loan_repayment")]


def _row(record_kind: str, frid: str, nid: str, phone: str, day: str) -> dict[str, Any]:
    spec = _POLICY.catalogue[record_kind]
    row: dict[str, Any] = {"furnisher_record_id": frid, "kind": record_kind, "occurred_at": day,
                           "national_id": nid, "phone": phone, "name": "林晓"}
    row.update({name: _value(name, f) for name, f in spec.fields.items() if f.required})
    return row


def _victim(reg: Registry, tmp_path: Path) -> None:
    """A court reports the victim; the carrier's real-name registration of their phone makes
    it their channel (no other furnisher's data does, test_first_channel.py)."""
    add_furnisher(reg.store, name="court-real", kind="court")
    ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, "court-real"),
                path=write_csv(tmp_path / "court.csv", [_row(
                    "court_judgment", "J-1", VICTIM, VICTIM_PHONE, "2026-01-10")]),
                as_of=TODAY)
    carrier_registers(reg, tmp_path, VICTIM, VICTIM_PHONE, day="2026-01-10")


@pytest.fixture
def seed() -> Seed:
    return _victim


def _outbox(reg: Registry) -> list[dict[str, Any]]:
    path = Path(reg.settings.notices_dir) / "outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _event_types(reg: Registry) -> list[str]:
    with reg.store.read() as conn:
        return list(conn.execute(select(events.c.type).order_by(events.c.seq)).scalars())


def _wait_for(check: Any, what: str) -> Any:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize(("furnisher_kind", "record_kind"), _attacks())
def test_a_furnisher_cannot_take_over_sign_in_or_notices(
        served: tuple[str, Registry], furnisher_kind: str, record_kind: str) -> None:
    base, reg = served
    key = add_furnisher(reg.store, name=f"attacker-{furnisher_kind}", kind=furnisher_kind)
    with httpx.Client(base_url=base, timeout=20) as c:
        # 1. the victim "gets" the attacker's phone; 2. a made-up person "takes" the victim's
        # number 166 days after its last use (the linker infers a recycling)
        for row in (_row(record_kind, "X-1", VICTIM, ATTACKER_PHONE, "2026-06-20"),
                    _row(record_kind, "X-2", MADE_UP, VICTIM_PHONE, "2026-06-25")):
            r = c.post("/v1/records", json={"records": [row]},
                       headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        types = _event_types(reg)
        assert "identifier.ended" in types  # linkage still follows the phone intervals
        assert "contact.channel_flagged" in types  # ... and only flags the channel
        assert "contact.channel_changed" not in types

        # the attacker asks for the victim's code on the attacker's phone: the same answer as
        # ever, but no code is sent and no code opens a session
        r = c.post("/v1/me/sign-in", json={"national_id": VICTIM, "phone": ATTACKER_PHONE})
        assert r.status_code == 202, r.text
        for guess in ("000000", "123456"):
            r = c.post("/v1/me/session", json={"national_id": VICTIM, "phone": ATTACKER_PHONE,
                                               "code": guess})
            assert r.status_code in (401, 429), r.text
            assert "set-cookie" not in r.headers

        # the victim still signs in with their own phone
        r = c.post("/v1/me/sign-in", json={"national_id": VICTIM, "phone": VICTIM_PHONE})
        assert r.status_code == 202
        r = c.post("/v1/me/session", json={"national_id": VICTIM, "phone": VICTIM_PHONE,
                                           "code": last_code(reg.settings.notices_dir)})
        assert r.status_code == 200, r.text
        sid = c.get("/v1/me/file").json()["subject"]["id"]

    # the flag's notice reaches the victim's own phone, and nothing of theirs the attacker's
    _wait_for(lambda: [n for n in _outbox(reg) if n["subject_id"] == sid
                       and n["kind"] == "channel_flagged"], "the flag's notice")
    mine = [n for n in _outbox(reg) if n["subject_id"] == sid]
    assert mine and {n["to"] for n in mine} == {VICTIM_PHONE}, mine
    assert not [n for n in _outbox(reg) if n["to"] == ATTACKER_PHONE
                and n["kind"] == "sign_in_code"]


NO_PHONE = make_id(region="310104", birth="19810505", seq=63)


@pytest.mark.parametrize(("furnisher_kind", "record_kind"), _attacks()[:2])
def test_a_person_registered_without_a_phone_gets_none_from_a_furnisher(
        served: tuple[str, Registry], tmp_path: Path, furnisher_kind: str,
        record_kind: str) -> None:
    """A person registered by a record without a phone has no channel; a later furnisher row
    carrying a phone (any kind, by API or by file) does not give them one (newcomer review of
    issue #20: 1,765 such people in the demo, 125 of them listed). An operator sets it."""
    base, reg = served
    court = furnisher_id(reg.store, "court-real")
    row = _row("court_judgment", "J-2", NO_PHONE, VICTIM_PHONE, "2026-01-12")
    del row["phone"]
    ingest_file(reg.store, reg.policy, furnisher_id=court,
                path=write_csv(tmp_path / "no-phone.csv", [row]), as_of=TODAY)
    key = add_furnisher(reg.store, name=f"planter-{furnisher_kind}", kind=furnisher_kind)
    with httpx.Client(base_url=base, timeout=20) as c:
        r = c.post("/v1/records", json={"records": [
            _row(record_kind, "P-1", NO_PHONE, ATTACKER_PHONE, "2026-06-20")]},
            headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        # the same through a file
        ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(
            reg.store, f"planter-{furnisher_kind}"), path=write_csv(
            tmp_path / "plant.csv", [_row(record_kind, "P-2", NO_PHONE, ATTACKER_PHONE,
                                          "2026-06-21")]), as_of=TODAY)
        with reg.store.read() as conn:
            sid = conn.execute(select(events.c.subject_id).where(
                events.c.type == "subject.created").order_by(events.c.seq.desc())).scalar()
            set_for = list(conn.execute(select(events.c.payload).where(
                events.c.type.in_(("contact.channel_set", "contact.channel_changed")),
                events.c.subject_id == sid)).scalars())
        assert set_for == []
        r = c.post("/v1/me/sign-in", json={"national_id": NO_PHONE, "phone": ATTACKER_PHONE})
        assert r.status_code == 202, r.text
        time.sleep(0.5)
        assert not [n for n in _outbox(reg) if n["to"] == ATTACKER_PHONE
                    and n["kind"] == "sign_in_code"]
    # the person at the counter: an operator sets the channel after an identity check
    from socialcredit.disclosure.contact import operator_set_channel

    done = operator_set_channel(reg.store, reg.policy, subject_id=sid, phone=VICTIM_PHONE,
                                operator="desk", evidence="ID card seen, ticket 12")
    assert done["changed"] is True
