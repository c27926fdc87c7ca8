"""Due process in the domain layer: notices served, sign-in codes, disputes on a clock,
appeals and human review — each step checked against what gates answer afterwards."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import TODAY, make_id, trust_channel, write_csv
from socialcredit.api.keys import add_furnisher, add_gate, authenticate, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.disclosure.delivery import FileAdapter, deliver_notices
from socialcredit.disclosure.disputes import (
    answer_dispute,
    appeal_dispute,
    decide_appeal,
    open_dispute,
    run_deadlines,
)
from socialcredit.disclosure.notices import project_notices
from socialcredit.disclosure.reviews import decide_review, open_reviews, request_review
from socialcredit.disclosure.signin import request_code, session_subject, verify_code
from socialcredit.disclosure.subject_file import subject_file
from socialcredit.errors import (
    AuthError,
    Conflict,
    InputError,
    NotFound,
    PermissionDenied,
    RateLimited,
    RepairTooEarly,
)
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.store.tables import events, records, subjects

DEBTOR = make_id(region="440103", birth="19850317", seq=57)
PHONE = "+8613800138000"
OTHER = make_id(region="440103", birth="19900101", seq=21)
NOW = dt.datetime.combine(TODAY, dt.time(9, 0), tzinfo=dt.UTC)


def _finding(frid: str, nid: str, case: str, **extra: object) -> dict[str, object]:
    return {"furnisher_record_id": frid, "kind": "dishonesty_finding",
            "occurred_at": "2026-05-01", "national_id": nid, "phone": PHONE if nid == DEBTOR
            else "", "name": "陈静", "case_number": case, "ground": 1,
            "amount_minor": 50_000_00, "currency": "CNY", **extra}


@pytest.fixture
def listed(registry: Registry, tmp_path: Path) -> Registry:
    add_furnisher(registry.store, name="court-a", kind="court")
    add_furnisher(registry.store, name="court-b", kind="court")
    rows_a = [_finding("A-1", DEBTOR, "(2026)粤01执1号")]
    rows_b = [_finding("B-1", OTHER, "(2026)粤01执2号")]
    for name, rows in (("court-a", rows_a), ("court-b", rows_b)):
        r = ingest_file(registry.store, registry.policy,
                        furnisher_id=furnisher_id(registry.store, name),
                        path=write_csv(tmp_path / f"{name}.csv", rows), as_of=TODAY)
        assert r.accepted == 1, r
    trust_channel(registry, DEBTOR, PHONE)  # one furnisher's phone gives no channel (#20)
    return registry


def _sid(reg: Registry, nid: str) -> int:
    with reg.store.read() as conn:
        return int(conn.execute(select(subjects.c.id).where(subjects.c.national_id == nid))
                   .scalar_one())


def _decide(reg: Registry, nid: str) -> str:
    reg.gate_index.refresh()
    return reg.decisions.decide(service="air", national_id=nid).decision


def _events(reg: Registry, type_: str) -> list[dict[str, object]]:
    with reg.store.read() as conn:
        return [json.loads(p) for p in conn.execute(
            select(events.c.payload).where(events.c.type == type_)).scalars()]


def test_listing_and_adverse_record_notices_are_served_once(listed: Registry,
                                                            tmp_path: Path) -> None:
    reg = listed
    added = project_notices(reg.store, reg.policy, now=NOW)
    assert added == 4  # two people: a listing and an adverse record each
    assert project_notices(reg.store, reg.policy, now=NOW) == 0  # idempotent
    adapter = FileAdapter(tmp_path / "notices")
    stats = deliver_notices(reg.store, adapter, now=NOW)
    assert (stats.served, stats.failed) == (4, 0)
    lines = [json.loads(x) for x in adapter.path.read_text().splitlines()]
    mine = [x for x in lines if x["subject_id"] == _sid(reg, DEBTOR)]
    assert {x["kind"] for x in mine} == {"listing", "adverse_record"}
    assert all(x["to"] == PHONE for x in mine)
    assert len(_events(reg, "notice.served")) == 4
    file = subject_file(reg.store, reg.policy, _sid(reg, DEBTOR))
    assert {n["kind"] for n in file["notices"]} == {"listing", "adverse_record"}
    assert all(n["served_at"] for n in file["notices"])
    assert deliver_notices(reg.store, adapter, now=NOW).served == 0


def test_sign_in_code_wrong_expired_replayed_and_locked(listed: Registry,
                                                        tmp_path: Path) -> None:
    reg = listed
    adapter = FileAdapter(tmp_path / "notices")
    assert request_code(reg.store, reg.policy, national_id=OTHER, phone=PHONE,
                        now=NOW) is None  # the phone is not the other person's
    assert request_code(reg.store, reg.policy, national_id=DEBTOR, phone="13800138000",
                        now=NOW) is not None  # a national number is normalised to E.164
    deliver_notices(reg.store, adapter, now=NOW)
    code = json.loads(adapter.path.read_text().splitlines()[-1])["text"].split()[5].rstrip(".")
    assert len(code) == 6 and code.isdigit()
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(AuthError):
        verify_code(reg.store, reg.policy, national_id=DEBTOR, phone=PHONE, code=wrong,
                    now=NOW)
    session = verify_code(reg.store, reg.policy, national_id=DEBTOR, phone=PHONE, code=code,
                          now=NOW)
    assert session_subject(reg.store, session.token, now=NOW) == (_sid(reg, DEBTOR),
                                                                  session.csrf)
    with pytest.raises(AuthError):  # replayed
        verify_code(reg.store, reg.policy, national_id=DEBTOR, phone=PHONE, code=code,
                    now=NOW)
    later = NOW + dt.timedelta(hours=13)
    with pytest.raises(AuthError):  # the session ended after session_hours
        session_subject(reg.store, session.token, now=later)
    request_code(reg.store, reg.policy, national_id=DEBTOR, phone=PHONE, now=NOW)
    with pytest.raises(AuthError):  # expired after sign_in_code_minutes
        verify_code(reg.store, reg.policy, national_id=DEBTOR, phone=PHONE, code=code,
                    now=NOW + dt.timedelta(minutes=11))
    request_code(reg.store, reg.policy, national_id=DEBTOR, phone=PHONE, now=NOW)
    # wrong tries count across codes (issue #20): the replayed and the expired code above
    # count too, and the new code does not wipe them
    for _ in range(reg.policy.due_process.sign_in_max_attempts - 3):
        with pytest.raises(AuthError):
            verify_code(reg.store, reg.policy, national_id=DEBTOR, phone=PHONE, code=wrong,
                        now=NOW)
    with pytest.raises(RateLimited, match="wrong codes"):
        verify_code(reg.store, reg.policy, national_id=DEBTOR, phone=PHONE, code=wrong,
                    now=NOW)
    refused = _events(reg, "access.refused")
    assert len(refused) >= 6 and all(code not in json.dumps(e) for e in refused)
    with pytest.raises(RateLimited):  # five codes an hour
        for _ in range(5):
            request_code(reg.store, reg.policy, national_id=DEBTOR, phone=PHONE, now=NOW)


def test_unanswered_dispute_suppresses_the_record_and_frees_the_gates(listed: Registry) -> None:
    reg = listed
    sid = _sid(reg, DEBTOR)
    assert _decide(reg, DEBTOR) == "deny"
    entry = subject_file(reg.store, reg.policy, sid)["entries"][0]
    with pytest.raises(NotFound):  # another subject's entry
        open_dispute(reg.store, reg.policy, subject_id=_sid(reg, OTHER), entry_id=entry["id"],
                     reason="not mine", now=NOW)
    with pytest.raises(InputError):
        open_dispute(reg.store, reg.policy, subject_id=sid, entry_id=entry["id"], reason=" ",
                     now=NOW)
    d = open_dispute(reg.store, reg.policy, subject_id=sid, entry_id=entry["id"],
                     reason="I paid in full in April", now=NOW)
    assert d["due_on"] == (TODAY + dt.timedelta(days=15)).isoformat()  # SPC Art. 12
    with pytest.raises(Conflict):
        open_dispute(reg.store, reg.policy, subject_id=sid, entry_id=entry["id"],
                     reason="again", now=NOW)
    court_b = furnisher_id(reg.store, "court-b")
    with pytest.raises(PermissionDenied):
        answer_dispute(reg.store, reg.policy, furnisher_id=court_b, dispute_id=d["id"],
                       answer="verify", now=NOW)
    assert run_deadlines(reg.store, reg.policy, now=NOW + dt.timedelta(days=15)) == 0
    assert _decide(reg, DEBTOR) == "deny"  # still within the deadline
    assert run_deadlines(reg.store, reg.policy, now=NOW + dt.timedelta(days=16)) == 1
    assert _decide(reg, DEBTOR) == "allow"
    file = subject_file(reg.store, reg.policy, sid)
    assert file["disputes"][0]["status"] == "suppressed"
    # the listing ends; the record behind it stays (the dispute was of the listing)
    assert file["records"][0]["status"] == "active"
    assert (file["entries"][0]["status"], file["entries"][0]["end_reason"]) == (
        "removed", "dispute_suppressed")
    court_a = furnisher_id(reg.store, "court-a")
    with pytest.raises(Conflict):  # too late to answer now
        answer_dispute(reg.store, reg.policy, furnisher_id=court_a, dispute_id=d["id"],
                       answer="verify", now=NOW + dt.timedelta(days=16))


def test_verified_dispute_appealed_and_overturned(listed: Registry) -> None:
    reg = listed
    sid = _sid(reg, DEBTOR)
    with reg.store.read() as conn:
        rid = conn.execute(select(records.c.id).where(records.c.subject_id == sid)).scalar_one()
    d = open_dispute(reg.store, reg.policy, subject_id=sid, record_id=rid,
                     reason="the amount is wrong", now=NOW)
    # the record behind a listing gets the listing's 15 days, as its entry would
    assert d["due_on"] == (TODAY + dt.timedelta(days=15)).isoformat()
    court_a = furnisher_id(reg.store, "court-a")
    with pytest.raises(InputError, match="corrected record first"):
        answer_dispute(reg.store, reg.policy, furnisher_id=court_a, dispute_id=d["id"],
                       answer="correct", now=NOW)
    answered = answer_dispute(reg.store, reg.policy, furnisher_id=court_a, dispute_id=d["id"],
                              answer="verify", note="checked the file", now=NOW)
    assert answered["status"] == "verified" and _decide(reg, DEBTOR) == "deny"
    with pytest.raises(NotFound):
        appeal_dispute(reg.store, subject_id=_sid(reg, OTHER), dispute_id=d["id"],
                       reason="x", now=NOW)
    assert appeal_dispute(reg.store, subject_id=sid, dispute_id=d["id"],
                          reason="the court ignored my receipt", now=NOW)["status"] == "appealed"
    out = decide_appeal(reg.store, reg.policy, operator="ops", dispute_id=d["id"],
                        outcome="overturned", note="receipt is genuine", now=NOW)
    assert out["status"] == "overturned" and _decide(reg, DEBTOR) == "allow"
    outcomes = [e for e in _events(reg, "dispute.decided") if e["dispute_id"] == d["id"]]
    assert outcomes[0]["outcome"] == "overturned"


def test_human_review_of_a_refusal(listed: Registry) -> None:
    reg = listed
    sid = _sid(reg, DEBTOR)
    gate = add_gate(reg.store, reg.policy, name="airline", services=["air"])
    who = authenticate(reg.store, gate)
    reg.gate_index.refresh()
    decision = reg.decisions.decide(service="air", national_id=DEBTOR, gate=who)
    assert decision.decision == "deny"
    reg.decisions.flush()
    with pytest.raises(NotFound):
        request_review(reg.store, subject_id=_sid(reg, OTHER),
                       decision_id=decision.decision_id, reason="x", now=NOW)
    review = request_review(reg.store, subject_id=sid, decision_id=decision.decision_id,
                            reason="I was never notified", now=NOW)
    assert [r["id"] for r in open_reviews(reg.store)] == [review["id"]]
    out = decide_review(reg.store, reg.policy, operator="ops", review_id=review["id"],
                        outcome="overturned", note="notice missing", now=NOW)
    assert out["status"] == "overturned" and open_reviews(reg.store) == []
    assert _decide(reg, DEBTOR) == "allow"
    project_notices(reg.store, reg.policy, now=NOW)
    kinds = {n["kind"] for n in subject_file(reg.store, reg.policy, sid)["notices"]}
    assert {"refusal", "review_outcome", "removal"} <= kinds


def test_retention_erases_the_record_and_its_listing_but_the_ledger_verifies(
        db_url: str, tmp_path: Path) -> None:
    """A record kept 200 days under a 1-year listing: on day 201 it is gone from the file, the
    list and the gate; its ledger payload is a tombstone; ``audit verify`` passes."""
    import yaml

    from socialcredit.disclosure.clocks import tick
    from socialcredit.settings import DEFAULT_POLICY_PATH, Settings

    doc = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    doc["catalogue"]["unruly_passenger"]["retention_days"] = 200
    policy_path = tmp_path / "short.yaml"
    policy_path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    passenger = make_id(region="110101", birth="19880808", seq=77)
    day0 = dt.date(2026, 1, 10)
    reg = Registry(Settings(database_url=db_url, policy_path=policy_path,
                            notices_dir=tmp_path / "notices"), today=day0)
    reg.ensure_schema()
    try:
        add_furnisher(reg.store, name="airline-x", kind="transport")
        rows = [{"furnisher_record_id": "U-1", "kind": "unruly_passenger",
                 "occurred_at": day0.isoformat(), "national_id": passenger, "name": "王强",
                 "service": "air", "conduct": "smoking_on_board"}]
        result = ingest_file(reg.store, reg.policy,
                             furnisher_id=furnisher_id(reg.store, "airline-x"),
                             path=write_csv(tmp_path / "air.csv", rows), as_of=day0)
        assert result.accepted == 1, result.problems
        assert _decide(reg, passenger) == "deny"
        sid = _sid(reg, passenger)
        adapter = FileAdapter(tmp_path / "notices")
        on_day_200 = dt.datetime.combine(day0 + dt.timedelta(days=200), dt.time(1),
                                         tzinfo=dt.UTC)
        assert tick(reg.store, reg.policy, adapter, now=on_day_200).retired == 0
        assert _decide(reg, passenger) == "deny"
        out = tick(reg.store, reg.policy, adapter, now=on_day_200 + dt.timedelta(days=1))
        assert out.retired == 1
        assert tick(reg.store, reg.policy, adapter,
                    now=on_day_200 + dt.timedelta(days=1, hours=1)).retired == 0  # once a day
        assert _decide(reg, passenger) == "allow"
        file = subject_file(reg.store, reg.policy, sid)
        assert [(r["status"], r["fields"]) for r in file["records"]] == [("retired", {})]
        assert [e["status"] for e in file["entries"]] == ["removed"]
        with reg.store.read() as conn:
            accepted = conn.execute(select(events.c.payload).where(
                events.c.type == "record.accepted")).scalar_one()
            payloads = conn.execute(select(events.c.payload)).scalars().all()
        assert json.loads(accepted)["reason"] == "retention" and passenger not in accepted
        assert not any("smoking_on_board" in p for p in payloads)
        assert reg.store.verify().ok
    finally:
        reg.close()


def test_repair_granted_by_an_operator_or_by_the_evidence_record(listed: Registry,
                                                                  tmp_path: Path) -> None:
    from socialcredit.disclosure.repairs import apply_for_repair, decide_repair, settle_repairs

    reg = listed
    sid, other = _sid(reg, DEBTOR), _sid(reg, OTHER)
    entry = subject_file(reg.store, reg.policy, sid)["entries"][0]["id"]
    with pytest.raises(NotFound):
        apply_for_repair(reg.store, subject_id=other, entry_id=entry, condition="consent",
                         evidence="x", now=NOW)
    with pytest.raises(InputError):
        apply_for_repair(reg.store, subject_id=sid, entry_id=entry, condition="bribe",
                         evidence="x", now=NOW)
    app = apply_for_repair(reg.store, subject_id=sid, entry_id=entry, condition="consent",
                           evidence="the creditor's letter of 2026-06-01", now=NOW)
    with pytest.raises(Conflict):
        apply_for_repair(reg.store, subject_id=sid, entry_id=entry, condition="consent",
                         evidence="again", now=NOW)
    assert _decide(reg, DEBTOR) == "deny"
    # listed 2026-05-01 on ground 1, a general case: no grant before its shortest
    # publication period of three months has run (NDRC Order No. 36)
    with pytest.raises(RepairTooEarly, match="from 2026-08-02"):
        decide_repair(reg.store, reg.policy, operator="ops", repair_id=app["id"],
                      outcome="granted", note="letter checked", now=NOW)
    later = dt.datetime(2026, 8, 2, 9, 0, tzinfo=dt.UTC)
    out = decide_repair(reg.store, reg.policy, operator="ops", repair_id=app["id"],
                        outcome="granted", note="letter checked", now=later)
    assert out["status"] == "granted" and _decide(reg, DEBTOR) == "allow"
    ended = subject_file(reg.store, reg.policy, sid)["entries"][0]
    assert (ended["status"], ended["end_reason"]) == ("removed", "repair:consent")
    # the granted repair survives a full re-evaluation
    from socialcredit.policy.sweeps import evaluate_all

    evaluate_all(reg.store, reg.policy, later.date())
    assert _decide(reg, DEBTOR) == "allow"

    # the other person applies; the court's settlement record arrives: granted automatically
    other_entry = subject_file(reg.store, reg.policy, other)["entries"][0]["id"]
    pending = apply_for_repair(reg.store, subject_id=other, entry_id=other_entry,
                               condition="settlement", evidence="settled", now=NOW)
    rows = [{"furnisher_record_id": "B-2", "kind": "settlement_performed",
             "occurred_at": "2026-06-20", "national_id": OTHER,
             "case_number": "(2026)粤01执2号"}]
    ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, "court-b"),
                path=write_csv(tmp_path / "settled.csv", rows), as_of=TODAY)
    assert _decide(reg, OTHER) == "allow"
    assert settle_repairs(reg.store, reg.policy, now=NOW) == 1
    mine = subject_file(reg.store, reg.policy, other)["repairs"]
    assert [(r["id"], r["status"]) for r in mine] == [(pending["id"], "granted")]
    project_notices(reg.store, reg.policy, now=NOW)
    kinds = [n["kind"] for n in subject_file(reg.store, reg.policy, other)["notices"]]
    assert "repair_outcome" in kinds and "removal" in kinds


def test_public_display_ends_by_severity_tier_while_the_listing_lasts(
        listed: Registry) -> None:
    from socialcredit.disclosure import search_public

    reg = listed  # both people listed on ground 1 (general: shown 365 days) on 2026-05-01
    day_365 = dt.date(2027, 4, 30)
    assert search_public(reg.store, reg.policy, DEBTOR, today=day_365)[1] == 1
    assert search_public(reg.store, reg.policy, DEBTOR, today=day_365 + dt.timedelta(1))[1] == 0
    reg.gate_index.refresh()
    later = reg.decisions
    later.today = day_365 + dt.timedelta(1)
    assert later.decide(service="air", national_id=DEBTOR).decision == "deny"


def test_a_list_with_a_warning_period_warns_before_it_lists(db_url: str, tmp_path: Path) -> None:
    """``warning_days: 30``: the finding warns (notice served, nothing refused), the listing
    starts 30 days later and runs its full period from then."""
    import yaml

    from socialcredit.policy.sweeps import evaluate_all
    from socialcredit.settings import DEFAULT_POLICY_PATH, Settings

    doc = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    doc["lists"]["dishonest_judgment_debtors"]["warning_days"] = 30
    policy_path = tmp_path / "warn.yaml"
    policy_path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    reg = Registry(Settings(database_url=db_url, policy_path=policy_path), today=TODAY)
    reg.ensure_schema()
    try:
        add_furnisher(reg.store, name="court-a", kind="court")
        row = dict(_finding("A-1", DEBTOR, "(2026)粤01执1号"), occurred_at=TODAY.isoformat())
        ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, "court-a"),
                    path=write_csv(tmp_path / "a.csv", [row]), as_of=TODAY)
        assert _decide(reg, DEBTOR) == "allow"
        project_notices(reg.store, reg.policy, now=NOW)
        file = subject_file(reg.store, reg.policy, _sid(reg, DEBTOR))
        assert [(e["status"], e["since"]) for e in file["entries"]] == [
            ("warned", (TODAY + dt.timedelta(days=30)).isoformat())]
        assert [n["kind"] for n in file["notices"] if n["kind"] in ("warning", "listing")] == [
            "warning"]
        evaluate_all(reg.store, reg.policy, TODAY + dt.timedelta(days=29))
        assert _decide(reg, DEBTOR) == "allow"
        stats = evaluate_all(reg.store, reg.policy, TODAY + dt.timedelta(days=30))
        assert stats.listed["dishonest_judgment_debtors"] == 1
        # listed from the end of the warning period: refused on that day, not the day before
        from socialcredit.gate import DecisionService
        reg.gate_index.refresh()
        for day, expected in ((29, "allow"), (30, "deny")):
            service = DecisionService(reg.gate_index, today=TODAY + dt.timedelta(days=day))
            assert service.decide(service="air", national_id=DEBTOR).decision == expected
        project_notices(reg.store, reg.policy, now=NOW)
        kinds = [n["kind"] for n in subject_file(reg.store, reg.policy,
                                                 _sid(reg, DEBTOR))["notices"]]
        assert "listing" in kinds and "warning" in kinds
    finally:
        reg.close()


def test_the_daily_tick_ends_expired_entries_and_a_retired_record_stays_retired(
        listed: Registry, tmp_path: Path) -> None:
    """The clocks end a listing on its ``until`` date (no separate ``evaluate`` needed); a
    dispute whose deadline passes after retention erased its record leaves it retired (found
    by bench/clocks.py: it was suppressed, then retired a second time)."""
    from socialcredit.disclosure.clocks import tick
    from socialcredit.disclosure.retention import run_retention

    reg = listed
    sid = _sid(reg, DEBTOR)
    adapter = FileAdapter(tmp_path / "notices")
    entry = subject_file(reg.store, reg.policy, sid)["entries"][0]
    until = dt.date.fromisoformat(entry["until"])
    the_day = dt.datetime.combine(until, dt.time(0, 30), tzinfo=dt.UTC)
    out = tick(reg.store, reg.policy, adapter, now=the_day - dt.timedelta(days=1))
    assert out.expired == 0
    out = tick(reg.store, reg.policy, adapter, now=the_day)
    assert out.expired == 2  # both people were listed on the same day
    assert subject_file(reg.store, reg.policy, sid)["entries"][0]["status"] == "expired"
    # a dispute of the record shortly before retention (5 years for court records) erases
    # it; its deadline passes afterwards
    later = dt.date(2031, 5, 1)
    record = subject_file(reg.store, reg.policy, sid)["records"][0]["id"]
    open_dispute(reg.store, reg.policy, subject_id=sid, record_id=record, reason="x",
                 now=dt.datetime.combine(later - dt.timedelta(days=5), dt.time(1),
                                         tzinfo=dt.UTC))
    assert run_retention(reg.store, reg.policy, today=later) >= 1
    assert run_deadlines(reg.store, reg.policy, now=dt.datetime.combine(
        later + dt.timedelta(days=40), dt.time(1), tzinfo=dt.UTC)) == 1
    records = subject_file(reg.store, reg.policy, sid)["records"]
    assert [r["status"] for r in records] == ["retired"]
    assert len(_events(reg, "record.retired")) == 2  # one per person, not twice for one


def test_a_correction_cannot_undo_a_dispute_and_a_second_phone_cannot_take_sign_in(
        listed: Registry, tmp_path: Path) -> None:
    """Found by a newcomer's pass: (1) the furnisher re-sends the disputed finding as a
    correction; the appeal is overturned; the person must be free, and a later correction
    must not list them again; (2) another furnisher reports the person's ID with its own
    phone: a code asked with the person's phone still goes to the person's phone."""
    reg = listed
    sid = _sid(reg, DEBTOR)
    court_a = furnisher_id(reg.store, "court-a")
    entry = subject_file(reg.store, reg.policy, sid)["entries"][0]["id"]
    d = open_dispute(reg.store, reg.policy, subject_id=sid, entry_id=entry, reason="paid",
                     now=NOW)
    fix = dict(_finding("A-1b", DEBTOR, "(2026)粤01执1号"), corrects="A-1")
    ingest_file(reg.store, reg.policy, furnisher_id=court_a,
                path=write_csv(tmp_path / "fix.csv", [fix]), as_of=TODAY)
    answer_dispute(reg.store, reg.policy, furnisher_id=court_a, dispute_id=d["id"],
                   answer="correct", now=NOW)
    appeal_dispute(reg.store, subject_id=sid, dispute_id=d["id"], reason="receipt", now=NOW)
    decide_appeal(reg.store, reg.policy, operator="ops", dispute_id=d["id"],
                  outcome="overturned", now=NOW)
    assert _decide(reg, DEBTOR) == "allow"
    again = dict(_finding("A-1c", DEBTOR, "(2026)粤01执1号"), corrects="A-1b")
    ingest_file(reg.store, reg.policy, furnisher_id=court_a,
                path=write_csv(tmp_path / "again.csv", [again]), as_of=TODAY)
    assert _decide(reg, DEBTOR) == "allow"
    with pytest.raises(Conflict, match="nothing to dispute"):  # the listing has ended
        open_dispute(reg.store, reg.policy, subject_id=sid, entry_id=entry, reason="x",
                     now=NOW)

    add_furnisher(reg.store, name="shady-pay", kind="payment")
    hijack = {"furnisher_record_id": "S-1", "kind": "loan_default",
              "occurred_at": "2026-06-01", "national_id": DEBTOR, "phone": "+8613900000001",
              "name": "陈静", "loan_id": "L-1", "amount_minor": 100, "currency": "CNY",
              "days_past_due": 30}
    r = ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, "shady-pay"),
                    path=write_csv(tmp_path / "shady.csv", [hijack]), as_of=TODAY)
    assert r.accepted == 1, r.problems
    adapter = FileAdapter(tmp_path / "codes")
    # the later phone cannot sign in, and the person's notices still go to their own phone
    assert request_code(reg.store, reg.policy, national_id=DEBTOR, phone="+8613900000001",
                        now=NOW) is None
    request_code(reg.store, reg.policy, national_id=DEBTOR, phone=PHONE, now=NOW)
    project_notices(reg.store, reg.policy, now=NOW)
    deliver_notices(reg.store, adapter, now=NOW, limit=5000)
    sent = [json.loads(x) for x in adapter.path.read_text().splitlines()
            if json.loads(x)["subject_id"] == sid]
    assert [x["to"] for x in sent if x["kind"] == "sign_in_code"] == [PHONE]
    assert {x["to"] for x in sent} == {PHONE}


def test_a_disputed_rating_listing_ends_and_sign_in_limits_reveal_nothing(
        registry: Registry, tmp_path: Path) -> None:
    reg = registry
    add_furnisher(reg.store, name="ride-x", kind="platform")
    rider = make_id(region="110101", birth="19920202", seq=55)
    rows = [{"furnisher_record_id": f"T-{i}", "kind": "ride_rating",
             "occurred_at": f"2026-06-{i + 1:02d}", "national_id": rider, "phone": PHONE,
             "rating": 1, "trip_id": f"trip-{i}"} for i in range(7)]
    # the fifth rating is the first low one; two warnings, the seventh refuses
    ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, "ride-x"),
                path=write_csv(tmp_path / "ratings.csv", rows), as_of=TODAY)
    sid = _sid(reg, rider)
    entry = subject_file(reg.store, reg.policy, sid)["entries"][0]
    assert (entry["list"], entry["status"]) == ("ride_hail_low_rating", "active")
    open_dispute(reg.store, reg.policy, subject_id=sid, entry_id=entry["id"], reason="x",
                 now=NOW)
    run_deadlines(reg.store, reg.policy, now=NOW + dt.timedelta(days=31))
    ended = subject_file(reg.store, reg.policy, sid)["entries"][0]
    assert (ended["status"], ended["end_reason"]) == ("removed", "dispute_suppressed")

    # a made-up ID and phone get the same answers and the same limits as a real pair
    stranger = make_id(region="110101", birth="19920202", seq=57)
    real: list[str] = []
    fake: list[str] = []
    for nid, out in ((rider, real), (stranger, fake)):
        for _ in range(reg.policy.due_process.sign_in_max_attempts):
            try:
                verify_code(reg.store, reg.policy, national_id=nid, phone=PHONE,
                            code="000001", now=NOW)
            except (AuthError, RateLimited) as e:
                out.append(f"{type(e).__name__}: {e.message}")
        for _ in range(6):
            try:
                request_code(reg.store, reg.policy, national_id=nid, phone=PHONE, now=NOW)
                out.append("sent")
            except RateLimited as e:
                out.append(f"RateLimited: {e.message}")
    assert real == fake and real[-1].startswith("RateLimited")


def test_a_manifest_naming_someone_many_times_sends_one_refusal_notice(listed: Registry,
                                                                       tmp_path: Path) -> None:
    reg = listed
    gate = authenticate(reg.store, add_gate(reg.store, reg.policy, name="airline",
                                            services=["air"]))
    reg.gate_index.refresh()
    out = reg.decisions.decide_batch(service="air", people=[{"national_id": DEBTOR}] * 500,
                                      gate=gate)
    assert all(getattr(r, "decision", None) == "deny" for r in out)
    reg.decisions.flush()
    project_notices(reg.store, reg.policy, now=NOW)
    adapter = FileAdapter(tmp_path / "n")
    deliver_notices(reg.store, adapter, now=NOW, limit=5000)
    sent = [json.loads(x) for x in adapter.path.read_text().splitlines()]
    assert sum(x["kind"] == "refusal" for x in sent) == 1
    assert project_notices(reg.store, reg.policy, now=NOW) == 0  # all 500 accounted for


def test_free_text_with_control_characters_is_refused_on_every_store(listed: Registry) -> None:
    sid = _sid(listed, DEBTOR)
    entry = subject_file(listed.store, listed.policy, sid)["entries"][0]["id"]
    with pytest.raises(InputError, match="control characters"):
        open_dispute(listed.store, listed.policy, subject_id=sid, entry_id=entry,
                     reason="nul\x00byte", now=NOW)
    d = open_dispute(listed.store, listed.policy, subject_id=sid, entry_id=entry,
                     reason="两行\n理由", now=NOW)
    assert d["reason"] == "两行\n理由"
