"""The three ways a trusted contact channel may change, each a ledger event with a notice to the
old channel (issue #20, finding 1): the person proves the new number from the old one; an
operator confirms it after an identity check (route and CLI); an authoritative furnisher kind
the policy names (the carrier's real-name registration) reports it. Driven over a real
server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from conftest import TODAY, last_code, make_id, write_csv
from security.conftest import Seed, carrier_registers
from security.test_takeover import _outbox, _row, _wait_for
from socialcredit.api.keys import add_furnisher, add_operator, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.cli import app as cli
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.store.tables import events

PERSON = make_id(region="320102", birth="19881111", seq=23)
OLD = "+8613566667777"
NEW = "+8615988889999"


def _person(reg: Registry, tmp_path: Path) -> None:
    """A court reports the person with OLD; the carrier's real-name registration makes OLD
    their channel."""
    add_furnisher(reg.store, name="court-1", kind="court")
    ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, "court-1"),
                path=write_csv(tmp_path / "c.csv", [_row("court_judgment", "J-1", PERSON, OLD,
                                                         "2026-02-01")]), as_of=TODAY)
    carrier_registers(reg, tmp_path, PERSON, OLD, day="2026-02-01")


@pytest.fixture
def seed() -> Seed:
    return _person


def _changes(reg: Registry) -> list[dict[str, Any]]:
    with reg.store.read() as conn:
        return [json.loads(p) for p in conn.execute(select(events.c.payload).where(
            events.c.type == "contact.channel_changed").order_by(events.c.seq)).scalars()]


def _signs_in(c: httpx.Client, reg: Registry, phone: str) -> bool:
    c.cookies.clear()
    assert c.post("/v1/me/sign-in", json={"national_id": PERSON, "phone": phone}
                  ).status_code == 202
    try:
        code = last_code(reg.settings.notices_dir, timeout_s=1.5)
    except AssertionError:
        return False
    return c.post("/v1/me/session", json={"national_id": PERSON, "phone": phone,
                                          "code": code}).status_code == 200


def _told_old_phone(reg: Registry) -> None:
    _wait_for(lambda: [n for n in _outbox(reg) if n["kind"] == "channel_changed"
                       and n["to"] == OLD], "the change notice to the old phone")


def test_the_person_proves_the_new_number_from_the_old_one(
        served: tuple[str, Registry]) -> None:
    base, reg = served
    with httpx.Client(base_url=base, timeout=20) as c:
        c.post("/v1/me/sign-in", json={"national_id": PERSON, "phone": OLD})
        r = c.post("/v1/me/session", json={"national_id": PERSON, "phone": OLD,
                                           "code": last_code(reg.settings.notices_dir)})
        csrf = r.json()["csrf"]
        # without the CSRF token: refused
        assert c.post("/v1/me/channel", json={"phone": NEW}).status_code == 403
        r = c.post("/v1/me/channel", json={"phone": NEW}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 202, r.text
        code = last_code(reg.settings.notices_dir)
        wrong = "000000" if code != "000000" else "111111"
        r = c.post("/v1/me/channel/confirm", json={"phone": NEW, "code": wrong},
                   headers={"X-CSRF-Token": csrf})
        assert r.status_code == 401 and _changes(reg) == []
        r = c.post("/v1/me/channel/confirm", json={"phone": NEW, "code": code},
                   headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200, r.text
        assert [(e["from"], e["to"], e["how"]) for e in _changes(reg)] == [
            (OLD, NEW, "subject_proof")]
        _told_old_phone(reg)
        assert _signs_in(c, reg, NEW)
        assert not _signs_in(c, reg, OLD)


def test_an_operator_confirms_after_an_identity_check(served: tuple[str, Registry]) -> None:
    base, reg = served
    key = add_operator(reg.store, name="desk-1")
    with reg.store.read() as conn:
        sid = conn.execute(select(events.c.subject_id).where(
            events.c.type == "contact.channel_set")).scalar()
    with httpx.Client(base_url=base, timeout=20,
                      headers={"Authorization": f"Bearer {key}"}) as c:
        r = c.post(f"/v1/operator/subjects/{sid}/channel", json={"phone": NEW})
        assert r.status_code == 422  # no evidence of an identity check: refused
        r = c.post(f"/v1/operator/subjects/{sid}/channel",
                   json={"phone": NEW, "evidence": "ID card seen at the counter, ticket 7"})
        assert r.status_code == 200 and r.json()["changed"] is True, r.text
    assert [(e["to"], e["how"], e["evidence"]) for e in _changes(reg)] == [
        (NEW, "operator", "ID card seen at the counter, ticket 7")]
    _told_old_phone(reg)
    with httpx.Client(base_url=base, timeout=20) as c:
        assert _signs_in(c, reg, NEW)
    # the CLI does the same, back to the old number
    result = CliRunner().invoke(cli, ["--database-url", reg.settings.database_url, "contact",
                                      "set", str(sid), OLD, "--evidence", "passport seen",
                                      "--json"])
    assert result.exit_code == 0, result.output
    assert [e["to"] for e in _changes(reg)] == [NEW, OLD]


def test_an_authoritative_source_the_policy_names_moves_it(
        served: tuple[str, Registry]) -> None:
    """The default policy names ``carrier``: a carrier's new real-name registration of the
    person's number moves the channel; a payment app's phone does not."""
    base, reg = served
    payer = add_furnisher(reg.store, name="pay", kind="payment")
    carrier = add_furnisher(reg.store, name="carrier-unicom", kind="carrier")
    with httpx.Client(base_url=base, timeout=20) as c:
        r = c.post("/v1/records", headers={"Authorization": f"Bearer {payer}"},
                   json={"records": [_row("loan_repayment", "P-1", PERSON, NEW,
                                          "2026-06-01")]})
        assert r.status_code == 200 and _changes(reg) == []
        r = c.post("/v1/records", headers={"Authorization": f"Bearer {carrier}"},
                   json={"records": [_row("phone_registration", "RN-2", PERSON, NEW,
                                          "2026-06-02")]})
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        assert [(e["from"], e["to"], e["how"]) for e in _changes(reg)] == [
            (OLD, NEW, "authoritative")]
        _told_old_phone(reg)
        assert _signs_in(c, reg, NEW)


def test_a_change_of_channel_ends_the_sessions_and_codes_of_the_old_one(
        served: tuple[str, Registry]) -> None:
    """Whoever held the old channel (the person, or someone who had taken it over) keeps
    nothing once an operator moves it: their session is refused, a code already sent to the
    old phone no longer opens one, and they cannot move the channel back (review of #20)."""
    base, reg = served
    key = add_operator(reg.store, name="desk-2")
    with httpx.Client(base_url=base, timeout=20) as held:
        held.post("/v1/me/sign-in", json={"national_id": PERSON, "phone": OLD})
        r = held.post("/v1/me/session", json={"national_id": PERSON, "phone": OLD,
                                              "code": last_code(reg.settings.notices_dir)})
        assert r.status_code == 200, r.text
        csrf = r.json()["csrf"]
        assert held.get("/v1/me/file").status_code == 200
        # a second code, sent to the old phone and not used yet
        held.post("/v1/me/sign-in", json={"national_id": PERSON, "phone": OLD})
        unused = last_code(reg.settings.notices_dir)
        with reg.store.read() as conn:
            sid = conn.execute(select(events.c.subject_id).where(
                events.c.type == "contact.channel_set")).scalar()
        r = httpx.post(f"{base}/v1/operator/subjects/{sid}/channel",
                       json={"phone": NEW, "evidence": "ID card seen, ticket 9"},
                       headers={"Authorization": f"Bearer {key}"}, timeout=20)
        assert r.status_code == 200 and r.json()["changed"] is True, r.text
        assert held.get("/v1/me/file").status_code == 401
        r = held.post("/v1/me/channel", json={"phone": OLD}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 401, r.text
        r = held.post("/v1/me/session", json={"national_id": PERSON, "phone": OLD,
                                              "code": unused})
        assert r.status_code in (401, 403), r.text
    assert [e["to"] for e in _changes(reg)] == [NEW]
    with httpx.Client(base_url=base, timeout=20) as c:
        assert _signs_in(c, reg, NEW)


def test_a_new_phone_gets_codes_though_the_hour_was_spent_on_the_old(
        db_url: str, tmp_path: Path) -> None:
    """Someone spent the hour's five codes on the person's old phone; the person then moved to
    a new phone. The new phone must get its code, not a silent refusal (newcomer review of
    #20): the per-person budget counts codes since the channel last changed."""
    import datetime as dt

    from security.conftest import channel_registry
    from socialcredit.disclosure.signin import request_code
    from socialcredit.errors import RateLimited
    from socialcredit.identity.channel import change_channel

    reg = channel_registry(db_url, tmp_path)
    person, old, new = make_id(seq=611), "+8613700006111", "+8613700006112"
    try:
        carrier_registers(reg, tmp_path, person, old)
        # the codes within the hour before the change (batch times are the real clock's)
        now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
        for i in range(5):
            assert request_code(reg.store, reg.policy, national_id=person, phone=old,
                                now=now + dt.timedelta(minutes=i)) is not None
        with pytest.raises(RateLimited):  # the old phone's hour is spent
            request_code(reg.store, reg.policy, national_id=person, phone=old,
                         now=now + dt.timedelta(minutes=6))
        from socialcredit.store.tables import subjects

        with reg.store.read() as conn:
            sid = conn.execute(select(subjects.c.id).where(
                subjects.c.national_id == person)).scalar_one()
        with reg.store.batch() as b:
            assert change_channel(b, subject_id=sid, phone=new, how="operator", by="ops",
                                  evidence="passport seen at the counter")
        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        assert request_code(reg.store, reg.policy, national_id=person, phone=new,
                            now=later) is not None
    finally:
        reg.close()
