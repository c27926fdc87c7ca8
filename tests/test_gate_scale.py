"""Gates at scale: batch decisions, the compact index and its overlay, metrics, the staleness
header (the staleness limits: test_gate_staleness.py)."""

from __future__ import annotations

import datetime as dt
import os
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import TODAY, make_id, write_csv
from servers import running
from socialcredit.api.keys import add_furnisher, add_gate, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.errors import InputError, SocialCreditError
from socialcredit.gate import DecisionService, GateIndex
from socialcredit.gate.decide import MAX_BATCH
from socialcredit.ingest.pipeline import ingest_file

LISTED = [make_id(birth=f"19{60 + i:02d}0101", seq=100 + i) for i in range(30)]


def _list_people(reg: Registry, tmp_path: Path, ids: list[str], *, start: int = 0) -> None:
    try:
        fid = furnisher_id(reg.store, "court")
    except SocialCreditError:
        add_furnisher(reg.store, name="court", kind="court")
        fid = furnisher_id(reg.store, "court")
    rows = [{"furnisher_record_id": f"f{start + i}", "kind": "dishonesty_finding",
             "occurred_at": "2026-01-05", "national_id": nid, "phone": f"+86139{start + i:08d}",
             "case_number": f"K{start + i}", "ground": 1, "amount_minor": 1, "currency": "CNY"}
            for i, nid in enumerate(ids)]
    ingest_file(reg.store, reg.policy, furnisher_id=fid, as_of=TODAY,
                path=write_csv(tmp_path / f"court{start}.csv", rows))


def _perform(reg: Registry, tmp_path: Path, index: int, nid: str) -> None:
    rows = [{"furnisher_record_id": f"p{index}", "kind": "judgment_performance",
             "occurred_at": "2026-03-01", "national_id": nid, "case_number": f"K{index}",
             "amount_minor": 1, "currency": "CNY", "full": True}]
    ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, "court"),
                as_of=TODAY, path=write_csv(tmp_path / f"perf{index}.csv", rows))


def test_batch_answers_in_order_like_single_decisions(registry: Registry,
                                                      tmp_path: Path) -> None:
    _list_people(registry, tmp_path, LISTED)
    service = DecisionService(registry.gate_index, today=TODAY)
    rng = random.Random(7)
    people: list[dict[str, Any]] = []
    for i in range(400):
        pick = rng.random()
        if pick < 0.3:
            people.append({"national_id": rng.choice(LISTED)})
        elif pick < 0.4:
            people.append({"phone": f"+86139{rng.randrange(30):08d}"})
        elif pick < 0.45:
            people.append({"national_id": LISTED[0][:-1] + "Y"})  # malformed
        elif pick < 0.5:
            people.append({"national_id": make_id(seq=i)[:-1] + "0", "name": "x"})
        else:
            people.append({"national_id": make_id(birth="19990909", seq=i)})
    batch = service.decide_batch(service="air", people=people)
    assert len(batch) == len(people)
    for person, got in zip(people, batch, strict=True):
        try:
            single = service.decide(service="air", **person)
        except SocialCreditError as e:
            assert isinstance(got, SocialCreditError) and got.code == e.code, person
            continue
        assert not isinstance(got, SocialCreditError), (person, got)
        assert (got.decision, got.reasons) == (single.decision, single.reasons), person
    assert sum(1 for d in batch if not isinstance(d, SocialCreditError)
               and d.decision == "deny") > 50
    with pytest.raises(InputError):
        service.decide_batch(service="air", people=[{"national_id": LISTED[0]}] *
                             (MAX_BATCH + 1))
    # every deny is stored with its reasons (built at flush for vectorised denies)
    service.flush()
    from sqlalchemy import select

    from socialcredit.store.tables import decisions

    with registry.store.read() as conn:
        stored = {r.id: r for r in conn.execute(select(decisions))}
    batch_denies = [d for d in batch if not isinstance(d, SocialCreditError)
                    and d.decision == "deny"]
    for d in batch_denies:
        row = stored[d.decision_id]
        assert row.outcome == "deny" and '"dishonest_judgment_debtors"' in row.reasons


def test_overlay_follows_the_ledger_and_compaction_agrees(registry: Registry,
                                                         tmp_path: Path) -> None:
    _list_people(registry, tmp_path, LISTED[:10])
    index = GateIndex(registry.store, registry.policy, compact_after=10_000)
    index.build()
    base_size = index.size
    service = DecisionService(index, today=TODAY)
    _perform(registry, tmp_path, 3, LISTED[3])                 # removal
    _list_people(registry, tmp_path, LISTED[10:12], start=10)  # new listings
    assert index.refresh() == 3
    assert len(index.overlay_subjects) == 3 and index.stale.sum() == 1
    answers = {nid: service.decide(service="rail_hsr", national_id=nid).decision
               for nid in LISTED[:12]}
    assert answers[LISTED[3]] == "allow"
    assert [answers[n] for n in LISTED[10:12]] == ["deny", "deny"]
    assert index.size == base_size - 2 + 4  # subject 3 lost id+phone; two gained id+phone
    rebuilt = GateIndex(registry.store, registry.policy, compact_after=0)
    rebuilt.build()
    again = DecisionService(rebuilt, today=TODAY)
    assert answers == {nid: again.decide(service="rail_hsr", national_id=nid).decision
                       for nid in LISTED[:12]}
    assert rebuilt.size == index.size and not rebuilt.overlay


