"""``audit replay`` of ``notices`` (issue #15): the notices the ledger owes each person and
which were served, compared with the outbox. A due notice deleted before it was served, one
marked served that never was, and a served one deleted afterwards are each found and named
by table, kind and ref — on a real SQLite file and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from conftest import furnish, trust_channel
from socialcredit.api.registry import Registry
from socialcredit.disclosure.delivery import FileAdapter, deliver_notices
from socialcredit.disclosure.notices import project_notices
from socialcredit.disclosure.signin import request_code
from socialcredit.store.replay import replay
from socialcredit.store.tables import notices
from test_replay import DEBTOR, _public, assert_tamper_named, populated  # noqa: F401

NOW = dt.datetime(2026, 6, 30, 9, tzinfo=dt.UTC)
PHONE = "+8613812345678"


@pytest.fixture
def notified(populated: Registry, tmp_path: Path) -> Registry:  # noqa: F811
    """The notices of ``populated`` projected and served; then a new record's notices projected
    and not yet served, and a sign-in code served (no event of its own)."""
    reg = populated
    trust_channel(reg, DEBTOR, PHONE)
    project_notices(reg.store, reg.policy, now=NOW)
    adapter = FileAdapter(tmp_path / "outbox")
    assert deliver_notices(reg.store, adapter, now=NOW).served >= 2
    furnish(reg, tmp_path, "rail-12306", "transport", [
        {"furnisher_record_id": "fe20", "kind": "fare_evasion", "occurred_at": "2026-03-01",
         "national_id": DEBTOR, "name": "张伟", "service": "metro", "amount_minor": 500,
         "currency": "CNY"}])
    assert request_code(reg.store, reg.policy, national_id=DEBTOR, phone=PHONE,
                        now=NOW) is not None
    deliver_notices(reg.store, adapter, now=NOW, only=_code_notice(reg))
    project_notices(reg.store, reg.policy, now=NOW)
    return reg


def _code_notice(reg: Registry) -> int:
    with reg.store.read() as conn:
        return int(conn.execute(select(notices.c.id).where(
            notices.c.kind == "sign_in_code")).scalar_one())


def _notice(reg: Registry, kind: str, *, served: bool) -> tuple[int, str]:
    """(id, ref) of the first notice of ``kind`` served or not."""
    with reg.store.read() as conn:
        cond = notices.c.served_at.is_not(None) if served else notices.c.served_at.is_(None)
        row = conn.execute(select(notices.c.id, notices.c.ref).where(
            notices.c.kind == kind, cond).order_by(notices.c.id)).first()
    assert row is not None, f"no {'served' if served else 'unserved'} {kind} notice"
    return int(row.id), str(row.ref)


def test_an_untouched_outbox_replays_equal_with_and_without_the_adverse_kinds(
        notified: Registry) -> None:
    reg = notified
    for adverse in (reg.policy.adverse_kinds(), None):
        result = replay(reg.store, list_public=_public(reg), adverse_kinds=adverse)
        assert result.first_difference is None, result.first_difference.describe()
        counts = {t.table: (t.rows, t.live_rows) for t in result.tables}
        with reg.store.read() as conn:
            live = len(conn.execute(select(notices.c.id)).all())
        assert counts["notices"] == (live, live) and live >= 5
        # without the policy's adverse kinds, adverse-record notices are taken from live
        assert ("notices" in result.taken_from_live) == (adverse is None)
    assert "notices" not in result.not_projections


def test_a_due_notice_deleted_before_it_was_served_is_found(notified: Registry) -> None:
    reg = notified
    nid, ref = _notice(reg, "adverse_record", served=False)
    with reg.store.engine.begin() as conn:  # nobody will ever be told of the new record
        conn.execute(delete(notices).where(notices.c.id == nid))
    assert_tamper_named(reg, ("notices", {"kind": "adverse_record", "ref": ref}, "missing",
                              None), f"notices row (kind='adverse_record', ref='{ref}')")


def test_a_deleted_listing_notice_is_found_by_its_kind(notified: Registry) -> None:
    reg = notified
    nid, ref = _notice(reg, "listing", served=True)
    with reg.store.engine.begin() as conn:
        conn.execute(delete(notices).where(notices.c.id == nid))
    assert_tamper_named(reg, ("notices", {"kind": "listing", "ref": ref}, "missing", None),
                        f"notices row (kind='listing', ref='{ref}')")


def test_a_notice_marked_served_that_never_was_is_found(notified: Registry) -> None:
    reg = notified
    nid, ref = _notice(reg, "adverse_record", served=False)
    with reg.store.engine.begin() as conn:  # looks served: the clocks count it as kept
        conn.execute(update(notices).where(notices.c.id == nid).values(
            served_at="2026-06-30T09:00:00.000000+00:00", channel="file"))
    assert_tamper_named(reg, ("notices", {"kind": "adverse_record", "ref": ref}, "changed",
                              "served_at"), "served_at")


def test_a_notice_no_event_owes_is_found(notified: Registry) -> None:
    reg = notified
    with reg.store.engine.begin() as conn:  # a forged "you were told" row
        row = conn.execute(select(notices).where(notices.c.kind == "listing")).first()
        assert row is not None
        conn.execute(notices.insert().values({**row._mapping, "id": 10_000,
                                              "ref": "event:999999"}))
    assert_tamper_named(reg, ("notices", {"kind": "listing", "ref": "event:999999"}, "extra",
                              None), "not implied by any ledger event")
