"""The US policy (issue #19, item 7): SSNs, tradelines with FCRA retention from the date of first
delinquency, 30-day disputes extended by 15 days on new information, adverse-action notices
with the score, a ride-hail refusal shared under an agreement, and the what-if's groups by
state and age band — through ingest, evaluation and the gate, on SQLite and PostgreSQL.

Rows are written as real furnisher CSV files (``conftest.write_csv``); the SSNs below are
outside every never-issued range, so no fixture hard-codes what the scheme computes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from conftest import TODAY, furnish, write_csv
from socialcredit.api.keys import add_furnisher, add_gate, authenticate, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.disclosure.dispute_info import add_information
from socialcredit.disclosure.disputes import open_dispute, run_deadlines
from socialcredit.disclosure.notices import project_notices
from socialcredit.disclosure.retention import due_for_retention
from socialcredit.errors import Conflict, IdentifierError
from socialcredit.gate import DecisionService
from socialcredit.identity import scheme_for
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.policy.demographics import state_of_address
from socialcredit.reports.whatif import what_if
from socialcredit.settings import Settings
from socialcredit.store.replay import replay
from socialcredit.store.tables import disputes, list_entries, notices, records, scores, subjects

DEBTOR, OTHER, RIDER = "123-45-6789", "234-56-7890", "345-67-8901"
NOW = dt.datetime(2026, 6, 30, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def us(db_url: str, tmp_path: Path) -> Iterator[Registry]:
    """A registry under the shipped US policy, chosen by its name."""
    reg = Registry(Settings(database_url=db_url, policy_path=Path("us"),
                            notices_dir=tmp_path / "notices"), today=TODAY)
    reg.ensure_schema()
    yield reg
    reg.close()


def tradeline(frid: str, ssn: str, loan: str, day: str, dpd: int, dfd: str,
              **extra: Any) -> dict[str, Any]:
    return {"furnisher_record_id": frid, "kind": "loan_default", "occurred_at": day,
            "national_id": ssn, "name": "Mary Smith", "birth_date": "1990-03-04",
            "address": "12 Oak Ave, Chicago, IL 60601", "loan_id": loan,
            "amount_minor": 250_000, "currency": "USD", "days_past_due": dpd,
            "first_delinquency_date": dfd, **extra}


def _gate(reg: Registry, services: list[str], platform: str | None = None) -> Any:
    name = f"g-{'-'.join(services)}-{platform or 'all'}"
    return authenticate(reg.store, add_gate(reg.store, reg.policy, name=name,
                                            services=services, platform=platform))


@pytest.mark.parametrize(("raw", "reason"), [
    ("000-12-3456", "area"), ("666-12-3456", "area"), ("912-34-5678", "area"),
    ("999-99-9999", "area"), ("123-00-4567", "group"), ("123-45-0000", "serial"),
    ("12345678", "length"), ("078-05-1120", "advertised")])
def test_never_issued_ssns_are_refused_with_the_part_that_is_wrong(raw: str,
                                                                    reason: str) -> None:
    with pytest.raises(IdentifierError) as e:
        scheme_for("us.ssn").parse(raw)
    assert e.value.details["reason"] == reason


def test_an_ssn_is_compacted_from_any_usual_form() -> None:
    parse = scheme_for("us.ssn").parse
    assert {parse(x).value for x in ("123-45-6789", "123 45 6789", "１２３－４５－６７８９",
                                     "123456789")} == {"123456789"}
    assert parse("123-45-6789").birth_date is None and parse("123-45-6789").sex is None


def test_bad_ssns_are_quarantined_with_a_reason_and_good_rows_land(
        us: Registry, tmp_path: Path) -> None:
    add_furnisher(us.store, name="bank-chase", kind="lender")
    rows = [tradeline("t1", DEBTOR, "L1", "2026-03-01", 30, "2026-01-30",
                      phone="(312) 555-0143"),  # a US number as people write it
            tradeline("t2", "000-12-3456", "L2", "2026-03-01", 30, "2026-01-30"),
            tradeline("t3", "666-12-3456", "L3", "2026-03-01", 30, "2026-01-30"),
            tradeline("t4", "923-45-6789", "L4", "2026-03-01", 30, "2026-01-30"),
            tradeline("t5", OTHER, "L5", "2026-03-01", 30, "2026-01-30")]
    path = write_csv(tmp_path / "bank.csv", rows)
    result = ingest_file(us.store, us.policy, furnisher_id=furnisher_id(us.store, "bank-chase"),
                         path=path, as_of=TODAY)
    assert (result.accepted, result.rejected) == (2, 3)
    assert sorted(p["line"] for p in result.problems) == [3, 4, 5]
    assert {p["field"] for p in result.problems} == {"national_id"}
    assert all("never issued" in p["reason"] for p in result.problems)
    with us.store.read() as conn:
        kept = conn.execute(select(records.c.national_id)).scalars().all()
        phones = conn.execute(select(records.c.phone)).scalars().all()
        regions = conn.execute(select(subjects.c.region_code)).scalars().all()
    assert sorted(kept) == ["123456789", "234567890"]
    assert "+13125550143" in phones  # E.164 under the policy's default region, US
    assert regions == [None, None]  # an SSN embeds no place (its digits are no address code)


def test_a_collectors_report_is_one_obligation_and_the_gate_refuses_credit_with_the_score(
        us: Registry, tmp_path: Path) -> None:
    """A bank's 120-day delinquency and the debt buyer's report of the same account cost the
    score once (630 = 800 - 120 - 50, not 510); credit is refused, and the refusal notice
    carries the score, its range, key factors, date and source (FCRA 615(a), 609(f))."""
    furnish(us, tmp_path, "bank-chase", "lender",
            [tradeline("b1", DEBTOR, "JPM-1", "2026-02-01", 120, "2025-10-04")])
    furnish(us, tmp_path, "collector-midland", "lender", [tradeline(
        "m1", DEBTOR, "MID-9", "2026-04-01", 180, "2025-10-04", original_creditor="bank-chase",
        original_loan_id="JPM-1")])
    furnish(us, tmp_path, "card-capone", "lender", [
        {**tradeline("c1", OTHER, "COF-1", "2026-05-01", 30, "2026-04-01")}])
    with us.store.read() as conn:
        listed = conn.execute(select(list_entries.c.subject_id, list_entries.c.status).where(
            list_entries.c.list == "serious_delinquencies")).all()
        latest = {r.subject_id: r for r in conn.execute(select(scores).order_by(scores.c.id))}
    assert [s for _, s in listed] == ["active"]
    debtor = listed[0].subject_id
    assert latest[debtor].value == 630
    assert json.loads(latest[debtor].reasons)[:2] == ["D01", "L01"]
    credit = _gate(us, ["credit"])
    decisions = DecisionService(us.gate_index, today=TODAY)
    deny = decisions.decide(service="credit", national_id=DEBTOR, gate=credit)
    assert deny.decision == "deny"
    assert deny.reasons[0]["list"] == "serious_delinquencies"
    assert decisions.decide(service="credit", national_id=OTHER, gate=credit).decision == "allow"
    # a manifest of applicants: a never-issued SSN is answered with its reason, in its place
    us.gate_index.build()
    batch = decisions.decide_batch(service="credit", gate=credit, people=[
        {"national_id": DEBTOR}, {"national_id": "666-12-3456"}, {"national_id": OTHER}])
    assert [getattr(d, "decision", None) for d in batch] == ["deny", None, "allow"]
    assert isinstance(batch[1], IdentifierError) and batch[1].details["reason"] == "area"
    decisions.flush()
    project_notices(us.store, us.policy, now=NOW)
    with us.store.read() as conn:
        # two refusals the same day: one message, the other recorded as merged into it
        (body,) = conn.execute(select(notices.c.body).where(
            notices.c.kind == "refusal", notices.c.subject_id == debtor,
            notices.c.channel.is_distinct_from("merged"))).scalars().all()
    text = json.loads(body)["text"]
    for said in ("630", "possible scores 300 to 850", "D01 Serious delinquency",
                 f"created {latest[debtor].as_of}", "simulated US consumer reporting agency",
                 "FCRA 615(a)", "within 60 days"):
        assert said in text, said


def test_retention_runs_from_first_delinquency_and_takes_every_report_together(
        us: Registry, tmp_path: Path) -> None:
    """FCRA 605(a)(4), (c): 180 days + 7 years (2,736 days here) from the first delinquency,
    however late the collector's report came."""
    furnish(us, tmp_path, "bank-chase", "lender",
            [tradeline("b1", DEBTOR, "JPM-1", "2020-03-01", 120, "2019-11-02")])
    furnish(us, tmp_path, "collector-midland", "lender", [tradeline(
        "m1", DEBTOR, "MID-9", "2022-06-01", 180, "2019-11-02",
        original_creditor="bank-chase", original_loan_id="JPM-1")])
    assert us.policy.catalogue["loan_default"].retention_days == 180 + 7 * 365 + 1
    last_day = dt.date(2019, 11, 2) + dt.timedelta(days=2736)
    assert due_for_retention(us.store, us.policy, last_day) == []
    with us.store.read() as conn:
        ids = sorted(conn.execute(select(records.c.id)).scalars())
    assert due_for_retention(us.store, us.policy, last_day + dt.timedelta(days=1)) == ids
    assert last_day + dt.timedelta(days=1) <= dt.date(2019 + 7, 11, 2) + dt.timedelta(days=180)


