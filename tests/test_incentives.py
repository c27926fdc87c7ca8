"""Red lists and joint incentives (issue #13, item 4): an A-grade taxpayer's entry earns
benefits at the gate, with their legal basis, is shown on the public search and in the file,
and is suspended — at every reader, with no ledger event — while the same organisation holds
a live sanctioned entry; the validator refuses a policy whose red list would rest on a
blacklist's finding. Through ingest, evaluation, the gate (single and batch), the public
search, the subject file, ``audit replay`` and the what-if, on a real SQLite file and
PostgreSQL. USCCs are made checksum-valid by python-stdnum (:func:`make_uscc`)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import ValidationError
from sqlalchemy import select

from conftest import TODAY, furnish
from socialcredit.api.registry import Registry
from socialcredit.disclosure.notices import project_notices
from socialcredit.disclosure.public import search_public
from socialcredit.disclosure.subject_file import subject_file
from socialcredit.gate import DecisionService
from socialcredit.policy.model import Policy
from socialcredit.reports.whatif import what_if
from socialcredit.settings import DEFAULT_POLICY_PATH
from socialcredit.store.replay import replay
from socialcredit.store.tables import events, list_entries, notices, subjects
from test_organisations import make_uscc

ACME = make_uscc(code="MA01X2Y3K")
NAME = "北京华为技术有限公司"
CASE = "(2026)京01执200号"
DATA = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))


def _rating(rid: str, day: str, grade: str, year: int = 2025) -> dict[str, Any]:
    return {"furnisher_record_id": rid, "kind": "tax_credit_rating", "occurred_at": day,
            "organisation_id": ACME, "name": NAME, "rating_year": year, "grade": grade}


def _finding() -> dict[str, Any]:
    return {"furnisher_record_id": "c1", "kind": "dishonesty_finding",
            "occurred_at": "2026-05-01", "organisation_id": ACME, "name": NAME,
            "case_number": CASE, "ground": 1, "amount_minor": 1_000_000, "currency": "CNY"}


def _entries(reg: Registry) -> dict[str, Any]:
    with reg.store.read() as conn:
        return {r.list: r for r in conn.execute(select(list_entries))}


def _org(reg: Registry) -> Any:
    with reg.store.read() as conn:
        return conn.execute(select(subjects).where(subjects.c.organisation_id == ACME)).one()


def _problems(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as e:
        Policy.model_validate(data)
    return str(e.value)


@pytest.fixture
def rated(registry: Registry, tmp_path: Path) -> Registry:
    furnish(registry, tmp_path, "tax-bj", "regulator", [_rating("t1", "2026-04-15", "A")])
    return registry


def _decide(reg: Registry, service: str) -> dict[str, Any]:
    reg.gate_index.refresh()  # as a serving gate's ledger follower does
    return DecisionService(reg.gate_index, today=TODAY).decide(
        service=service, organisation_id=ACME.lower()).as_dict()


def test_an_a_grade_taxpayer_earns_benefits_with_their_legal_basis(rated: Registry) -> None:
    org = _org(rated)
    red = _entries(rated)["a_grade_taxpayers"]
    # twelve months, the start day not counted (Civil Code art. 201): the last day is
    # 2027-04-15, so ``until`` (exclusive) is the day after
    assert (red.subject_id, red.status, red.since, red.until, red.key) == (
        org.id, "active", "2026-04-15", "2027-04-16", "2025")
    permits = _decide(rated, "permits")
    assert permits["decision"] == "allow" and permits["reasons"] == []
    assert [b["benefit"] for b in permits["benefits"]] == ["green_channel",
                                                           "simplified_approval"]
    first = permits["benefits"][0]
    assert "Guo Fa [2016] No. 33, Part II(2)" in first["legal_basis"]
    assert (first["entry_id"], first["furnisher"], first["text"]) == (
        red.id, "tax-bj", "Green channel (priority handling)")
    credit = _decide(rated, "credit")
    assert [b["benefit"] for b in credit["benefits"]] == ["simplified_approval",
                                                          "deposit_waived"]
    assert _decide(rated, "air")["benefits"] == []  # no incentive names flights
    # the batch path gives the same benefits, by the vectorised index
    (batch,) = DecisionService(rated.gate_index, today=TODAY).decide_batch(
        service="permits", people=[{"organisation_id": ACME}])
    assert not isinstance(batch, Exception)
    assert [b["benefit"] for b in batch.benefits] == ["green_channel", "simplified_approval"]
    # public: the red list is searchable, with what it earns
    (hit,), total = search_public(rated.store, rated.policy, ACME, today=TODAY)
    assert (total, hit["list"], hit["effect"], hit["organisation_id"]) == (
        1, "a_grade_taxpayers", "incentive", ACME)
    assert {(b["service"], b["benefit"]) for b in hit["benefits"]} == {
        ("permits", "green_channel"), ("permits", "simplified_approval"),
        ("credit", "simplified_approval"), ("credit", "deposit_waived")}
    assert hit["ground"] is None and hit["case_number"] is None
    mine = subject_file(rated.store, rated.policy, org.id, reader="operator")
    (entry,) = mine["entries"]
    assert (entry["effect"], entry["suspended_by"], entry["sanctions"]) == (
        "incentive", [], {})
    assert [b["benefit"] for b in entry["benefits"]["permits"]] == ["green_channel",
                                                                    "simplified_approval"]


def test_a_sanction_suspends_every_benefit_until_it_ends(rated: Registry,
                                                         tmp_path: Path) -> None:
    furnish(rated, tmp_path, "court-bj", "court", [_finding()])
    org, entries = _org(rated), _entries(rated)
    red, black = entries["a_grade_taxpayers"], entries["dishonest_judgment_debtors"]
    assert (red.status, black.status) == ("active", "active")  # the red entry is kept as is
    with rated.store.read() as conn:
        seen = conn.execute(select(events.c.seq)).all()
    # no benefit while the sanction is live: not where it refuses (credit), not elsewhere
    credit = _decide(rated, "credit")
    assert credit["decision"] == "deny" and credit["benefits"] == []
    permits = _decide(rated, "permits")
    assert (permits["decision"], permits["benefits"]) == ("allow", [])
    (batch,) = DecisionService(rated.gate_index, today=TODAY).decide_batch(
        service="permits", people=[{"organisation_id": ACME}])
    assert not isinstance(batch, Exception) and batch.benefits == []
    # the public platform never presents a sanctioned subject as honoured
    results, _ = search_public(rated.store, rated.policy, ACME, today=TODAY)
    assert [r["list"] for r in results] == ["dishonest_judgment_debtors"]
    assert results[0]["effect"] == "sanction"
    file = {e["list"]: e for e in subject_file(rated.store, rated.policy, org.id,
                                               reader="operator")["entries"]}
    assert file["a_grade_taxpayers"]["suspended_by"] == [black.id]
    assert file["dishonest_judgment_debtors"]["suspended_by"] == []
    # full performance ends the sanction: the benefits return with no event of their own
    furnish(rated, tmp_path, "court-bj", "court", [
        {"furnisher_record_id": "c2", "kind": "judgment_performance",
         "occurred_at": "2026-06-01", "organisation_id": ACME, "case_number": CASE,
         "amount_minor": 1_000_000, "currency": "CNY", "full": True}])
    with rated.store.read() as conn:
        new = conn.execute(select(events.c.type, events.c.payload).where(
            events.c.seq > max(s for (s,) in seen))).all()
    ended = [json.loads(p) for t, p in new if t.startswith("entry.")]
    assert [e.get("list") for e in ended] == ["dishonest_judgment_debtors"]
    assert _entries(rated)["a_grade_taxpayers"].id == red.id
    assert [b["benefit"] for b in _decide(rated, "permits")["benefits"]] == [
        "green_channel", "simplified_approval"]
    (hit,), _ = search_public(rated.store, rated.policy, ACME, today=TODAY)
    assert hit["list"] == "a_grade_taxpayers"
    assert replay(rated.store, list_public={n: s.public for n, s in rated.policy.lists.items()}
                  ).first_difference is None


def test_a_re_rating_of_the_year_to_a_lower_grade_ends_the_entry(rated: Registry,
                                                                 tmp_path: Path) -> None:
    furnish(rated, tmp_path, "tax-bj", "regulator", [_rating("t2", "2026-05-20", "B")])
    project_notices(rated.store, rated.policy, now=dt.datetime(2026, 6, 30, tzinfo=dt.UTC))
    with rated.store.read() as conn:
        told = {n.kind: json.loads(n.body) for n in conn.execute(select(notices))}
    assert told["listing"]["title"].startswith("You were added to a red list")
    assert "refuses you nothing" in told["listing"]["text"]
    assert "Green channel (priority handling) (permits)" in told["listing"]["text"]
    assert told["removal"]["text"].endswith("Its benefits end.")
    red = _entries(rated)["a_grade_taxpayers"]
    assert (red.status, red.ended_on, red.end_reason) == ("removed", "2026-05-20", "downgraded")
    assert _decide(rated, "permits")["benefits"] == []
    assert search_public(rated.store, rated.policy, ACME, today=TODAY)[1] == 0


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_the_what_if_counts_benefits_with_the_precedence(rated: Registry, tmp_path: Path,
                                                          engine: str) -> None:
    furnish(rated, tmp_path, "court-bj", "court", [_finding()])
    # NEW drops the dishonest list's sanctions: the red entry is no longer suspended
    data = copy.deepcopy(DATA)
    data["sanctions"] = [s for s in data["sanctions"]
                         if s["list"] != "dishonest_judgment_debtors"]
    new = Policy.model_validate(data)
    report = what_if(rated.store, new, rated.policy, TODAY, engine=engine)  # type: ignore[arg-type]
    benefits = report["benefits"]
    assert benefits["suspended"] == {"current": 1, "new": 0}
    assert benefits["by_benefit"]["permits:green_channel"] == {
        "subjects": {"current": 0, "new": 1}, "new_only": 1, "current_only": 0}
    assert set(benefits["by_benefit"]) == {"permits:green_channel",
                                           "permits:simplified_approval",
                                           "credit:simplified_approval",
                                           "credit:deposit_waived"}


# --- the validator: no policy may refuse and benefit on the same finding ----------------------
def _with(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(DATA)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = data
        for p in parents:
            node = node[p]
        node[last] = value
    return data


def test_a_red_list_on_a_blacklists_finding_is_refused_with_its_reason() -> None:
    # a red list of every rating, beside a blacklist of grade-D ratings: one D record would
    # refuse and benefit
    data = _with(lists__d_grade={
        "title": "D-grade taxpayers", "legal_basis": "a test blacklist", "period_years": 1,
        "trigger": {"kind": "tax_credit_rating", "key": "rating_year", "when": {"grade": "D"}}})
    data["sanctions"].append({"list": "d_grade", "services": ["permits"],
                              "legal_basis": "a test sanction"})
    ok = copy.deepcopy(data)
    Policy.model_validate(ok)  # grade A against grade D: exclusive, accepted
    data["lists"]["a_grade_taxpayers"]["trigger"]["when"] = {"grade": ["A", "D"]}
    why = _problems(data)
    assert "lists.a_grade_taxpayers: overlaps the sanctioned list 'd_grade'" in why
    assert "tax_credit_rating record can meet both" in why
    data["lists"]["a_grade_taxpayers"]["trigger"]["when"] = {}
    assert "overlaps the sanctioned list 'd_grade'" in _problems(data)


def test_one_list_that_would_refuse_and_benefit_is_refused() -> None:
    data = _with()
    data["sanctions"].append({"list": "a_grade_taxpayers", "services": ["air"],
                              "legal_basis": "a test sanction"})
    assert "a sanction on it would refuse and benefit" in _problems(data)
    data = _with()
    data["incentives"].append({"list": "dishonest_judgment_debtors",
                               "benefits": {"permits": ["green_channel"]},
                               "legal_basis": "a test incentive"})
    assert "has effect sanction: only a red list" in _problems(data)


def test_other_bad_incentives_are_named_with_their_path() -> None:
    data = _with()
    data["incentives"][0]["benefits"] = {"permits": ["free_lunch"], "yachts": ["green_channel"]}
    why = _problems(data)
    assert "incentives.0.benefits.permits: unknown benefit(s) 'free_lunch'" in why
    assert "incentives.0.benefits.yachts: unknown service 'yachts'" in why
    data = _with()
    data["lists"]["a_grade_taxpayers"]["warning_days"] = 30
    assert "no warning period" in _problems(data)
    data = _with()
    data["incentives"][0]["benefits"] = {"permits": []}
    assert "no benefit named for permits" in _problems(data)
    data = _with()
    data["lists"]["restricted_representatives"]["represents"]["list"] = "a_grade_taxpayers"
    assert ("lists.restricted_representatives.represents.list: 'a_grade_taxpayers' is a red "
            "list") in _problems(data)
    data = _with()
    data["lists"]["a_grade_taxpayers"].update(
        trigger=None, removal=[], public_fields=["since"],
        rating={"kind": "tax_credit_rating", "field": "rating_year", "window": 2,
                "min_count": 1, "below": 2020})
    assert "a red list is fed by a trigger, criteria or score rule, not rating" in _problems(
        data)


def test_exclusive_conditions() -> None:
    from socialcredit.policy.model.base import Range
    from socialcredit.policy.model.incentives import exclusive

    assert exclusive({"grade": "A"}, {"grade": ["C", "D"]})
    assert not exclusive({"grade": "A"}, {"grade": ["A", "D"]})
    assert not exclusive({"grade": "A"}, {"other": "A"})  # different fields: both can hold
    assert exclusive({"d": Range(at_least=90)}, {"d": Range(below=90)})
    assert not exclusive({"d": Range(at_least=0)}, {"d": Range(below=90)})
    assert exclusive({"d": 100}, {"d": Range(below=90)})
    assert not exclusive({"d": [10, 100]}, {"d": Range(below=90)})


def test_over_http_an_allow_carries_benefits_and_the_page_shows_the_red_list(
        rated: Registry) -> None:
    from servers import running
    from socialcredit.api.keys import add_gate

    key = add_gate(rated.store, rated.policy, name="permits-bj", services=["permits"])
    with running(rated) as base, httpx.Client(base_url=base, timeout=20) as client:
        r = client.post("/v1/decisions", json={"service": "permits", "organisation_id": ACME},
                        headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["decision"] == "allow"
        assert [(b["benefit"], b["list"]) for b in body["benefits"]] == [
            ("green_channel", "a_grade_taxpayers"), ("simplified_approval", "a_grade_taxpayers")]
        bad = client.post("/v1/decisions", json={"service": "permits",
                                                 "organisation_id": ACME[:17] + "0"
                                                 if ACME[17] != "0" else ACME[:17] + "1"},
                          headers={"Authorization": f"Bearer {key}"})
        assert bad.status_code == 400 and "check character" in bad.text
        (entry,) = client.get("/v1/public/entries", params={"q": ACME}).json()["data"]
        assert (entry["list"], entry["effect"]) == ("a_grade_taxpayers", "incentive")
        assert {"service": "permits", "benefit": "green_channel",
                "text": "Green channel (priority handling)"} in entry["benefits"]
        zh = client.get("/", params={"q": ACME}, headers={"Accept-Language": "zh-CN"})
        assert "纳税信用A级纳税人" in zh.text and "红名单：不限制任何服务。激励措施：" in zh.text
        assert "绿色通道（优先办理）" in zh.text


def test_policy_validate_names_the_file_line_and_reason_of_an_overlap(tmp_path: Path) -> None:
    """``socialcredit policy validate`` on a policy whose red list takes every rating while a
    sanctioned list takes the D grades: refused (exit 1) with the list's YAML path and line,
    so no sanction or benefit ever rests on it."""
    from test_cli import run

    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    old = "    trigger: {kind: tax_credit_rating, key: rating_year, when: {grade: A}}\n"
    assert old in text
    text = text.replace(old, "    trigger: {kind: tax_credit_rating, key: rating_year}\n")
    text = text.replace("\nsanctions:\n", """
  d_grade_taxpayers:
    title: D-grade taxpayers
    legal_basis: a test blacklist
    trigger: {kind: tax_credit_rating, key: rating_year, when: {grade: D}}
    period_years: 1

