"""A name alone never denies (DESIGN §3.2), on the project's own data.

``tests/test_real_data.py`` checks this on the real OFAC SDN list when ``../shared/data`` is
there; here a three-entry SDN folder written by :func:`write_sdn` (legacy CSV, the format of
``socialcredit.ingest.ofac_sdn``) and a domestic listing made through ingest guard it
everywhere, through the single, batch and HTTP decision paths.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from conftest import TODAY, make_id, write_csv
from servers import running
from socialcredit.api.keys import add_furnisher, add_gate, authenticate, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.gate import DecisionService
from socialcredit.ingest.external import import_ofac_sdn
from socialcredit.ingest.pipeline import ingest_file

PASSPORT = "K7654321"
#: The sanctioned person's name as listed, as an alias, in natural order, in lower case.
NAMES = ("KARIMOV, Rustam", "KARIMOFF, Rustem", "Rustam KARIMOV", "rustam karimov")
DEBTOR = make_id(birth="19750505", seq=321)
DEBTOR_NAME = "张伟"
#: A CN resident ID the SDN list gives in a listed person's remarks ("National ID No.").
SDN_NATIONAL_ID = make_id(birth="19800202", seq=77)


def write_sdn(folder: Path) -> Path:
    """Two individuals (one with a passport and an alias) and one entity, as OFAC writes
    them: no header, ``-0-`` for empty, CRLF."""
    folder.mkdir(parents=True, exist_ok=True)
    empty = ",".join(["-0- "] * 7)
    (folder / "sdn.csv").write_bytes((
        f'101,"KARIMOV, Rustam","individual","SDGT",{empty},'
        f'"DOB 01 Jan 1970; Passport {PASSPORT} (Uzbekistan)."\r\n'
        f'102,"ACME TRADING LLC","-0- ","SDGT",{empty},-0- \r\n'
        f'103,"WANG, Lei","individual","CYBER2",{empty},'
        f'"DOB 02 Feb 1980; National ID No. {SDN_NATIONAL_ID[:6]} {SDN_NATIONAL_ID[6:]} (China)."'
        '\r\n'
    ).encode("latin-1"))
    (folder / "alt.csv").write_bytes(b'101,201,"aka","KARIMOFF, Rustem",-0- \r\n')
    (folder / "sdn_comments.csv").write_bytes(b"")
    return folder


@pytest.fixture
def listed(registry: Registry, tmp_path: Path) -> Registry:
    result = import_ofac_sdn(registry.store, registry.policy, write_sdn(tmp_path / "sdn"),
                             as_of=TODAY)
    assert result.listed == 2 and result.problems == []
    add_furnisher(registry.store, name="court", kind="court")
    rows = [{"furnisher_record_id": "f1", "kind": "dishonesty_finding",
             "occurred_at": "2026-01-05", "national_id": DEBTOR, "name": DEBTOR_NAME,
             "case_number": "K1", "ground": 1, "amount_minor": 1, "currency": "CNY"}]
    ingest_file(registry.store, registry.policy, furnisher_id=furnisher_id(registry.store,
                                                                           "court"),
                as_of=TODAY, path=write_csv(tmp_path / "court.csv", rows))
    return registry


def test_a_name_alone_reviews_and_an_identifier_denies(listed: Registry) -> None:
    gate = authenticate(listed.store, add_gate(listed.store, listed.policy, name="air",
                                               services=["air"]))
    decisions = DecisionService(listed.gate_index, today=TODAY)
    # the identifiers deny: the lists are live, so an allow below is not an empty index
    assert decisions.decide(service="air", document=PASSPORT, gate=gate).decision == "deny"
    assert decisions.decide(service="air", national_id=DEBTOR, gate=gate).decision == "deny"
    stranger = make_id(seq=999)
    for name in NAMES:
        review = decisions.decide(service="air", national_id=stranger, name=name, gate=gate)
        assert review.decision == "review", name
        assert review.reasons and review.reasons[0]["list"] == "ofac_sdn"
    assert decisions.decide(service="air", national_id=stranger, name="Nobody Atall",
                            gate=gate).decision == "allow"
    # the domestic blacklist's debtor's name on someone else's valid ID: never a deny
    namesake = decisions.decide(service="air", national_id=stranger, name=DEBTOR_NAME,
                                gate=gate)
    assert namesake.decision in ("review", "allow"), namesake
    people = [{"national_id": stranger, "name": n} for n in (*NAMES, DEBTOR_NAME)]
    batch = decisions.decide_batch(service="air", people=people, gate=gate)
    outcomes = [getattr(d, "decision", None) for d in batch]
    assert outcomes[:len(NAMES)] == ["review"] * len(NAMES)
    assert outcomes[-1] == namesake.decision


def test_a_name_alone_reviews_over_http(listed: Registry) -> None:
    key = add_gate(listed.store, listed.policy, name="air", services=["air"])
    stranger = make_id(seq=998)
    with running(listed) as base, httpx.Client(base_url=base, timeout=10) as c:
        h = {"Authorization": f"Bearer {key}"}
        one = c.post("/v1/decisions", json={"service": "air", "national_id": stranger,
                                            "name": NAMES[2]}, headers=h)
        assert one.status_code == 200 and one.json()["decision"] == "review", one.text
        many = c.post("/v1/decisions:batch", json={"service": "air", "people": [
            {"national_id": stranger, "name": n} for n in NAMES]}, headers=h)
        assert many.status_code == 200, many.text
        body = many.json()
        assert [d["decision"] for d in body["data"]] == ["review"] * len(NAMES)
        assert body["outcomes"]["deny"] == 0


def test_a_national_id_the_sdn_list_gives_denies_by_that_id(listed: Registry) -> None:
    """The SDN list gives a person's national ID in the remarks; a gate asking by that ID
    (written as the person's ID card has it) is refused on the single, batch and HTTP paths,
    from the base table and from the overlay of a later import (issue #14)."""
    gate = authenticate(listed.store, add_gate(listed.store, listed.policy, name="air",
                                               services=["air"]))
    listed.gate_index.build()
    decisions = DecisionService(listed.gate_index, today=TODAY)
    one = decisions.decide(service="air", national_id=SDN_NATIONAL_ID, gate=gate)
    assert one.decision == "deny" and one.reasons[0]["list"] == "ofac_sdn", one
    # the same number as a document number still denies; a neighbouring valid ID does not
    assert decisions.decide(service="air", document=SDN_NATIONAL_ID,
                            gate=gate).decision == "deny"
    other = make_id(birth="19800202", seq=78)
    assert decisions.decide(service="air", national_id=other, gate=gate).decision == "allow"
    batch = decisions.decide_batch(service="air", people=[
        {"national_id": SDN_NATIONAL_ID}, {"national_id": other}], gate=gate)
    assert [getattr(d, "decision", None) for d in batch] == ["deny", "allow"]
    key = add_gate(listed.store, listed.policy, name="air2", services=["air"])
    with running(listed) as base, httpx.Client(base_url=base, timeout=10) as c:
        r = c.post("/v1/decisions", json={"service": "air", "national_id": SDN_NATIONAL_ID},
                   headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200 and r.json()["decision"] == "deny", r.text


def test_an_sdn_national_id_imported_while_serving_denies_from_the_overlay(
        registry: Registry, tmp_path: Path) -> None:
    gate = authenticate(registry.store, add_gate(registry.store, registry.policy, name="air",
                                                 services=["air"]))
    registry.gate_index.build()
    decisions = DecisionService(registry.gate_index, today=TODAY)
    assert decisions.decide(service="air", national_id=SDN_NATIONAL_ID,
                            gate=gate).decision == "allow"
    import_ofac_sdn(registry.store, registry.policy, write_sdn(tmp_path / "sdn"), as_of=TODAY)
    assert registry.gate_index.refresh() > 0
    assert decisions.decide(service="air", national_id=SDN_NATIONAL_ID,
                            gate=gate).decision == "deny"


def _ingest_holder(registry: Registry, tmp_path: Path, *, new_court: bool = False) -> None:
    """A domestic debtor whose own ID card carries the number the SDN list gives."""
    if new_court:
        add_furnisher(registry.store, name="court", kind="court")
    rows = [{"furnisher_record_id": "f2", "kind": "dishonesty_finding",
             "occurred_at": "2026-01-06", "national_id": SDN_NATIONAL_ID, "name": "王磊",
             "case_number": "K2", "ground": 1, "amount_minor": 1, "currency": "CNY"}]
    ingest_file(registry.store, registry.policy, furnisher_id=furnisher_id(registry.store,
                                                                           "court"),
                as_of=TODAY, path=write_csv(tmp_path / "court2.csv", rows))


def _lists(decision: object) -> list[str]:
    return sorted(r["list"] for r in getattr(decision, "reasons", []))


def test_a_national_id_two_subjects_hold_answers_with_both_reasons(
        listed: Registry, tmp_path: Path) -> None:
    """A domestic subject and an SDN entry hold the same national ID: the refusal gives both
    reasons, whether the key is in the base table, the overlay or both (issue #14)."""
    gate = authenticate(listed.store, add_gate(listed.store, listed.policy, name="air",
                                               services=["air"]))
    decisions = DecisionService(listed.gate_index, today=TODAY)
    domestic = _lists(decisions.decide(service="air", national_id=DEBTOR, gate=gate))
    assert domestic and "ofac_sdn" not in domestic
    both = sorted([*domestic, "ofac_sdn"])
    listed.gate_index.build()  # the SDN entry in the base table, the debtor in the overlay
    _ingest_holder(listed, tmp_path)
    assert listed.gate_index.refresh() > 0
    for _ in ("overlay and base", "base only"):
        one = decisions.decide(service="air", national_id=SDN_NATIONAL_ID, gate=gate)
        assert one.decision == "deny" and _lists(one) == both, one
        batch = decisions.decide_batch(service="air", people=[
            {"national_id": SDN_NATIONAL_ID}, {"national_id": DEBTOR}], gate=gate)
        assert [_lists(d) for d in batch] == [both, domestic]
        listed.gate_index.build()
    assert listed.gate_index.base.duplicate_keys == 1
    key = add_gate(listed.store, listed.policy, name="air2", services=["air"])
    with running(listed) as base, httpx.Client(base_url=base, timeout=10) as c:
        r = c.post("/v1/decisions", json={"service": "air", "national_id": SDN_NATIONAL_ID},
                   headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text
        assert sorted(x["list"] for x in r.json()["reasons"]) == both, r.text


def test_a_national_id_two_reloaded_subjects_hold_keeps_both_until_one_leaves(
        registry: Registry, tmp_path: Path) -> None:
    """Both holders reloaded into the overlay after the build; then the SDN entry leaves the
    list and only the domestic reason remains."""
    gate = authenticate(registry.store, add_gate(registry.store, registry.policy, name="air",
                                                 services=["air"]))
    registry.gate_index.build()
    decisions = DecisionService(registry.gate_index, today=TODAY)
    import_ofac_sdn(registry.store, registry.policy, write_sdn(tmp_path / "sdn"), as_of=TODAY)
    _ingest_holder(registry, tmp_path, new_court=True)
    assert registry.gate_index.refresh() > 0
    one = decisions.decide(service="air", national_id=SDN_NATIONAL_ID, gate=gate)
    assert "ofac_sdn" in _lists(one) and len(_lists(one)) == 2, one
    sdn = tmp_path / "sdn"
    lines = (sdn / "sdn.csv").read_bytes().split(b"\r\n")
    (sdn / "sdn.csv").write_bytes(b"\r\n".join(x for x in lines if not x.startswith(b"103,")))
    import_ofac_sdn(registry.store, registry.policy, sdn, as_of=TODAY)
    assert registry.gate_index.refresh() > 0
    after = decisions.decide(service="air", national_id=SDN_NATIONAL_ID, gate=gate)
    assert after.decision == "deny" and _lists(after) == [x for x in _lists(one)
                                                          if x != "ofac_sdn"], after
