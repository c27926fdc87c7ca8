"""The policy engine in a registry (issue #4): criteria lists, extension, exemptions, court
rulings, per-sanction lifting, scores with reason codes and history — through ingest, the
incremental evaluation and the gate, on a real SQLite file and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from conftest import TODAY, furnish, make_id
from socialcredit.api.registry import Registry
from socialcredit.gate import DecisionService
from socialcredit.policy.sweeps import evaluate_all, evaluate_due
from socialcredit.store.tables import events, list_entries, records, scores

PERSON = make_id(birth="19900305", seq=111)
STUDENT = make_id(birth="20050101", seq=222)
OFFICER = make_id(birth="19700707", seq=333)


def _entries(reg: Registry, list_name: str) -> list[Any]:
    with reg.store.read() as conn:
        return list(conn.execute(select(list_entries).where(list_entries.c.list == list_name)
                                 .order_by(list_entries.c.id)))


def _decide(reg: Registry, service: str, nid: str, today: dt.date = TODAY) -> Any:
    reg.gate_index.refresh()
    return DecisionService(reg.gate_index, today=today).decide(service=service,
                                                                national_id=nid)


def _row(frid: str, kind: str, day: str, nid: str = PERSON, **fields: Any) -> dict[str, Any]:
    return {"furnisher_record_id": frid, "kind": kind, "occurred_at": day,
            "national_id": nid, "name": "王芳", **fields}


def _finding(frid: str, case: str, day: str, nid: str = PERSON, **extra: Any) -> dict[str, Any]:
    return _row(frid, "dishonesty_finding", day, nid, case_number=case, ground=2,
                amount_minor=1_000_000_00, currency="CNY", **extra)


def test_three_rail_fare_evasions_in_a_year_restrict_high_speed_rail(
        registry: Registry, tmp_path: Path) -> None:
    def evasion(i: int, day: str, service: str = "rail_hsr") -> dict[str, Any]:
        return _row(f"fe{i}", "fare_evasion", day, service=service, amount_minor=5000,
                    currency="CNY")

    # two in a year, and a third 400 days after the first: never three within 365 days
    furnish(registry, tmp_path, "rail-12306", "transport",
             [evasion(1, "2025-01-10"), evasion(2, "2025-06-01"), evasion(3, "2026-02-14")])
    assert _entries(registry, "repeat_fare_evaders") == []
    assert _decide(registry, "rail_hsr", PERSON).decision == "allow"
    # a metro evasion does not count (when: service in [rail_hsr, rail])
    furnish(registry, tmp_path, "rail-12306", "transport", [evasion(4, "2026-03-01", "metro")])
    assert _entries(registry, "repeat_fare_evaders") == []
    # the 2025-06-01, 2026-02-14 and 2026-05-20 evasions fall within 365 days: listed on the third
    furnish(registry, tmp_path, "rail-12306", "transport", [evasion(5, "2026-05-20", "rail")])
    [entry] = _entries(registry, "repeat_fare_evaders")
    # 180 days, the start day not counted (Civil Code art. 201): through 2026-11-16
    assert (entry.status, entry.since, entry.until) == ("active", "2026-05-20", "2026-11-17")
    answer = _decide(registry, "rail_hsr", PERSON)
    assert answer.decision == "deny"
    assert answer.reasons[0]["list"] == "repeat_fare_evaders"
    assert answer.reasons[0]["severity"] == 2
    # air is not a sanction of this list
    assert _decide(registry, "air", PERSON).decision == "allow"
    # 180 days after the last qualifying evasion the restriction has lapsed
    stats = evaluate_due(registry.store, registry.policy, dt.date(2026, 11, 16))
    assert dict(stats.expired) == {}  # its last day
    stats = evaluate_due(registry.store, registry.policy, dt.date(2026, 11, 17))
    assert stats.expired == {"repeat_fare_evaders": 1}
    assert _entries(registry, "repeat_fare_evaders")[0].status == "expired"


def test_serious_loan_defaults_list_unless_repaid_or_a_students_campus_loan(
        registry: Registry, tmp_path: Path) -> None:
    def default(frid: str, nid: str, loan: str, day: str, amount: int, dpd: int,
                purpose: str = "consumer") -> dict[str, Any]:
        return _row(frid, "loan_default", day, nid, loan_id=loan, amount_minor=amount,
                    currency="CNY", days_past_due=dpd, loan_purpose=purpose)

    furnish(registry, tmp_path, "bank-icbc", "lender", [
        # 30,000 + 25,000 CNY, both 90+ days past due, within a year: 55,000 ≥ 50,000
        default("d1", PERSON, "L1", "2026-01-05", 30_000_00, 120),
        default("d2", PERSON, "L2", "2026-03-01", 25_000_00, 95),
        # a 60-day default does not count towards it
        default("d3", PERSON, "L3", "2025-12-01", 40_000_00, 60),
        # a student's campus loan: 60,000 CNY at 200 days
        default("s1", STUDENT, "C1", "2026-02-01", 60_000_00, 200, "campus"),
    ])
    # keyed by the first qualifying date: the person's on 2026-03-01, the student's on 02-01
    entries = {e.key: e for e in _entries(registry, "serious_loan_defaulters")}
    assert sorted(entries) == ["2026-02-01", "2026-03-01"]
    entry = entries["2026-03-01"]
    # a year from 2026-03-01 lasts through 2027-03-01 (Civil Code arts. 201-202)
    assert (entry.status, entry.since, entry.until) == ("active", "2026-03-01", "2027-03-02")
    assert _decide(registry, "credit", PERSON).decision == "deny"
    # the student is listed until the school confirms full-time enrolment
    assert _decide(registry, "credit", STUDENT).decision == "deny"
    furnish(registry, tmp_path, "school-pku", "school",
             [_row("st1", "student_status", "2025-09-01", STUDENT, full_time=True)])
    student_entry = {e.key: e for e in _entries(registry, "serious_loan_defaulters")
                     }["2026-02-01"]
    assert (student_entry.status, student_entry.end_reason) == ("removed",
                                                                "criteria_no_longer_met")
    assert _decide(registry, "credit", STUDENT).decision == "allow"
    # L2 repaid in full: 30,000 CNY left, below the threshold; the entry ends
    furnish(registry, tmp_path, "bank-icbc", "lender", [
        _row("p1", "loan_repayment", "2026-04-01", loan_id="L2", amount_minor=25_000_00,
             currency="CNY", full=True)])
    entry = next(e for e in _entries(registry, "serious_loan_defaulters")
                 if e.id == entry.id)
    assert (entry.status, entry.end_reason) == ("removed", "criteria_no_longer_met")
    assert _decide(registry, "credit", PERSON).decision == "allow"


def test_extension_court_ruling_and_company_officer_exemption(
        registry: Registry, tmp_path: Path) -> None:
    court = "court-beijing-no1"
    furnish(registry, tmp_path, court, "court", [
        _finding("f1", "(2025)京01执1号", "2025-01-10"),
        # an officer named in a finding against his company is not listed (SPC 2017, Art. 3)
        _finding("f2", "(2025)京01执2号", "2025-02-01", OFFICER, debtor_role="company_officer"),
    ])
    [entry] = _entries(registry, "dishonest_judgment_debtors")
    assert (entry.status, entry.until) == ("active", "2027-01-11")  # through 2027-01-10
    assert _decide(registry, "air", OFFICER).decision == "allow"
    # the court extends the listing by two years (Art. 2(2)); another court cannot
    furnish(registry, tmp_path, "court-other", "court", [
        _row("x9", "listing_extended", "2026-01-01", case_number="(2025)京01执1号", years=3)])
    assert _entries(registry, "dishonest_judgment_debtors")[0].until == "2027-01-11"
    furnish(registry, tmp_path, court, "court", [
        _row("x1", "listing_extended", "2026-01-01", case_number="(2025)京01执1号", years=2)])
    # two more years from the last day 2027-01-10: through 2029-01-10
    assert _entries(registry, "dishonest_judgment_debtors")[0].until == "2029-01-11"
    # a ruling on the debtor's objection ends the listing (Arts. 11-12)
    furnish(registry, tmp_path, court, "court", [
        _row("x2", "listing_revoked", "2026-04-02", case_number="(2025)京01执1号")])
    entry = _entries(registry, "dishonest_judgment_debtors")[0]
    assert (entry.status, entry.end_reason, entry.ended_on) == ("removed", "court_ruling",
                                                                "2026-04-02")
    assert _decide(registry, "air", PERSON).decision == "allow"


def test_a_court_lifts_one_sanction_for_a_while_and_the_rest_still_refuse(
        registry: Registry, tmp_path: Path) -> None:
    court = "court-beijing-no1"
    furnish(registry, tmp_path, court, "court", [_finding("f1", "(2026)京01执9号",
                                                           "2026-01-10")])
    assert _decide(registry, "air", PERSON).decision == "deny"
    # SPC 2015, Art. 9: a flight for medical care, allowed until 2026-07-10
    furnish(registry, tmp_path, court, "court", [
        _row("l1", "restriction_lifted", "2026-06-20", case_number="(2026)京01执9号",
             service="air", until="2026-07-10")])
    [entry] = _entries(registry, "dishonest_judgment_debtors")
    assert json.loads(entry.lifted) == [["air", "2026-07-10"]]
    assert _decide(registry, "air", PERSON).decision == "allow"
    assert _decide(registry, "rail_hsr", PERSON).decision == "deny"
    assert _decide(registry, "hotel_star", PERSON).decision == "deny"
    # the daily clock on the lift's last day: refused again
    evaluate_due(registry.store, registry.policy, dt.date(2026, 7, 10))
    assert _entries(registry, "dishonest_judgment_debtors")[0].lifted is None
    assert _decide(registry, "air", PERSON, dt.date(2026, 7, 10)).decision == "deny"


def test_a_part_time_student_is_not_exempt(registry: Registry, tmp_path: Path) -> None:
    furnish(registry, tmp_path, "bank-icbc", "lender", [
        _row("s1", "loan_default", "2026-02-01", STUDENT, loan_id="C1", amount_minor=60_000_00,
             currency="CNY", days_past_due=200, loan_purpose="campus")])
    assert _entries(registry, "serious_loan_defaulters")[0].status == "active"
    # a part-time student is not exempt
    furnish(registry, tmp_path, "school-pku", "school",
             [_row("st1", "student_status", "2025-09-01", STUDENT, full_time=False)])
    assert _entries(registry, "serious_loan_defaulters")[0].status == "active"


def test_scores_keep_a_history_with_reason_codes_and_the_policy_version(
        registry: Registry, tmp_path: Path) -> None:
    # fare evasions: -20 each at full weight within a year
    furnish(registry, tmp_path, "rail-12306", "transport", [
        _row(f"fe{i}", "fare_evasion", day, service="metro", amount_minor=300, currency="CNY")
        for i, day in enumerate(("2026-01-05", "2026-02-05"))])
    with registry.store.read() as conn:
        rows = list(conn.execute(select(scores).order_by(scores.c.id)))
    assert [(r.value, r.grade, json.loads(r.reasons)) for r in rows] == [(960, "A", ["T01"])]
    # a loan 120 days past due (-80) and an unruly passenger (-50): four reason codes at most,
    # costliest first
    furnish(registry, tmp_path, "bank-icbc", "lender", [
        _row("d1", "loan_default", "2026-03-01", loan_id="L1", amount_minor=1000_00,
             currency="CNY", days_past_due=120)])
    furnish(registry, tmp_path, "air-caac", "transport", [
        _row("u1", "unruly_passenger", "2026-04-01", service="rail_hsr",
             conduct="smoking_on_board")])
    with registry.store.read() as conn:
        rows = list(conn.execute(select(scores).order_by(scores.c.id)))
        changed = list(conn.execute(select(events).where(events.c.type == "score.changed")))
    assert [(r.value, r.grade, json.loads(r.reasons)) for r in rows] == [
        (960, "A", ["T01"]), (880, "B", ["D01", "T01"]), (830, "C", ["D01", "T02", "T01"])]
    assert {r.policy_version for r in rows} == {registry.policy.version_hash}
    assert len(changed) == 3
    assert {e.policy_version for e in changed} == {registry.policy.version_hash}
    # the same evaluation again changes nothing
    evaluate_all(registry.store, registry.policy, TODAY)
    with registry.store.read() as conn:
        assert len(list(conn.execute(select(scores)))) == 3
    # a year and a half later the evasions count half, the loan and the incident still fully
    # (under 365 days for the loan: 2026-03-01 → 2027-02-20 is 356 days)
    evaluate_all(registry.store, registry.policy, dt.date(2027, 2, 20), dry_run=False)
    with registry.store.read() as conn:
        last = list(conn.execute(select(scores).order_by(scores.c.id)))[-1]
    assert (last.value, json.loads(last.reasons)) == (850, ["D01", "T02", "T01"])


def test_the_subject_file_shows_scores_with_reasons_severity_and_lifted_sanctions(
        registry: Registry, tmp_path: Path) -> None:
    from socialcredit.disclosure.subject_file import subject_file

    court = "court-beijing-no1"
    furnish(registry, tmp_path, court, "court", [
        _finding("f1", "(2026)京01执7号", "2026-01-10"),
        _row("l1", "restriction_lifted", "2026-06-01", case_number="(2026)京01执7号",
             service="rail_first_class")])
    [entry] = _entries(registry, "dishonest_judgment_debtors")
    file = subject_file(registry.store, registry.policy, entry.subject_id)
    [shown] = file["entries"]
    assert shown["lifted"] == [{"service": "rail_first_class", "until": None}]
    assert shown["severity"]["air"] == 4 and shown["severity"]["credit"] == 3
    [score] = file["scores"]
    # listed: L01 -300 → 700, grade C
    assert (score["score"], score["value"], score["grade"]) == ("personal_credit", 700, "C")
    assert score["reasons"] == [{"code": "L01",
                                 "reason": "Listed as a dishonest judgment debtor"}]
    assert _decide(registry, "rail_first_class", PERSON).decision == "allow"
    assert _decide(registry, "rail_hsr", PERSON).decision == "deny"


def test_public_search_shows_only_the_lists_public_fields(
        db_url: str, tmp_path: Path) -> None:
    import yaml

    from socialcredit.disclosure.public import search_public
    from socialcredit.settings import Settings

    data = yaml.safe_load(Settings(database_url=db_url).policy_path
                          .read_text(encoding="utf-8"))
    data["lists"]["dishonest_judgment_debtors"]["public_fields"] = ["ground", "since"]
    policy_file = tmp_path / "narrow.yaml"
    policy_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    reg = Registry(Settings(database_url=db_url, policy_path=policy_file), today=TODAY)
    reg.ensure_schema()
    try:
        furnish(reg, tmp_path, "court-beijing-no1", "court",
                 [_finding("f1", "(2026)京01执8号", "2026-01-10")])
        [hit], _ = search_public(reg.store, reg.policy, PERSON, today=TODAY)
    finally:
        reg.close()
    assert (hit["ground"], hit["since"]) == (2, "2026-01-10")
    assert hit["case_number"] is None and hit["amount_minor"] is None
    assert hit["furnisher"] is None and hit["until"] is None and hit["legal_basis"] is None
    assert hit["name"] == "王芳" and hit["masked_id"] != PERSON


def test_a_suppressed_record_takes_its_points_out_of_the_score(
        registry: Registry, tmp_path: Path) -> None:
    from socialcredit.disclosure.disputes import open_dispute, run_deadlines

    furnish(registry, tmp_path, "rail-12306", "transport", [
        _row("fe1", "fare_evasion", "2026-05-05", service="metro", amount_minor=300,
             currency="CNY")])
    with registry.store.read() as conn:
        rec = conn.execute(select(scores)).one()
        subject_id = rec.subject_id
    assert (rec.value, json.loads(rec.reasons)) == (980, ["T01"])
    with registry.store.read() as conn:
        record_id = conn.execute(select(records.c.id)).scalar_one()
    now = dt.datetime.combine(TODAY, dt.time(9, 0), tzinfo=dt.UTC)
    open_dispute(registry.store, registry.policy, subject_id=subject_id, record_id=record_id,
                 reason="not me", now=now)
    # the furnisher does not answer within 30 days: the record is suppressed
    assert run_deadlines(registry.store, registry.policy, now=now + dt.timedelta(days=31)) == 1
    with registry.store.read() as conn:
        rows = list(conn.execute(select(scores).order_by(scores.c.id)))
    assert [(r.value, r.grade, json.loads(r.reasons)) for r in rows] == [
        (980, "A", ["T01"]), (1000, "AA", [])]


def test_a_list_the_new_policy_drops_ends_its_live_entries(
        registry: Registry, tmp_path: Path) -> None:
    import yaml

    from socialcredit.policy.model import load_policy

    furnish(registry, tmp_path, "rail-12306", "transport", [
        _row(f"fe{i}", "fare_evasion", day, service="rail", amount_minor=500, currency="CNY")
        for i, day in enumerate(("2026-03-01", "2026-04-01", "2026-05-01"))])
    assert _entries(registry, "repeat_fare_evaders")[0].status == "active"
    data = yaml.safe_load(registry.settings.policy_path.read_text(encoding="utf-8"))
    del data["lists"]["repeat_fare_evaders"]
    data["sanctions"] = [s for s in data["sanctions"] if s["list"] != "repeat_fare_evaders"]
    path = tmp_path / "without.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    stats = evaluate_all(registry.store, load_policy(path), TODAY)
    assert stats.removed == {"repeat_fare_evaders": 1}
    [entry] = _entries(registry, "repeat_fare_evaders")
    assert (entry.status, entry.end_reason, entry.ended_on) == ("removed", "list_withdrawn",
                                                                TODAY.isoformat())


def test_a_check_as_of_a_day_before_the_listing_allows_and_ride_hail_needs_a_platform(
        registry: Registry, tmp_path: Path) -> None:
    import pytest

    from socialcredit.errors import InputError

    furnish(registry, tmp_path, "court-beijing-no1", "court",
            [_finding("f1", "(2026)京01执5号", "2026-03-10")])
    registry.gate_index.build()
    for day, expected in ((dt.date(2026, 3, 9), "allow"), (dt.date(2026, 3, 10), "deny")):
        service = DecisionService(registry.gate_index, today=day)
        assert service.decide(service="air", national_id=PERSON).decision == expected
        # the vectorised path answers the same
        [one] = service.decide_batch(service="air", people=[{"national_id": PERSON}])
        assert getattr(one, "decision", one) == expected
    with pytest.raises(InputError, match="refused per platform"):
        DecisionService(registry.gate_index, today=TODAY).decide(service="ride_hail",
                                                                 national_id=PERSON)
