"""Faults a review of issue #13 found in the enterprise rules, each through the gate, the
public search or the file, on a real SQLite file and PostgreSQL: retention of a relation still
in force, a representative named in the enterprise's own case, a representative of an
unregistered enterprise, a representative's repair, and search by an enterprise's code."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select

from conftest import TODAY, furnish, make_id
from socialcredit.api.keys import add_gate, authenticate
from socialcredit.api.registry import Registry
from socialcredit.disclosure.public import search_public
from socialcredit.disclosure.retention import run_retention
from socialcredit.gate import DecisionService
from socialcredit.store.tables import list_entries, records, subjects
from test_organisations import ACME, CASE, NAME, REP_A, REP_B, _finding, _regulator_rows

REP_OLD = make_id(birth="19660606", seq=44)


def _deny(reg: Registry, national_id: str) -> str:
    """The air gate's decision for ``national_id`` on TODAY, from the refreshed index."""
    reg.gate_index.refresh()  # as a serving gate's ledger follower does
    _deny.n = getattr(_deny, "n", 0) + 1  # type: ignore[attr-defined]
    gate = authenticate(reg.store, add_gate(reg.store, reg.policy,
                                            name=f"air-{_deny.n}",  # type: ignore[attr-defined]
                                            services=["air"]))
    return DecisionService(reg.gate_index, today=TODAY).decide(
        service="air", national_id=national_id, gate=gate).decision


def _status(reg: Registry, national_id: str) -> dict[str, Any]:
    with reg.store.read() as conn:
        sid = conn.execute(select(subjects.c.id).where(
            subjects.c.national_id == national_id)).scalar_one()
        return {(r.list, r.key): r for r in conn.execute(
            select(list_entries).where(list_entries.c.subject_id == sid))}


# --- 1. retention counts from the end of a relation still in force ------------------------------
def test_retention_keeps_a_relation_in_force_and_retires_one_ended_long_ago(
        registry: Registry, tmp_path: Path) -> None:
    base = {"organisation_id": ACME, "name": NAME}
    furnish(registry, tmp_path, "samr-bj", "regulator", [*_regulator_rows(), *[
        {**base, "furnisher_record_id": "o1", "kind": "representative_appointed",
         "occurred_at": "2015-05-01", "role": "main_responsible_person",
         "representative_id": REP_OLD},
        {**base, "furnisher_record_id": "o2", "kind": "representative_ended",
         "occurred_at": "2016-05-01", "role": "main_responsible_person",
         "representative_id": REP_OLD}]])
    furnish(registry, tmp_path, "court-bj", "court", [_finding()])
    assert _deny(registry, REP_A) == "deny"
    # the 2015 appointment of the current legal representative is 11 years old
    run_retention(registry.store, registry.policy, today=TODAY)
    with registry.store.read() as conn:
        status = {r.furnisher_record_id: r.status for r in conn.execute(select(records))}
    assert status["r1"] == status["r2"] == status["r3"] == "active"
    assert status["o1"] == status["o2"] == "retired"  # ended 2016: past five years
    assert _deny(registry, REP_A) == "deny" and _deny(registry, REP_B) == "deny"
    (hit,) = search_public(registry.store, registry.policy, ACME, today=TODAY)[0]
    assert hit["legal_representative"] == "张伟"
    # once the enterprise is deregistered, its registration retires five years later
    furnish(registry, tmp_path, "samr-bj", "regulator", [
        {**base, "furnisher_record_id": "s1", "kind": "organisation_status",
         "occurred_at": "2026-06-01", "status": "deregistered"}])
    run_retention(registry.store, registry.policy, today=TODAY + dt.timedelta(days=1826))
    with registry.store.read() as conn:
        status = {r.furnisher_record_id: r.status for r in conn.execute(select(records))}
    assert status["r1"] == status["r2"] == "retired"


# --- 2. the representative is never listed for the enterprise's case ---------------------------
def _own_finding(rid: str = "p1", day: str = "2026-02-01") -> dict[str, Any]:
    return {"furnisher_record_id": rid, "kind": "dishonesty_finding", "occurred_at": day,
            "national_id": REP_A, "name": "张伟", "case_number": CASE, "ground": 1,
            "amount_minor": 5_000_000_00, "currency": "CNY"}


def _paid(reg: Registry, tmp_path: Path) -> None:
    furnish(reg, tmp_path, "court-bj", "court", [
        {"furnisher_record_id": "c2", "kind": "judgment_performance",
         "occurred_at": "2026-06-01", "organisation_id": ACME, "case_number": CASE,
         "amount_minor": 5_000_000_00, "currency": "CNY", "full": True}])


def test_a_finding_naming_the_representative_in_the_enterprises_case_lists_nobody(
        registry: Registry, tmp_path: Path) -> None:
    furnish(registry, tmp_path, "samr-bj", "regulator", _regulator_rows())
    furnish(registry, tmp_path, "court-bj", "court", [_finding(), _own_finding()])
    mine = _status(registry, REP_A)
    assert ("dishonest_judgment_debtors", CASE) not in mine  # never listed itself
    assert {k[0] for k, r in mine.items() if r.status == "active"} == {
        "restricted_representatives"}
    assert _deny(registry, REP_A) == "deny"
    _paid(registry, tmp_path)  # the enterprise performs: the restriction ends with the case
    assert _deny(registry, REP_A) == "allow"
    assert not [r for r in _status(registry, REP_A).values() if r.status == "active"]


