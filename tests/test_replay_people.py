"""``audit replay`` of what a person sees and contests (issue #15): ``disputes`` and
``contact_channels`` rebuilt from the ledger, a tampered row of each found and named, and an
older ledger (disputes opened before their events carried the text, channels bootstrapped by
migration 0006 without an event) still replaying — on a real SQLite file and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update

from conftest import furnish, make_id
from socialcredit.api.registry import Registry
from socialcredit.disclosure.contact import operator_set_channel
from socialcredit.disclosure.disputes import (
    answer_dispute,
    appeal_dispute,
    decide_appeal,
    open_dispute,
)
from socialcredit.disclosure.signin import request_code
from socialcredit.store.replay import replay
from socialcredit.store.tables import (
    contact_channels,
    disputes,
    identifiers,
    records,
    subjects,
)
from test_replay import DEBTOR, OTHER, _public, populated  # noqa: F401 (a fixture)

NOW = dt.datetime(2026, 6, 30, 9, tzinfo=dt.UTC)
LONER = make_id(birth="19751212", seq=135)


def _subject(reg: Registry, nid: str) -> int:
    with reg.store.read() as conn:
        return int(conn.execute(select(subjects.c.id).where(subjects.c.national_id == nid))
                   .scalar_one())


@pytest.fixture
def contested(populated: Registry) -> Registry:  # noqa: F811
    """``populated`` plus a dispute answered, appealed and upheld, one still open, and a
    channel moved by an operator."""
    reg = populated
    b = _subject(reg, OTHER)
    with reg.store.read() as conn:
        rids = conn.execute(select(records.c.id, records.c.furnisher_id).where(
            records.c.subject_id == b, records.c.kind == "fare_evasion",
            records.c.superseded_by.is_(None)).order_by(records.c.id)).all()
    first = open_dispute(reg.store, reg.policy, subject_id=b, record_id=rids[0].id,
                         reason="I paid that fare", now=NOW)
    answer_dispute(reg.store, reg.policy, furnisher_id=rids[0].furnisher_id,
                   dispute_id=first["id"], answer="verify", note="the gate log shows it",
                   now=NOW + dt.timedelta(days=2))
    appeal_dispute(reg.store, subject_id=b, dispute_id=first["id"],
                   reason="the log is of another card", now=NOW + dt.timedelta(days=3))
    decide_appeal(reg.store, reg.policy, operator="ops-1", dispute_id=first["id"],
                  outcome="upheld", note="same card", now=NOW + dt.timedelta(days=4))
    open_dispute(reg.store, reg.policy, subject_id=b, record_id=rids[1].id,
                 reason="not me", now=NOW)
    operator_set_channel(reg.store, reg.policy, subject_id=_subject(reg, DEBTOR),
                         phone="+8613700001111", operator="ops-1",
                         evidence="identity card seen at the counter")
    # one furnisher's phone gives no channel (issue #20): the other person's is set likewise
    operator_set_channel(reg.store, reg.policy, subject_id=b, phone="+8613700002222",
                         operator="ops-1", evidence="passport seen at the counter")
    # a sign-in code asked for: an event of its own (sign_in_codes itself is operational)
    assert request_code(reg.store, reg.policy, national_id=DEBTOR, phone="+8613700001111",
                        now=dt.datetime.now(dt.UTC)) is not None
    return reg


def test_disputes_and_channels_replay_to_the_same_tables(contested: Registry) -> None:
    result = replay(contested.store, list_public=_public(contested))
    assert result.first_difference is None, result.first_difference.describe()
    rows = {t.table: t.rows for t in result.tables}
    assert rows["disputes"] == 2 and rows["contact_channels"] == 2
    assert "disputes" not in result.not_yet_replayed
    assert "contact_channels" not in result.not_yet_replayed
    assert result.taken_from_live == {} and result.unknown_event_types == []


def _dispute_status(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    with reg.store.engine.begin() as conn:
        did = conn.execute(select(disputes.c.id).where(disputes.c.status == "upheld")
                           ).scalar_one()
        conn.execute(update(disputes).where(disputes.c.id == did).values(status="overturned"))
    return "disputes", {"id": did}, "changed", "status"


def _dispute_reason(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    with reg.store.engine.begin() as conn:
        did = conn.execute(select(disputes.c.id).where(disputes.c.status == "open")
                           ).scalar_one()
        conn.execute(update(disputes).where(disputes.c.id == did).values(reason="(edited)"))
    return "disputes", {"id": did}, "changed", "reason"


def _dispute_deleted(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    with reg.store.engine.begin() as conn:
        did = conn.execute(select(disputes.c.id).where(disputes.c.status == "open")
                           ).scalar_one()
        conn.execute(delete(disputes).where(disputes.c.id == did))
    return "disputes", {"id": did}, "missing", None


def _channel_moved(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    sid = _subject(reg, OTHER)
    with reg.store.engine.begin() as conn:  # the takeover of issue #20, done in the database
        conn.execute(update(contact_channels).where(contact_channels.c.subject_id == sid)
                     .values(phone="+8613600009999"))
    return "contact_channels", {"subject_id": sid}, "changed", "phone"


def _channel_source(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    sid = _subject(reg, DEBTOR)
    with reg.store.engine.begin() as conn:
        conn.execute(update(contact_channels).where(contact_channels.c.subject_id == sid)
                     .values(source="subject_proof"))
    return "contact_channels", {"subject_id": sid}, "changed", "source"


@pytest.mark.parametrize("tamper", [_dispute_status, _dispute_reason, _dispute_deleted,
                                    _channel_moved, _channel_source],
                         ids=["dispute-status", "dispute-reason", "dispute-deleted",
                              "channel-moved", "channel-source"])
def test_a_tampered_dispute_or_channel_is_found_and_named(
        contested: Registry,
        tamper: Callable[[Registry], tuple[str, dict[str, Any], str, str | None]]) -> None:
    table, key, what, column = tamper(contested)
    diff = replay(contested.store, list_public=_public(contested)).first_difference
    assert diff is not None
    assert (diff.table, diff.key, diff.what, diff.column) == (table, key, what, column)
    assert table in diff.describe()
    assert contested.store.verify().ok


def test_an_older_ledger_still_replays(populated: Registry,  # noqa: F811
                                       tmp_path: Path) -> None:
    """A dispute opened by the code before its event carried the reason and time, and a
    channel bootstrapped by migration 0006: their cells are taken from the live rows, the rest
    is still checked."""
    reg = populated
    furnish(reg, tmp_path, "rail-12306", "transport", [
        {"furnisher_record_id": "fe-loner", "kind": "fare_evasion",
         "occurred_at": "2026-03-01", "national_id": LONER, "name": "赵六",
         "service": "metro", "amount_minor": 300, "currency": "CNY"}])
    loner, other = _subject(reg, LONER), _subject(reg, OTHER)
    with reg.store.batch() as b:  # what the older code wrote, event and rows alike
        b.emit("identifier.added", {"subject_id": loner, "kind": "phone",
                                    "value": "+8613511112222", "valid_from": "2026-03-01"},
               subject_id=loner)
        b.add(identifiers, {"id": b.next_id(identifiers), "subject_id": loner, "kind": "phone",
                            "value": "+8613511112222", "valid_from": "2026-03-01",
                            "valid_to": None, "shared_since": None})
        did = b.next_id(disputes)
        seq = b.emit("dispute.opened", {"dispute_id": did, "record_id": None, "entry_id": None,
                                        "furnisher_id": None, "due_on": "2026-07-30"},
                     subject_id=other)
        b.add(disputes, {"id": did, "subject_id": other, "record_id": None, "entry_id": None,
                         "furnisher_id": None, "reason": "old text", "due_on": "2026-07-30",
                         "opened_at": "2026-06-30T09:00:00+00:00", "status": "open",
                         "answered_at": None, "answer_note": None, "appeal_reason": None,
                         "decided_by": None, "seq": seq})
    with reg.store.engine.begin() as conn:  # migration 0006 wrote this row, no event
        conn.execute(insert(contact_channels).values(
            subject_id=loner, phone="+8613511112222", source="migration", set_seq=None,
            set_at="2026-12-07T06:00:00", flagged_reason=None, flagged_at=None))
    result = replay(reg.store, list_public=_public(reg))
    assert result.first_difference is None, result.first_difference.describe()
    assert result.taken_from_live == {"disputes.reason": 1, "disputes.opened_at": 1,
                                      "contact_channels.set_at": 1}
    # still checked: the deadline of the old dispute, and whose phone the migrated channel is
    with reg.store.engine.begin() as conn:
        conn.execute(update(disputes).where(disputes.c.id == did).values(due_on="2027-01-01"))
    diff = replay(reg.store, list_public=_public(reg)).first_difference
    assert diff is not None and (diff.table, diff.column) == ("disputes", "due_on")
    with reg.store.engine.begin() as conn:
        conn.execute(update(disputes).where(disputes.c.id == did).values(due_on="2026-07-30"))
        conn.execute(update(contact_channels).where(contact_channels.c.subject_id == loner)
                     .values(phone="+8613600009999"))
    diff = replay(reg.store, list_public=_public(reg)).first_difference
    assert diff is not None
    assert (diff.table, diff.key, diff.what) == ("contact_channels", {"subject_id": loner},
                                                 "extra")


@pytest.fixture
def reviewed(populated: Registry) -> Registry:  # noqa: F811
    """``populated`` plus a refusal reviewed and overturned (its entry ended by due process)
    and an application for early removal refused."""
    from socialcredit.api.keys import add_gate, authenticate
    from socialcredit.disclosure.repairs import apply_for_repair, decide_repair
    from socialcredit.disclosure.reviews import decide_review, request_review
    from socialcredit.disclosure.subject_file import subject_file

    reg = populated
    gate = authenticate(reg.store, add_gate(reg.store, reg.policy, name="airline",
                                            services=["air"]))
    reg.gate_index.refresh()
    decision = reg.decisions.decide(service="air", national_id=DEBTOR, gate=gate)
    assert decision.decision == "deny"
    reg.decisions.flush()
    review = request_review(reg.store, subject_id=_subject(reg, DEBTOR),
                            decision_id=decision.decision_id, reason="never notified", now=NOW)
    decide_review(reg.store, reg.policy, operator="ops-1", review_id=review["id"],
                  outcome="overturned", note="notice missing", now=NOW)
    other = _subject(reg, OTHER)
    entry = subject_file(reg.store, reg.policy, other)["entries"][0]["id"]
    app = apply_for_repair(reg.store, subject_id=other, entry_id=entry, condition="consent",
                           evidence="the creditor's letter", now=NOW)
    decide_repair(reg.store, reg.policy, operator="ops-1", repair_id=app["id"],
                  outcome="refused", note="no letter attached", now=NOW)
    return reg


def test_reviews_and_repairs_replay_and_a_tampered_one_is_named(reviewed: Registry) -> None:
    from socialcredit.store.tables import repairs, reviews

    reg = reviewed
    result = replay(reg.store, list_public=_public(reg))
    assert result.first_difference is None, result.first_difference.describe()
    rows = {t.table: t.rows for t in result.tables}
    assert rows["reviews"] == 1 and rows["repairs"] == 2 and result.taken_from_live == {}
    with reg.store.engine.begin() as conn:
        rid = conn.execute(select(reviews.c.id)).scalar_one()
        conn.execute(update(reviews).where(reviews.c.id == rid).values(status="upheld"))
    diff = replay(reg.store, list_public=_public(reg)).first_difference
    assert diff is not None
    assert (diff.table, diff.key, diff.column) == ("reviews", {"id": rid}, "status")
    with reg.store.engine.begin() as conn:
        conn.execute(update(reviews).where(reviews.c.id == rid).values(status="overturned"))
        gone = conn.execute(select(repairs.c.id).where(
            repairs.c.decided_by == "due process")).scalar_one()
        conn.execute(delete(repairs).where(repairs.c.id == gone))
    diff = replay(reg.store, list_public=_public(reg)).first_difference
    assert diff is not None
    assert (diff.table, diff.key, diff.what) == ("repairs", {"id": gone}, "missing")


def test_an_older_due_process_repair_is_kept_only_on_its_outcome_event(
        populated: Registry) -> None:  # noqa: F811
    """Older code ended an entry by due process with a repairs row and no event of its own
    (its ``seq`` was the outcome event's)."""
    from socialcredit.store.tables import repairs

    reg = populated
    sid = _subject(reg, DEBTOR)
    with reg.store.batch() as b:
        b.emit("review.decided", {"review_id": 99, "decision_id": "d-old",
                                  "outcome": "overturned", "note": "", "operator": "ops"},
               subject_id=sid)
        rid = b.next_id(repairs)
        b.add(repairs, {"id": rid, "subject_id": sid, "entry_id": 1, "condition": "review",
                        "evidence": "overturned", "opened_at": "2026-06-30T00:00:00+00:00",
                        "status": "granted", "decided_at": None, "decided_on": "2026-06-30",
                        "decided_by": "due process", "note": "overturned", "seq": b.seq})
    result = replay(reg.store, list_public=_public(reg))
    assert result.first_difference is None, result.first_difference.describe()
    assert result.taken_from_live["repairs.entry_id"] == 1
    with reg.store.engine.begin() as conn:  # the same row moved to another person
        conn.execute(update(repairs).where(repairs.c.id == rid).values(
            subject_id=_subject(reg, OTHER)))
    diff = replay(reg.store, list_public=_public(reg)).first_difference
    assert diff is not None and (diff.table, diff.key, diff.what) == ("repairs", {"id": rid},
                                                                      "extra")


def test_every_table_is_replayed_or_listed_with_its_reason() -> None:
    from socialcredit.store.replay_tables import NOT_PROJECTIONS, NOT_YET_REPLAYED, SPECS
    from socialcredit.store.tables import metadata

    listed = {s.name for s in SPECS} | set(NOT_PROJECTIONS) | set(NOT_YET_REPLAYED)
    assert listed == set(metadata.tables)
    for spec in SPECS:
        assert set(spec.columns) <= set(metadata.tables[spec.name].c.keys()), spec.name