def test_new_information_extends_a_dispute_by_15_days_once(us: Registry,
                                                           tmp_path: Path) -> None:
    """FCRA 611(a)(1)(A)-(B): 30 days, 15 more once when the consumer sends information within
    them; the record is suppressed only after the extended deadline."""
    furnish(us, tmp_path, "bank-chase", "lender",
            [tradeline("b1", DEBTOR, "JPM-1", "2026-02-01", 120, "2025-10-04")])
    with us.store.read() as conn:
        rec = conn.execute(select(records.c.id, records.c.subject_id)).one()
    d = open_dispute(us.store, us.policy, subject_id=rec.subject_id, record_id=rec.id,
                     reason="I paid this account in full", now=NOW)
    assert d["due_on"] == "2026-07-30"
    more = add_information(us.store, us.policy, subject_id=rec.subject_id,
                           dispute_id=d["id"], text="Bank letter of 2026-05-02 attached",
                           now=NOW + dt.timedelta(days=3))
    assert (more["extended"], more["due_on"]) == (True, "2026-08-14")
    again = add_information(us.store, us.policy, subject_id=rec.subject_id,
                            dispute_id=d["id"], text="And the receipt", now=NOW)
    assert (again["extended"], again["due_on"]) == (False, "2026-08-14")
    day_after_30 = dt.datetime(2026, 7, 31, 16, 0, tzinfo=dt.UTC)
    assert run_deadlines(us.store, us.policy, now=day_after_30) == 0
    with pytest.raises(Conflict):
        add_information(us.store, us.policy, subject_id=rec.subject_id, dispute_id=d["id"],
                        text="late", now=dt.datetime(2026, 8, 15, 16, 0, tzinfo=dt.UTC))
    assert run_deadlines(us.store, us.policy,
                         now=dt.datetime(2026, 8, 15, 16, 0, tzinfo=dt.UTC)) == 1
    with us.store.read() as conn:
        status = conn.execute(select(disputes.c.status)).scalar()
        rec_status = conn.execute(select(records.c.status)).scalar()
    assert (status, rec_status) == ("suppressed", "suppressed")
    # the moved deadline is in the ledger: a replay rebuilds the same disputes table
    result = replay(us.store, list_public={n: s.public for n, s in us.policy.lists.items()})
    assert result.ok, result.first_difference
    assert "dispute.information" not in result.unknown_event_types