def test_a_representative_listed_before_the_enterprise_is_delisted_when_it_is(
        registry: Registry, tmp_path: Path) -> None:
    furnish(registry, tmp_path, "samr-bj", "regulator", _regulator_rows())
    furnish(registry, tmp_path, "court-bj", "court", [_own_finding()])
    assert _status(registry, REP_A)[("dishonest_judgment_debtors", CASE)].status == "active"
    furnish(registry, tmp_path, "court-bj", "court", [_finding()])
    own = _status(registry, REP_A)[("dishonest_judgment_debtors", CASE)]
    assert (own.status, own.end_reason) == ("removed", "exempt:represents_organisation")
    _paid(registry, tmp_path)
    assert _deny(registry, REP_A) == "allow"
    assert _status(registry, REP_A)[("dishonest_judgment_debtors", CASE)].status == "removed"


# --- 3. a representative of an enterprise never registered -------------------------------------
def test_a_representative_of_an_unregistered_enterprise_is_quarantined_and_restricts_no_one(
        registry: Registry, tmp_path: Path) -> None:
    from conftest import write_csv
    from socialcredit.api.keys import add_furnisher, furnisher_id
    from socialcredit.ingest.pipeline import ingest_file

    add_furnisher(registry.store, name="samr-bj", kind="regulator")
    rows = [{**r, "kind": "representative_appointed"} for r in _regulator_rows()[1:2]]
    result = ingest_file(registry.store, registry.policy, furnisher_id=furnisher_id(
        registry.store, "samr-bj"), path=write_csv(tmp_path / "reps.csv", rows), as_of=TODAY)
    assert (result.accepted, result.rejected) == (0, 1)
    (problem,) = result.problems
    assert problem["field"] == "organisation_id" and "unknown organisation" in problem["reason"]
    assert ACME in problem["reason"] and "organisation_registered" in problem["reason"]
    furnish(registry, tmp_path, "court-bj", "court", [_finding()])  # the enterprise is listed
    assert _deny(registry, REP_A) == "allow"  # no restriction rests on the refused row
    # registered first (in the same file), its representative is taken
    furnish(registry, tmp_path, "samr-bj", "regulator", _regulator_rows())
    assert _deny(registry, REP_A) == "deny"


# --- 4. a representative's restriction follows the enterprise's tier and repair ----------------
def test_a_representatives_restriction_takes_the_enterprises_tier_and_is_not_repaired_alone(
        registry: Registry, tmp_path: Path) -> None:
    import pytest

    from socialcredit.disclosure.repairs import apply_for_repair, decide_repair
    from socialcredit.disclosure.subject_file import subject_file
    from socialcredit.errors import Conflict

    furnish(registry, tmp_path, "samr-bj", "regulator", _regulator_rows())
    furnish(registry, tmp_path, "court-bj", "court", [_finding()])
    with registry.store.read() as conn:
        org, person = (conn.execute(select(subjects.c.id).where(w)).scalar_one() for w in (
            subjects.c.organisation_id == ACME, subjects.c.national_id == REP_A))
    (theirs,) = subject_file(registry.store, registry.policy, org)["entries"]
    (mine,) = subject_file(registry.store, registry.policy, person)["entries"]
    assert theirs["tier"]["tier"] == "general"  # ground 1
    assert mine["tier"]["tier"] == theirs["tier"]["tier"]
    assert mine["tier"]["follows_organisation"] is True
    now = dt.datetime(2026, 6, 30, 4, tzinfo=dt.UTC)
    with pytest.raises(Conflict) as e:
        apply_for_repair(registry.store, subject_id=person, entry_id=mine["id"],
                         condition="performance", evidence="receipt", now=now,
                         policy=registry.policy)
    assert e.value.details["reason"] == "follows_organisation"
    assert e.value.details["organisation_entry_id"] == theirs["id"]
    assert e.value.details["repair_from"] == theirs["tier"]["repair_from"]
    assert CASE in e.value.message
    # an application opened without the policy's checks is not granted either
    opened = apply_for_repair(registry.store, subject_id=person, entry_id=mine["id"],
                              condition="performance", evidence="receipt", now=now)
    with pytest.raises(Conflict):
        decide_repair(registry.store, registry.policy, operator="op", repair_id=opened["id"],
                      outcome="granted", now=now)
    assert _deny(registry, REP_A) == "deny"  # the enterprise is still listed


# --- 5. the public search finds an enterprise by any valid code --------------------------------
def test_public_search_finds_an_enterprise_by_a_code_of_digits_or_with_a_final_letter(
        registry: Registry, tmp_path: Path) -> None:
    from stdnum.cn import uscc

    codes = {}
    for n, body in enumerate(("91110000100000001", "91110000100000004")):
        codes[body + uscc.calc_check_digit(body)] = f"北京第{n}贸易有限公司"
    assert {c[-1].isdigit() for c in codes} == {True, False}  # one all digits, one not
    furnish(registry, tmp_path, "samr-bj", "regulator", [
        {"furnisher_record_id": f"r{c}", "kind": "organisation_registered",
         "occurred_at": "2015-03-01", "organisation_id": c, "name": name}
        for c, name in codes.items()])
    furnish(registry, tmp_path, "court-bj", "court", [
        {**_finding(), "furnisher_record_id": f"c{c}", "organisation_id": c, "name": name,
         "case_number": f"{CASE}-{c}"} for c, name in codes.items()])
    for code, name in codes.items():
        for q in (code, code.lower(), f" {code[:8]} {code[8:]} "):
            results, total = search_public(registry.store, registry.policy, q, today=TODAY)
            assert total == 1, q
            assert (results[0]["organisation_id"], results[0]["name"]) == (code, name)
