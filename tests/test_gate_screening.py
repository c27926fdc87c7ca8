"""The gate screens names with the screening service itself (issue 14, review findings 1-3):
an organisation's name against the lists' organisations, a person's name with the very
candidates, scores and thresholds of ``/v1/screen``, and an operator's clearance honoured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from conftest import TODAY, make_id
from servers import running
from socialcredit.api.keys import add_gate, add_operator, authenticate
from socialcredit.api.registry import Registry
from socialcredit.gate import DecisionService
from socialcredit.screening.cleared import clear_pair
from socialcredit.screening.index import ScreenQuery
from socialcredit.screening.lists import import_list
from socialcredit.screening.service import parse_query

CASE = Path(__file__).parent / "fixtures" / "sdn_concatenated"
#: a valid unified social credit code (USCC) of no listed organisation
ORG = "91350100M000100Y43"
STRANGER = make_id(seq=777)


@pytest.fixture
def listed(registry: Registry) -> Registry:
    import_list(registry.store, registry.policy, "ofac-sdn", CASE, as_of=TODAY)
    return registry


def test_an_organisations_name_is_screened_against_listed_organisations(
        listed: Registry) -> None:
    air = authenticate(listed.store, add_gate(listed.store, listed.policy, name="air",
                                              services=["air"]))
    decisions = DecisionService(listed.gate_index, today=TODAY)
    for name in ("JSC ARGUMENT", "JSCARGUMENT", "Argument JSC",
                 "Argument Joint Stock Company"):
        got = decisions.decide(service="air", organisation_id=ORG, name=name, gate=air)
        assert got.decision == "review", name
        assert got.reasons[0]["list"] == "ofac_sdn"
        assert got.reasons[0]["entry_id"] == "ofac_sdn:9001"
        assert got.reasons[0]["screened"]["name"] == "JSC ARGUMENT"
    # a person's name never matches for an organisation, nor an organisation's for a person
    for name in ("Ivan Petrov", "PETROV, Ivan Sergeyevich", "Zhang Wei", "Nothing Alike Ltd"):
        got = decisions.decide(service="air", organisation_id=ORG, name=name, gate=air)
        assert got.decision == "allow", name
    assert decisions.decide(service="air", national_id=STRANGER, name="JSC ARGUMENT",
                            gate=air).decision == "allow"
    batch = decisions.decide_batch(service="air", gate=air, people=[
        {"organisation_id": ORG, "name": "JSC ARGUMENT"},
        {"organisation_id": ORG, "name": "Ivan Petrov"},
        {"national_id": STRANGER, "name": "Ivan Petrov"}])
    assert [d.decision for d in batch] == ["review", "allow", "review"]  # type: ignore[union-attr]
    decisions.flush()  # a review without a gate subject is stored too


def test_an_organisations_name_reviews_over_http(listed: Registry) -> None:
    token = add_gate(listed.store, listed.policy, name="air", services=["air"])
    with running(listed) as base, httpx.Client(base_url=base, timeout=20) as client:
        r = client.post("/v1/decisions", headers={"Authorization": f"Bearer {token}"},
                        json={"service": "air", "organisation_id": ORG,
                              "name": "JSC ARGUMENT"})
        assert r.status_code == 200, r.text
        assert r.json()["decision"] == "review"


#: names the screen matches, through an alias, a weak alias, word order, a transliteration
SAME = ("Zhang the Elder", "Vanya Petrov", "Wu Li", "Jon Smith", "Ivan Petrov", "Иван Петров",
        "Omar al Rashid", "Smith John", "Ivan Sidorov", "Maria Lopez", "Argument")


def test_the_gate_and_the_screen_answer_a_name_alike(listed: Registry) -> None:
    decisions = listed.decisions
    for name in SAME:
        screened = listed.screening.screen(parse_query({"name": name}))
        matched = {r["id"] for r in screened["results"] if r["match"]}
        got = decisions.decide(service="air", national_id=STRANGER, name=name)
        assert got.decision == ("review" if matched else "allow"), (name, screened["results"])
        assert {r["entry_id"] for r in got.reasons} <= _entries(listed, matched), name
    # not a test of nothing: the weak alias is a match on both sides
    assert decisions.decide(service="air", national_id=STRANGER,
                            name="Zhang the Elder").decision == "review"


def _entries(registry: Registry, ids: set[str]) -> set[int]:
    """The gate's list entry ids of the screening results ``ids`` (``list:key``)."""
    from sqlalchemy import select

    from socialcredit.store.tables import list_entries
    with registry.store.read() as conn:
        rows = conn.execute(select(list_entries.c.id, list_entries.c.list,
                                   list_entries.c.key)).all()
    return {r.id for r in rows if f"{r.list}:{r.key}" in ids}