def test_a_low_rated_rider_is_refused_on_uber_and_on_lyft_under_the_agreement_only(
        us: Registry, tmp_path: Path) -> None:
    phone = "+13125550143"
    rows = [{"furnisher_record_id": f"r{i}", "kind": "ride_rating",
             "occurred_at": f"2026-05-{i + 1:02d}", "national_id": RIDER, "phone": phone,
             "name": "John Lee", "rating": 2, "trip_id": f"t{i}"} for i in range(8)]
    furnish(us, tmp_path, "ride-uber", "platform", rows)
    gates = {p: _gate(us, ["ride_hail"], p) for p in ("ride-uber", "ride-lyft", "ride-via")}
    decisions = DecisionService(us.gate_index, today=TODAY)
    answers = {p: decisions.decide(service="ride_hail", phone=phone, gate=g)
               for p, g in gates.items()}
    assert {p: a.decision for p, a in answers.items()} == {
        "ride-uber": "deny", "ride-lyft": "deny", "ride-via": "allow"}
    assert answers["ride-lyft"].reasons[0]["shared_under"] == "rider_rating_sharing"
    # a rating is not an adverse action on a consumer report: no score in that notice
    decisions.flush()
    project_notices(us.store, us.policy, now=NOW)
    with us.store.read() as conn:
        bodies = conn.execute(select(notices.c.body).where(
            notices.c.kind == "refusal")).scalars().all()
    assert bodies and not any("FCRA 615(a)" in json.loads(b)["text"] for b in bodies)


