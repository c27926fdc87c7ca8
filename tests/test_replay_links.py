"""``audit replay`` of how records came to their subjects (issue #15): ``links`` rebuilt from
``record.linked`` / ``record.unlinked`` through every stage that writes them (the model, an
operator's accept, reject and unlink, a correction inheriting a confirmed link, retention, a
merge and its split), ``names`` from ``subject.created``; a deleted or changed row of each is
found and named; a link written before ``record.linked`` carried its explanation is taken from
the live row — on a real SQLite file and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from conftest import TODAY
from socialcredit.api.keys import add_furnisher
from socialcredit.api.registry import Registry
from socialcredit.identity.review import (
    accept_candidate,
    merge_subjects,
    reject_candidate,
    split_merge,
    unlink_record,
)
from socialcredit.store.replay import replay
from socialcredit.store.tables import events, link_candidates, links, names, records
from test_link_review import (
    AMBIGUOUS_ID,
    BIRTH,
    NAME,
    PHONE_A,
    PHONE_B,
    TWIN_A,
    TWIN_B,
    _court_judgment,
    _ingest,
    _record,
    _subject_id,
)
from test_replay import _public, assert_tamper_named


@pytest.fixture
def twins(registry: Registry, tmp_path: Path) -> Registry:
    """Twin A and B, a loan linked to A by the model, and a court finding between the twins
    waiting in the review queue (as in test_link_review, without the server)."""
    reg = registry
    add_furnisher(reg.store, name="court", kind="court")
    add_furnisher(reg.store, name="bank", kind="lender")
    _ingest(reg, "court", tmp_path / "a.csv", [_court_judgment("A1", TWIN_A, PHONE_A)])
    loan_id = TWIN_A[:14] + str((int(TWIN_A[14]) + 1) % 10) + TWIN_A[15:]
    _ingest(reg, "bank", tmp_path / "loan.csv", [{
        "furnisher_record_id": "L-1", "kind": "loan_default", "occurred_at": "2026-03-01",
        "national_id": loan_id, "phone": PHONE_A, "name": NAME, "birth_date": BIRTH,
        "loan_id": "LN-77", "amount_minor": 12_000_00, "currency": "CNY",
        "days_past_due": 95}])
    _ingest(reg, "court", tmp_path / "b.csv", [_court_judgment("B1", TWIN_B, PHONE_B)])
    _ingest(reg, "court", tmp_path / "finding.csv", [_finding()])
    return reg


def _finding(**extra: Any) -> dict[str, Any]:
    return {"furnisher_record_id": "F-1", "kind": "dishonesty_finding",
            "occurred_at": "2026-04-01", "national_id": AMBIGUOUS_ID, "name": NAME,
            "birth_date": BIRTH, "address": "北京市朝阳区建国路88号",
            "case_number": "(2026)京0105执9号", "ground": 1, "amount_minor": 80_000_00,
            "currency": "CNY", **extra}


def _same(reg: Registry) -> dict[str, int]:
    result = replay(reg.store, list_public=_public(reg))
    assert result.first_difference is None, result.first_difference.describe()
    assert result.unknown_event_types == []
    return {t.table: t.rows for t in result.tables}


def _open_pairs(reg: Registry, record_id: int) -> list[Any]:
    with reg.store.read() as conn:
        return list(conn.execute(select(link_candidates).where(
            link_candidates.c.record_id == record_id, link_candidates.c.status == "open")
            .order_by(link_candidates.c.id)))


def test_links_replay_through_review_correction_and_retention(twins: Registry,
                                                              tmp_path: Path) -> None:
    from socialcredit.disclosure.retention import run_retention

    reg = twins
    counts = _same(reg)
    assert counts["links"] == 2 and counts["names"] == 2  # the loan and the finding
    loan, finding = int(_record(reg, "bank", "L-1").id), int(_record(reg, "court", "F-1").id)
    with reg.store.read() as conn:
        link = conn.execute(select(links).where(links.c.record_id == loan)).one()
        payload = json.loads(conn.execute(select(events.c.payload).where(
            events.c.seq == link.seq)).scalar_one())
    assert (link.rule, link.decided_by) == ("probabilistic", "model")
    assert json.loads(link.explanation) == payload["explanation"]
    # an operator rejects the tentative pair: the record moves to the other twin, pending
    pairs = _open_pairs(reg, finding)
    with reg.store.read() as conn:
        tentative = conn.execute(select(records.c.subject_id).where(
            records.c.id == finding)).scalar_one()
    (first,) = [p for p in pairs if p.subject_id == tentative]
    reject_candidate(reg.store, reg.policy, first.id, by="operator:ops", as_of=TODAY)
    _same(reg)
    (second,) = _open_pairs(reg, finding)
    accept_candidate(reg.store, reg.policy, second.id, by="operator:ops",
                     note="birth certificate seen", as_of=TODAY)
    _same(reg)
    # a correction naming the person as before inherits the operator's link
    _ingest(reg, "court", tmp_path / "fix.csv", [_finding(
        furnisher_record_id="F-2", corrects="F-1", amount_minor=70_000_00)])
    fixed = int(_record(reg, "court", "F-2").id)
    with reg.store.read() as conn:
        inherited = conn.execute(select(links).where(links.c.record_id == fixed)).one()
    assert inherited.decided_by == f"operator:ops (record {finding})"
    _same(reg)
    unlink_record(reg.store, reg.policy, loan, by="operator:ops", reason="not her loan",
                  as_of=TODAY)
    assert _same(reg)["links"] == 3
    assert run_retention(reg.store, reg.policy, today=dt.date(2045, 1, 1)) > 0
    _same(reg)
    with reg.store.read() as conn:
        assert set(conn.execute(select(links.c.explanation)).scalars()) == {"{}"}


def test_merge_and_split_move_links_and_names(twins: Registry) -> None:
    reg = twins
    a, b = _subject_id(reg, TWIN_A), _subject_id(reg, TWIN_B)
    merged = merge_subjects(reg.store, reg.policy, survivor=b, absorbed=a, by="ops",
                            reason="same person", as_of=TODAY)
    _same(reg)
    split_merge(reg.store, reg.policy, merged["merge_id"], by="ops", reason="two people",
                as_of=TODAY)
    _same(reg)


def _delete_link(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    loan = int(_record(reg, "bank", "L-1").id)
    with reg.store.engine.begin() as conn:
        conn.execute(delete(links).where(links.c.record_id == loan))
    return "links", {"record_id": loan}, "missing", None


def _confirm_link(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    finding = int(_record(reg, "court", "F-1").id)
    with reg.store.engine.begin() as conn:  # the pending link made to look decided
        conn.execute(update(links).where(links.c.record_id == finding).values(
            status="confirmed"))
    return "links", {"record_id": finding}, "changed", "status"


def _change_decider(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    loan = int(_record(reg, "bank", "L-1").id)
    with reg.store.engine.begin() as conn:
        conn.execute(update(links).where(links.c.record_id == loan).values(
            decided_by="operator:someone"))
    return "links", {"record_id": loan}, "changed", "decided_by"


def _delete_name(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    a = _subject_id(reg, TWIN_A)
    with reg.store.engine.begin() as conn:
        conn.execute(delete(names).where(names.c.subject_id == a))
    return "names", {"subject_id": a, "name": NAME}, "missing", None


def _move_name(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    a = _subject_id(reg, TWIN_A)
    with reg.store.engine.begin() as conn:
        conn.execute(update(names).where(names.c.subject_id == a).values(name="李四"))
    return "names", {"subject_id": a, "name": NAME}, "missing", None


def _delete_pair(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    finding = int(_record(reg, "court", "F-1").id)
    (pair, _) = _open_pairs(reg, finding)
    with reg.store.engine.begin() as conn:
        conn.execute(delete(link_candidates).where(link_candidates.c.id == pair.id))
    return "link_candidates", {"id": pair.id}, "missing", None


def _reopen_refused_pair(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    loan = int(_record(reg, "bank", "L-1").id)
    unlink_record(reg.store, reg.policy, loan, by="operator:ops", reason="not her loan",
                  as_of=TODAY)
    with reg.store.engine.begin() as conn:  # the refused pair back in the queue
        cid = conn.execute(select(link_candidates.c.id).where(
            link_candidates.c.record_id == loan, link_candidates.c.status == "rejected")
        ).scalar_one()
        conn.execute(update(link_candidates).where(link_candidates.c.id == cid).values(
            status="open"))
    return "link_candidates", {"id": cid}, "changed", "status"


@pytest.mark.parametrize("tamper", [_delete_link, _confirm_link, _change_decider,
                                    _delete_name, _move_name, _delete_pair,
                                    _reopen_refused_pair],
                         ids=["deleted-link", "confirmed-link", "changed-decider",
                              "deleted-name", "changed-name", "deleted-pair",
                              "reopened-refused-pair"])
def test_a_tampered_link_or_name_is_found_and_named(twins: Registry, tamper: Any) -> None:
    _same(twins)
    table, key, what, column = tamper(twins)
    assert_tamper_named(twins, (table, key, what, column), f"{table} row (")


def test_a_link_written_before_record_linked_carried_its_explanation(twins: Registry) -> None:
    """An older ledger: the model's record.linked without explanation and decided_by, and the
    row with the unrounded weights it then held, still replays (those cells from the live
    row); every other column is still compared."""
    reg = twins
    loan = int(_record(reg, "bank", "L-1").id)
    with reg.store.engine.begin() as conn:
        seq, weight = conn.execute(select(links.c.seq, links.c.match_weight).where(
            links.c.record_id == loan)).one()
        payload = json.loads(conn.execute(select(events.c.payload).where(
            events.c.seq == seq)).scalar_one())
        for k in ("explanation", "decided_by"):
            del payload[k]
        conn.execute(update(events).where(events.c.seq == seq).values(
            payload=json.dumps(payload)))
        conn.execute(update(links).where(links.c.record_id == loan).values(
            match_weight=weight + 0.000123, decided_by="model-2024"))
    result = replay(reg.store, list_public=_public(reg))
    assert result.first_difference is None, result.first_difference.describe()
    assert result.taken_from_live["links.explanation"] == 1
    with reg.store.engine.begin() as conn:  # still compared: the subject
        conn.execute(update(links).where(links.c.record_id == loan).values(
            subject_id=_subject_id(reg, TWIN_B)))
    diff = replay(reg.store, list_public=_public(reg)).first_difference
    assert diff is not None and (diff.table, diff.column) == ("links", "subject_id")



def test_a_pair_queued_for_a_phone_confirmed_listing_replays(twins: Registry,
                                                             tmp_path: Path) -> None:
    """A court finding without an ID, linked to A by A's phone alone (the phone rule): the
    listing rests on it, so policy evaluation queues the pair for an operator (link.queued);
    accepting it replays too."""
    reg = twins
    finding = _finding(furnisher_record_id="F-9", phone=PHONE_A,
                       case_number="(2026)京0105执10号")
    del finding["national_id"]
    _ingest(reg, "court", tmp_path / "f2.csv", [finding])
    rid = int(_record(reg, "court", "F-9").id)
    with reg.store.read() as conn:
        queued = conn.execute(select(events.c.payload).where(
            events.c.type == "link.queued")).scalars().all()
    assert [json.loads(q)["record_id"] for q in queued] == [rid]
    assert _same(reg)["link_candidates"] == 3
    (pair,) = _open_pairs(reg, rid)
    accept_candidate(reg.store, reg.policy, pair.id, by="operator:ops", as_of=TODAY)
    _same(reg)


def test_review_pairs_of_an_older_ledger_are_taken_from_the_live_rows(twins: Registry) -> None:
    reg = twins
    finding = int(_record(reg, "court", "F-1").id)
    with reg.store.engine.begin() as conn:  # as older code wrote the model's events
        for seq, payload in conn.execute(select(events.c.seq, events.c.payload).where(
                events.c.type == "record.linked")).all():
            body = {k: v for k, v in json.loads(payload).items()
                    if k not in ("explanation", "decided_by", "queued")}
            conn.execute(update(events).where(events.c.seq == seq).values(
                payload=json.dumps(body)))
    result = replay(reg.store, list_public=_public(reg))
    assert result.first_difference is None, result.first_difference.describe()
    assert result.taken_from_live["link_candidates"] == 2
    # a pair decided afterwards, by code that writes the events, is compared
    (first, _) = _open_pairs(reg, finding)
    reject_candidate(reg.store, reg.policy, first.id, by="operator:ops", as_of=TODAY)
    assert replay(reg.store, list_public=_public(reg)).first_difference is None