def test_a_clearance_reaches_the_gate_and_a_document_still_denies(listed: Registry) -> None:
    decisions = listed.decisions
    assert decisions.decide(service="air", national_id=STRANGER,
                            name="Jon Smith").decision == "review"
    assert decisions.decide(service="air", national_id=STRANGER,
                            name="Ivan Petrov").decision == "review"
    clear_pair(listed.store, query=ScreenQuery(kind="person", names=("Jon Smith",)),
               entry_id="ofac_sdn:9005", reason="another man", by="operator:ops")
    clear_pair(listed.store, query=ScreenQuery(kind="person", names=("Ivan Petrov",)),
               entry_id="ofac_sdn:9002", reason="another man", by="operator:ops")
    listed.screening.invalidate()
    for name in ("Jon Smith", "SMITH, Jon", "Ivan Petrov"):  # the same details, written otherwise
        assert decisions.decide(service="air", national_id=STRANGER,
                                name=name).decision == "allow", name
    # other details are not cleared; a document hit is never cleared
    assert decisions.decide(service="air", national_id=STRANGER,
                            name="Ivan Sergeyevich Petrov").decision == "review"
    assert decisions.decide(service="air", document="7100000011",
                            name="Ivan Petrov").decision == "deny"
    # an organisation's clearance too
    assert decisions.decide(service="air", organisation_id=ORG,
                            name="JSCARGUMENT").decision == "review"
    clear_pair(listed.store, query=ScreenQuery(kind="organisation", names=("JSCARGUMENT",)),
               entry_id="ofac_sdn:9001", reason="a bakery", by="operator:ops")
    listed.screening.invalidate()
    assert decisions.decide(service="air", organisation_id=ORG,
                            name="JSCARGUMENT").decision == "allow"


def test_check_on_the_command_line_honours_a_clearance_and_screens_organisations(
        tmp_path: Path) -> None:
    env = dict(os.environ, SOCIALCREDIT_DATABASE_URL=f"sqlite:///{tmp_path}/cli.db",
               COLUMNS="200")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "socialcredit", *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=300)

    assert cli("init").returncode == 0
    assert cli("lists", "import", "ofac-sdn", str(CASE)).returncode == 0
    org = cli("check", "--service", "air", "--organisation-id", ORG, "--name", "JSC ARGUMENT")
    assert org.returncode == 4 and "REVIEW" in org.stdout, org.stdout + org.stderr
    person = ("check", "--service", "air", "--national-id", STRANGER, "--name", "Jon Smith")
    assert cli(*person).returncode == 4
    done = cli("lists", "clear", "ofac_sdn:9005", "--name", "Jon Smith", "--reason", "not him")
    assert done.returncode == 0, done.stderr
    after = json.loads(cli("screen", "--name", "Jon Smith", "--json").stdout)["results"][0]
    assert after["cleared"]["reason"] == "not him"
    allowed = cli(*person)
    assert allowed.returncode == 0 and "ALLOW" in allowed.stdout, allowed.stdout


def test_an_operator_sees_no_org_review_on_a_list_the_service_does_not_sanction(
        listed: Registry) -> None:
    add_operator(listed.store, name="ops")
    services = [s for s in listed.policy.services
                if not any(s in x.services for x in listed.policy.sanctions_for("ofac_sdn"))]
    if not services:
        pytest.skip("every service of the default policy is sanctioned by ofac_sdn")
    got = listed.decisions.decide(service=services[0], organisation_id=ORG,
                                  name="JSC ARGUMENT")
    assert got.decision == "allow"
