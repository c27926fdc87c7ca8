"""Credit repair by severity tier (#13 item 5; NDRC Order No. 36, in force 2026-04-01): the
tier of every entry is in the policy and the file; no repair before the tier's shortest
publication period (a named refusal, nothing changed); an application is owed a decision by a
date; a granted repair ends publication, sanctions and what the what-if counts together.
Through ingest, evaluation, gate, public search, the file and the what-if, on SQLite and
PostgreSQL (``db_url`` through ``registry``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from conftest import TODAY, decide_on, make_id, subject_of, write_csv
from socialcredit.api.keys import add_furnisher, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.disclosure import search_public
from socialcredit.disclosure.repairs import apply_for_repair, decide_repair
from socialcredit.disclosure.subject_file import subject_file
from socialcredit.errors import RepairTooEarly
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.policy.model import Policy
from socialcredit.reports.whatif import evaluate_policy
from socialcredit.settings import DEFAULT_POLICY_PATH
from socialcredit.store.tables import repairs

GENERAL = make_id(region="440103", birth="19850317", seq=57)
SEVERE = make_id(region="440103", birth="19900101", seq=21)
FOUND = "2026-05-01"
#: three months from 2026-05-01, the start day not counted, run through 2026-08-01
GENERAL_FROM = dt.date(2026, 8, 2)


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(3, 0), tzinfo=dt.UTC)  # 11:00 in Beijing


@pytest.fixture
def tiered(registry: Registry, tmp_path: Path) -> Registry:
    add_furnisher(registry.store, name="court-a", kind="court")
    rows = [{"furnisher_record_id": f"A-{g}", "kind": "dishonesty_finding",
             "occurred_at": FOUND, "national_id": nid, "name": "陈静",
             "case_number": f"(2026)粤01执{g}号", "ground": g, "amount_minor": 50_000_00,
             "currency": "CNY"} for nid, g in ((GENERAL, 1), (SEVERE, 2))]
    assert ingest_file(registry.store, registry.policy, as_of=TODAY,
                       furnisher_id=furnisher_id(registry.store, "court-a"),
                       path=write_csv(tmp_path / "a.csv", rows)).accepted == 2
    return registry


def test_no_repair_before_the_tiers_shortest_period_and_a_grant_ends_everything(
        tiered: Registry) -> None:
    reg = tiered
    sid, severe = subject_of(reg, GENERAL), subject_of(reg, SEVERE)
    (entry,) = subject_file(reg.store, reg.policy, sid)["entries"]
    (heavy,) = subject_file(reg.store, reg.policy, severe)["entries"]
    # the file shows each entry's tier and the first day repair may be granted
    assert (entry["tier"]["tier"], entry["tier"]["min_months"], entry["tier"]["repair_from"]
            ) == ("general", 3, GENERAL_FROM.isoformat())
    assert "Order No. 36" in entry["tier"]["legal_basis"]
    assert (heavy["tier"]["tier"], heavy["tier"]["repair_from"]) == ("severe", "2027-05-02")

    # too early: refused with the reason and the day, and nothing is recorded
    with pytest.raises(RepairTooEarly, match="general case: repair may be granted from "
                                             "2026-08-02") as err:
        apply_for_repair(reg.store, subject_id=sid, entry_id=entry["id"],
                         condition="performance", evidence="paid in full", now=_at(TODAY),
                         policy=reg.policy)
    assert err.value.details["repair_from"] == "2026-08-02"
    with reg.store.read() as conn:
        assert conn.execute(select(repairs)).all() == []
    last_day = GENERAL_FROM - dt.timedelta(days=1)
    with pytest.raises(RepairTooEarly):
        apply_for_repair(reg.store, subject_id=sid, entry_id=entry["id"],
                         condition="performance", evidence="paid", now=_at(last_day),
                         policy=reg.policy)
    with pytest.raises(RepairTooEarly, match="severe case"):
        apply_for_repair(reg.store, subject_id=severe, entry_id=heavy["id"],
                         condition="performance", evidence="paid", now=_at(GENERAL_FROM),
                         policy=reg.policy)

    # on the first day it may: accepted, with its evidence and a decision deadline
    app = apply_for_repair(reg.store, subject_id=sid, entry_id=entry["id"],
                           condition="performance", evidence="bank receipt 2026-07-30",
                           now=_at(GENERAL_FROM), policy=reg.policy)
    assert app["decide_by"] == "2026-08-12"
    (mine,) = subject_file(reg.store, reg.policy, sid)["repairs"]
    assert (mine["evidence"], mine["decide_by"]) == ("bank receipt 2026-07-30", "2026-08-12")
    assert decide_on(reg, GENERAL, GENERAL_FROM) == "deny"
    assert search_public(reg.store, reg.policy, "陈静", today=GENERAL_FROM)[1] == 2

    decide_repair(reg.store, reg.policy, operator="ops", repair_id=app["id"],
                  outcome="granted", note="receipt checked", now=_at(GENERAL_FROM))
    # publication, sanctions and the file end together; the severe entry stays
    assert decide_on(reg, GENERAL, GENERAL_FROM) == "allow"
    assert decide_on(reg, SEVERE, GENERAL_FROM) == "deny"
    found, total = search_public(reg.store, reg.policy, "陈静", today=GENERAL_FROM)
    assert total == 1 and found[0]["case_number"] == "(2026)粤01执2号"
    (ended,) = subject_file(reg.store, reg.policy, sid)["entries"]
    assert (ended["status"], ended["end_reason"], ended["ended_on"]) == (
        "removed", "repair:performance", GENERAL_FROM.isoformat())
    # the what-if reads the granted repair as the registry does
    (outcome,) = evaluate_policy(reg.store, [reg.policy], GENERAL_FROM, engine="python")
    assert sorted((e.subject_id, e.status) for e in outcome.entries) == sorted(
        [(sid, "removed"), (severe, "active")])


def test_every_entry_of_the_shipped_policy_has_a_tier_and_bad_tiers_are_refused() -> None:
    data = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    assert Policy.model_validate(data).warnings() == []
    data["lists"]["unruly_passengers"].pop("severity_tier")
    assert ("lists.unruly_passengers.severity_tier" in
            dict(Policy.model_validate(data).warnings()))
    data["lists"]["dishonest_judgment_debtors"]["public_display"][0]["tier"] = "serious"
    with pytest.raises(ValueError, match="'serious' is not one of light, general, severe"):
        Policy.model_validate(data)
    data["lists"]["dishonest_judgment_debtors"]["public_display"][0]["tier"] = "severe"
    data["repair"]["tiers"]["general"]["min_months"] = 13
    with pytest.raises(ValueError, match="`min_months` is more than `max_months`"):
        Policy.model_validate(data)


def test_the_api_refuses_an_early_application_with_its_reason(db_url: str,
                                                              tmp_path: Path) -> None:
    """``POST /v1/me/repairs`` on a real server, by the signed-in subject: a severe entry
    found ten days ago (by the real clock, which the route reads) answers 400
    ``repair_too_early`` with the day repair becomes possible, and records nothing."""
    from socialcredit.settings import Settings

    reg = Registry(Settings(database_url=db_url, notices_dir=tmp_path / "notices",
                            keys_dir=tmp_path / "keys"), today=TODAY)
    reg.ensure_schema()
    try:
        _early_over_http(reg, tmp_path)
    finally:
        reg.close()


def _early_over_http(reg: Registry, tmp_path: Path) -> None:
    import httpx

    from conftest import subject_session, trust_channel
    from servers import running
    from socialcredit.api import create_app
    from socialcredit.api.due_process import COOKIE
    from socialcredit.policy.jurisdiction import local_today

    phone = "+8613800138000"
    found = local_today(reg.policy.jurisdiction) - dt.timedelta(days=10)
    add_furnisher(reg.store, name="court-a", kind="court")
    row = {"furnisher_record_id": "A-1", "kind": "dishonesty_finding",
           "occurred_at": found.isoformat(), "national_id": SEVERE, "name": "陈静",
           "case_number": "(2026)粤01执9号", "ground": 3, "amount_minor": 50_000_00,
           "currency": "CNY"}
    assert ingest_file(reg.store, reg.policy, as_of=found,
                       furnisher_id=furnisher_id(reg.store, "court-a"),
                       path=write_csv(tmp_path / "a.csv", [row])).accepted == 1
    trust_channel(reg, SEVERE, phone)
    session = subject_session(reg, SEVERE, phone)
    (entry,) = subject_file(reg.store, reg.policy, subject_of(reg, SEVERE))["entries"]
    with running(reg, app=create_app(registry=reg, role="all")) as base, httpx.Client(
            base_url=base, timeout=20, cookies={COOKIE: session.token}) as client:
        r = client.post("/v1/me/repairs", headers={"X-CSRF-Token": session.csrf},
                        json={"entry_id": entry["id"], "condition": "performance",
                              "evidence": "paid in full"})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "repair_too_early"
    assert error["details"]["repair_from"] == entry["tier"]["repair_from"] > found.isoformat()
    assert "severe case" in error["message"]
    with reg.store.read() as conn:
        assert conn.execute(select(repairs)).all() == []