def test_the_what_if_groups_by_state_and_age_band_and_says_sex_is_not_in_the_data(
        us: Registry, tmp_path: Path) -> None:
    people = [(DEBTOR, "1999-01-01", "12 Oak Ave, Chicago, IL 60601", 120),
              (OTHER, "1960-05-05", "4 Elm St, Austin, TX 78701-1234", 30),
              (RIDER, "1985-07-07", "no state here", 30)]
    furnish(us, tmp_path, "bank-chase", "lender", [
        tradeline(f"b{i}", ssn, f"L{i}", "2026-02-01", dpd, "2025-10-04", birth_date=born,
                  address=addr) for i, (ssn, born, addr, dpd) in enumerate(people)])
    report = what_if(us.store, us.policy, us.policy, TODAY, engine="python")
    di = report["disparate_impact"]
    assert set(di["groups"]) == {"region", "age_band"}
    assert "sex" in di["unavailable"] and "SSN" in di["unavailable"]["sex"]
    assert {r["label"]: r["population"] for r in di["groups"]["region"]} == {
        "Illinois": 1, "Texas": 1}
    assert di["missing"] == {"region": 1, "age_band": 0}
    bands = {r["label"]: r["current"]["listed"] for r in di["groups"]["age_band"]}
    assert bands == {"25-34": 1, "65+": 0, "35-44": 0}


def test_state_of_address() -> None:
    assert state_of_address("1 Main St, Springfield, IL 62701") == "IL"
    assert state_of_address("1 MAIN ST SPRINGFIELD IL 62701-1234") == "IL"
    assert state_of_address("1 Main St, Springfield, ZZ 62701") is None
    assert state_of_address("Springfield") is None and state_of_address(None) is None


def test_a_subject_sends_information_over_http_and_the_deadline_moves_once(
        us: Registry, tmp_path: Path) -> None:
    """``POST /v1/me/disputes/{id}/information`` with the session's CSRF token."""
    import httpx

    from conftest import last_code, trust_channel
    from servers import running

    phone = "+13125550143"
    furnish(us, tmp_path, "bank-chase", "lender", [tradeline(
        "b1", DEBTOR, "JPM-1", "2026-02-01", 120, "2025-10-04", phone=phone)])
    trust_channel(us, "123456789", phone)
    with running(us) as base, httpx.Client(base_url=base) as c:
        r = c.post("/v1/me/sign-in", json={"national_id": DEBTOR, "phone": phone})
        assert r.status_code == 202, r.text
        r = c.post("/v1/me/session", json={"national_id": DEBTOR, "phone": phone,
                                           "code": last_code(us.settings.notices_dir)})
        assert r.status_code == 200, r.text
        csrf = {"X-CSRF-Token": r.json()["csrf"]}
        record = c.get("/v1/me/file").json()["records"][0]["id"]
        page = c.get("/me", headers={"Accept-Language": "en"})
        assert page.status_code == 200 and "JPM-1" in page.text
        d = c.post("/v1/me/disputes", json={"record_id": record, "reason": "paid"},
                   headers=csrf).json()
        url = f"/v1/me/disputes/{d['id']}/information"
        assert c.post(url, json={"text": "receipt"}).status_code == 403  # no CSRF token
        first = c.post(url, json={"text": "receipt"}, headers=csrf)
        assert first.status_code == 200, first.text
        due = dt.date.fromisoformat(d["due_on"])
        assert first.json() == {"dispute_id": d["id"], "previous_due_on": d["due_on"],
                                "due_on": (due + dt.timedelta(days=15)).isoformat(),
                                "extended": True}
        second = c.post(url, json={"text": "more"}, headers=csrf).json()
        assert (second["extended"], second["due_on"]) == (False, first.json()["due_on"])
        assert c.post("/v1/me/disputes/999999/information", json={"text": "x"},
                      headers=csrf).status_code == 404


def test_a_policy_written_before_demographics_loads_with_no_groups_it_cannot_read(
        tmp_path: Path) -> None:
    """A policy of another scheme that names no demographics (written before they could be
    named) loads with every group ``none``; one that names the ID as their source is refused."""
    import yaml

    from socialcredit.errors import ConfigError
    from socialcredit.policy.model import load_policy
    from socialcredit.settings import DEFAULT_POLICY_PATH

    data = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    data["identity"]["national_id"] = {"scheme": "us.ssn", "label": "SSN"}
    data["identity"].pop("demographics", None)
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    groups = load_policy(path).identity.demographics
    assert (groups.region, groups.age, groups.sex) == ("none", "none", "none")
    assert "us.ssn" in groups.note
    data["identity"]["demographics"] = {"region": "national_id"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="only a cn.ric ID embeds"):
        load_policy(path)