def test_batch_route_metrics_and_staleness_header(registry: Registry, tmp_path: Path) -> None:
    _list_people(registry, tmp_path, LISTED[:5])
    key = add_gate(registry.store, registry.policy, name="rail", services=["rail_hsr"])
    with running(registry) as base:
        h = {"Authorization": f"Bearer {key}"}
        people = [{"national_id": LISTED[0]}, {"national_id": "123"},
                  {"passport": "E1234567"}, {"national_id": make_id(seq=1)}]
        r = httpx.post(base + "/v1/decisions:batch", json={"service": "rail_hsr",
                                                           "people": people}, headers=h)
        assert r.status_code == 200, r.text
        body = r.json()
        assert [d.get("decision") for d in body["data"]] == ["deny", None, "allow", "allow"]
        assert body["data"][1]["error"]["code"] == "invalid_identifier"
        assert body["outcomes"] == {"allow": 2, "deny": 1, "review": 0, "error": 1}
        assert int(r.headers["X-Gate-Staleness-Ms"]) < 5_000
        over = {"service": "rail_hsr", "people": [{"national_id": LISTED[0]}] * 10_001}
        assert httpx.post(base + "/v1/decisions:batch", json=over, headers=h).status_code == 422
        wrong = httpx.post(base + "/v1/decisions:batch", json={
            "service": "air", "people": people}, headers=h)
        assert wrong.status_code == 403
        text = httpx.get(base + "/metrics").text
        assert 'socialcredit_decisions_total{outcome="deny",service="rail_hsr"} 1.0' in text
        assert "socialcredit_decision_seconds_bucket" in text
        assert "socialcredit_gate_index_identifiers 10.0" in text
        assert "socialcredit_ledger_lag_events" in text


@given(st.lists(st.tuples(st.integers(1, 2100), st.integers(0, 13), st.integers(0, 32),
                          st.integers(0, 999), st.sampled_from([None, *"0123456789Xx"])),
                min_size=1, max_size=50))
def test_vectorised_id_check_agrees_with_the_single_path(
        parts: list[tuple[int, int, int, int, str | None]]) -> None:
    from stdnum.iso7064 import mod_11_2

    from socialcredit.gate.codes import encode_cn_ids, encode_key
    from socialcredit.identity import scheme_for

    ids = []
    for year, month, day, seq, check in parts:
        body = f"310101{year:04d}{month:02d}{day:02d}{seq:03d}"
        ids.append(body + (check or mod_11_2.calc_check_digit(body)))
    codes, ok = encode_cn_ids(ids)
    for nid, code, valid in zip(ids, codes, ok, strict=True):
        try:
            value = scheme_for("cn.ric").parse(nid).value
        except SocialCreditError:
            assert not valid, nid
            continue
        assert valid and int(code) == encode_key(f"national_id:{value}"), nid


def test_an_unreadable_database_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    """A corrupted SQLite file must surface as StoreUnavailable (503 at a gate, which then
    falls back to its cached keys and last good index), never as a 500."""
    from sqlalchemy import text

    from socialcredit.errors import StoreUnavailable
    from socialcredit.store import Store

    bad = tmp_path / "garbage.db"
    bad.write_bytes(os.urandom(100_000))
    store = Store(f"sqlite:///{bad}")
    with pytest.raises(StoreUnavailable, match="could not be read"), \
            store.read() as conn:
        conn.execute(text("SELECT count(*) FROM events"))
    store.dispose()


def test_both_decision_paths_refuse_from_since_up_to_the_day_before_until(
        registry: Registry, tmp_path: Path) -> None:
    """A flight ban (unruly passenger: one year, air only) beside a later credit listing
    (serious loan default) on the same person: on the ban's ``until`` day the single and the
    vectorised paths allow a flight, on the day before and on ``since`` both deny, the day
    before ``since`` both allow. The credit entry keeps the person's row live in the compact
    table past the ban, so the batch path must judge each entry's own dates."""
    nid = make_id(birth="19800808", seq=808)
    for name, kind, row in (
            ("carrier", "transport", {"kind": "unruly_passenger", "occurred_at": "2025-08-01",
                                      "service": "air", "conduct": "smoking_on_board"}),
            ("bank", "lender", {"kind": "loan_default", "occurred_at": "2026-03-01",
                                "loan_id": "L1", "amount_minor": 6_000_000, "currency": "CNY",
                                "days_past_due": 120})):
        add_furnisher(registry.store, name=name, kind=kind)
        ingest_file(registry.store, registry.policy,
                    furnisher_id=furnisher_id(registry.store, name), as_of=TODAY,
                    path=write_csv(tmp_path / f"{name}.csv", [
                        {"furnisher_record_id": f"{name}-1", "national_id": nid, **row}]))
    from sqlalchemy import select

    from socialcredit.store.tables import list_entries
    with registry.store.read() as conn:
        entries = {e.list: e for e in conn.execute(select(list_entries)).all()}
    ban, credit = entries["unruly_passengers"], entries["serious_loan_defaulters"]
    assert ban.status == credit.status == "active" and credit.until > ban.until
    since, until = dt.date.fromisoformat(ban.since), dt.date.fromisoformat(ban.until)
    day = dt.timedelta(days=1)
    index = registry.gate_index  # built now: both entries in the compact base table
    assert not index.overlay
    for today, want in ((since - day, "allow"), (since, "deny"), (until - day, "deny"),
                        (until, "allow")):
        service = DecisionService(index, today=today)
        single = service.decide(service="air", national_id=nid).decision
        batch = service.decide_batch(service="air", people=[{"national_id": nid}])[0]
        assert (single, getattr(batch, "decision", batch)) == (want, want), today