sanctions:
  - list: d_grade_taxpayers
    services: [permits]
    legal_basis: a test sanction
""", 1)
    bad = tmp_path / "overlap.yaml"
    bad.write_text(text, encoding="utf-8")
    line = text.splitlines().index("  a_grade_taxpayers:") + 1
    r = run(tmp_path, "policy", "validate", str(bad), "--json")
    assert r.returncode == 1, r.stderr
    (problem,) = json.loads(r.stdout)["problems"]
    assert (problem["path"], problem["line"]) == ("lists.a_grade_taxpayers", line)
    assert problem["reason"].startswith("overlaps the sanctioned list 'd_grade_taxpayers': a "
                                        "tax_credit_rating record can meet both")


def test_an_offline_snapshot_carries_benefits_and_refuses_a_listed_enterprise(
        rated: Registry, tmp_path: Path) -> None:
    """The gate index keys organisations by their code; an offline snapshot takes those keys
    as it takes a person's, with (format version 2) the benefits the online gate names, and
    none once the enterprise is listed (precedence)."""
    from socialcredit.api.keys import add_gate
    from socialcredit.gate.offline import export_gate_snapshot, signing_key
    from socialcredit.gate.snapshot import SnapshotReader

    add_gate(rated.store, rated.policy, name="bank-bj", services=["credit", "permits"])
    keys = tmp_path / "keys"
    _, key_path = export_gate_snapshot(rated.store, rated.policy, keys, gate="bank-bj",
                                       out=tmp_path / "a.snap")
    reader = SnapshotReader(tmp_path / "a.snap", gate_key=key_path.read_bytes(),
                            public_key=signing_key(keys).public_key())
    assert reader.check(f"organisation_id:{ACME}", "credit", on=TODAY) is None  # red only
    online = _decide(rated, "permits")["benefits"]
    offline = reader.benefits(f"organisation_id:{ACME}", "permits", on=TODAY)
    assert [(b["benefit"], b["entry_id"], b["legal_basis"], b["until"]) for b in offline] == [
        (b["benefit"], b["entry_id"], b["legal_basis"], b["until"]) for b in online]
    assert len(offline) == 2
    furnish(rated, tmp_path, "court-bj", "court", [_finding()])
    export_gate_snapshot(rated.store, rated.policy, keys, gate="bank-bj",
                         out=tmp_path / "b.snap")
    reader = SnapshotReader(tmp_path / "b.snap", gate_key=key_path.read_bytes(),
                            public_key=signing_key(keys).public_key())
    hit = reader.check(f"organisation_id:{ACME}", "credit", on=TODAY)
    assert hit is not None and hit.entry_ids == (_entries(rated)["dishonest_judgment_debtors"].id,)
    assert reader.check(f"organisation_id:{ACME}", "permits", on=TODAY) is None
    # listed: the online gate suspends its benefits, and so does the snapshot
    assert _decide(rated, "permits")["benefits"] == []
    assert reader.benefits(f"organisation_id:{ACME}", "permits", on=TODAY) == []


def test_the_check_command_answers_an_organisation_with_its_benefits(
        rated: Registry, db_url: str, tmp_path: Path) -> None:
    from test_cli import run

    r = run(tmp_path, "check", "--service", "permits", "--organisation-id", ACME,
            "--as-of", TODAY.isoformat(), db=db_url)
    assert r.returncode == 0, r.stderr
    assert "benefit green_channel (a_grade_taxpayers entry" in r.stdout
    assert "Guo Fa [2016] No. 33, Part II(2)" in r.stdout
    r = run(tmp_path, "check", "--service", "permits", "--organisation-id", ACME,
            "--as-of", TODAY.isoformat(), "--json", db=db_url)
    assert [b["benefit"] for b in json.loads(r.stdout)["benefits"]] == [
        "green_channel", "simplified_approval"]
