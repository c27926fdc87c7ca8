"""Policy evaluation (listing, removal on performance, expiry, ratings) and gate decisions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from conftest import TODAY, furnish, make_id
from socialcredit.api.keys import add_gate, authenticate
from socialcredit.api.registry import Registry
from socialcredit.errors import IdentifierError, InputError, PermissionDenied, UnknownService
from socialcredit.gate import DecisionService
from socialcredit.policy.sweeps import evaluate_all
from socialcredit.store.tables import events, list_entries

DEBTOR, OTHER = make_id(seq=101), make_id(birth="19751212", seq=202)


def finding(frid: str, nid: str, case: str, day: str, ground: int = 1) -> dict[str, Any]:
    return {"furnisher_record_id": frid, "kind": "dishonesty_finding", "occurred_at": day,
            "national_id": nid, "name": "李娜", "case_number": case, "ground": ground,
            "amount_minor": 250_000_00, "currency": "CNY"}


def performance(frid: str, nid: str, case: str, day: str, full: bool) -> dict[str, Any]:
    return {"furnisher_record_id": frid, "kind": "judgment_performance", "occurred_at": day,
            "national_id": nid, "case_number": case, "amount_minor": 250_000_00,
            "currency": "CNY", "full": full}


def _entries(reg: Registry) -> dict[tuple[str, str], Any]:
    with reg.store.read() as conn:
        return {(r.list, r.key): r for r in conn.execute(select(list_entries))}


def _gate(reg: Registry, services: list[str], platform: str | None = None):  # type: ignore[no-untyped-def]
    name = f"g-{'-'.join(services)}-{platform or 'all'}"
    return authenticate(reg.store, add_gate(reg.store, reg.policy, name=name,
                                            services=services, platform=platform))


def test_listing_denies_with_reasons_and_performance_removes(
        registry: Registry, tmp_path: Path) -> None:
    furnish(registry, tmp_path, "court", "court", [finding("f1", DEBTOR, "K1", "2026-01-05")])
    entry = _entries(registry)[("dishonest_judgment_debtors", "K1")]
    assert (entry.status, entry.since, entry.until, entry.ground) == (
        "active", "2026-01-05", "2028-01-06", 1)  # two years through 2028-01-05
    air = _gate(registry, ["air"])
    decisions = DecisionService(registry.gate_index, today=TODAY)
    deny = decisions.decide(service="air", national_id=DEBTOR, gate=air)
    assert deny.decision == "deny"
    (reason,) = deny.reasons
    assert reason["list"] == "dishonest_judgment_debtors" and reason["entry_id"] == entry.id
    assert reason["furnisher"] == "court" and "SPC" in reason["legal_basis"]
    assert (reason["since"], reason["until"]) == ("2026-01-05", "2028-01-06")
    assert reason["how_to_contest"] == registry.policy.how_to_contest
    assert "furnisher" in reason["how_to_contest"]
    allow = decisions.decide(service="air", national_id=OTHER, gate=air)
    assert allow.decision == "allow" and allow.reasons == []
    # a partial payment changes nothing; full performance removes within the same ingest
    furnish(registry, tmp_path, "court", "court",
             [performance("p1", DEBTOR, "K1", "2026-03-01", full=False)])
    assert _entries(registry)[("dishonest_judgment_debtors", "K1")].status == "active"
    furnish(registry, tmp_path, "court", "court",
             [performance("p2", DEBTOR, "K1", "2026-04-01", full=True)])
    removed = _entries(registry)[("dishonest_judgment_debtors", "K1")]
    assert (removed.status, removed.end_reason, removed.ended_on) == (
        "removed", "performed", "2026-04-01")
    registry.gate_index.refresh()
    assert decisions.decide(service="air", national_id=DEBTOR, gate=air).decision == "allow"
    with registry.store.read() as conn:
        types = conn.execute(select(events.c.type, events.c.policy_version).where(
            events.c.type.startswith("entry."))).all()
    assert [t for t, _ in types] == ["entry.listed", "entry.removed"]
    assert all(v == registry.policy.version_hash for _, v in types)


def test_expiry_by_evaluate_as_of(registry: Registry, tmp_path: Path) -> None:
    furnish(registry, tmp_path, "court", "court", [finding("f1", DEBTOR, "K9", "2025-01-01")])
    assert _entries(registry)[("dishonest_judgment_debtors", "K9")].status == "active"
    # two years from 2025-01-01 last through 2027-01-01 (Civil Code arts. 201-202)
    stats = evaluate_all(registry.store, registry.policy, dt.date(2027, 1, 1))
    assert dict(stats.expired) == {}
    stats = evaluate_all(registry.store, registry.policy, dt.date(2027, 1, 2))
    assert stats.expired == {"dishonest_judgment_debtors": 1}
    entry = _entries(registry)[("dishonest_judgment_debtors", "K9")]
    assert (entry.status, entry.ended_on) == ("expired", "2027-01-02")
    again = evaluate_all(registry.store, registry.policy, dt.date(2027, 1, 2))
    assert dict(again.expired) == {} and again.updated == 0


def test_gate_scope_services_and_bad_requests(registry: Registry, tmp_path: Path) -> None:
    furnish(registry, tmp_path, "court", "court", [finding("f1", DEBTOR, "K1", "2026-01-05")])
    furnish(registry, tmp_path, "airline", "transport", [
        {"furnisher_record_id": "u1", "kind": "unruly_passenger", "occurred_at": "2026-02-01",
         "national_id": OTHER, "service": "air", "conduct": "smoking_on_board"}])
    rail, air = _gate(registry, ["rail_hsr"]), _gate(registry, ["air"])
    decisions = DecisionService(registry.gate_index, today=TODAY)
    assert decisions.decide(service="air", national_id=OTHER, gate=air).decision == "deny"
    assert decisions.decide(service="rail_hsr", national_id=OTHER, gate=rail
                            ).decision == "allow"  # unruly passengers: air only
    assert decisions.decide(service="rail_hsr", national_id=DEBTOR, gate=rail
                            ).decision == "deny"
    with pytest.raises(PermissionDenied):
        decisions.decide(service="air", national_id=DEBTOR, gate=rail)
    with pytest.raises(UnknownService):
        decisions.decide(service="spaceflight", national_id=DEBTOR)
    with pytest.raises(IdentifierError):
        decisions.decide(service="air", national_id=DEBTOR[:-1] + "0"
                         if DEBTOR[-1] != "0" else DEBTOR[:-1] + "1")
    with pytest.raises(InputError):
        decisions.decide(service="air", national_id=DEBTOR, phone="+8613812345678")
    with pytest.raises(InputError):
        decisions.decide(service="air")
    # the period is data: past `until` the gate allows even before expiry is evaluated
    late = DecisionService(registry.gate_index, today=dt.date(2028, 1, 6))
    assert late.decide(service="rail_hsr", national_id=DEBTOR).decision == "allow"
    decisions.flush()
    from socialcredit.reports import summarise

    counts = summarise(registry.store, registry.policy)["decisions"]
    assert counts["air"] == {"allow": 0, "deny": 1, "review": 0}
    assert counts["rail_hsr"] == {"allow": 1, "deny": 1, "review": 0}


def test_low_rating_warns_twice_then_refuses_on_the_rating_platform_and_its_sharing_partner(
        registry: Registry, tmp_path: Path) -> None:
    """The default policy: the mean of the last 500 ratings below 3.5 (at least 5) warns at
    the first two low ratings and refuses from the third, on ride-didi and on ride-caocao (a
    sharing agreement names it), never on a platform outside the agreement."""
    phone = "+8613811112222"
    rows = [{"furnisher_record_id": f"r{i}", "kind": "ride_rating",
             "occurred_at": f"2026-05-{i + 1:02d}", "national_id": DEBTOR, "phone": phone,
             "rating": 2 if i < 6 else 5, "trip_id": f"t{i}"} for i in range(8)]
    # ratings 1-5 all 2: the fifth is the first low one (min_count 5); the sixth warns again
    furnish(registry, tmp_path, "ride-didi", "platform", rows[:6])
    entry = _entries(registry)[("ride_hail_low_rating", "ride-didi")]
    assert (entry.status, entry.platform, entry.since) == ("warned", "ride-didi", "2026-05-05")
    gates = {p: _gate(registry, ["ride_hail"], p) for p in ("ride-didi", "ride-caocao", "ride-t3")}
    decisions = DecisionService(registry.gate_index, today=TODAY)
    assert decisions.decide(service="ride_hail", phone=phone,
                            gate=gates["ride-didi"]).decision == "allow"
    # the seventh rating (a 5) leaves the mean at 17/7 = 2.43: the third low rating refuses
    furnish(registry, tmp_path, "ride-didi", "platform", rows[6:7])
    entry = _entries(registry)[("ride_hail_low_rating", "ride-didi")]
    assert (entry.status, entry.since) == ("active", "2026-05-07")
    registry.gate_index.refresh()
    answers = {p: decisions.decide(service="ride_hail", phone=phone, gate=g)
               for p, g in gates.items()}
    assert {p: a.decision for p, a in answers.items()} == {
        "ride-didi": "deny", "ride-caocao": "deny", "ride-t3": "allow"}
    assert answers["ride-didi"].reasons[0]["shared_under"] is None
    assert answers["ride-caocao"].reasons[0]["shared_under"] == "ride_hail_safety_sharing"
    assert answers["ride-caocao"].reasons[0]["severity"] == 1
    # the same refusal in a batch decision (the vectorised base-table path)
    registry.gate_index.build()
    batch = decisions.decide_batch(service="ride_hail", people=[{"phone": phone}],
                                   gate=gates["ride-caocao"])
    assert [getattr(d, "decision", d) for d in batch] == ["deny"]
    batch = decisions.decide_batch(service="ride_hail", people=[{"phone": phone}],
                                   gate=gates["ride-t3"])
    assert [getattr(d, "decision", d) for d in batch] == ["allow"]
    # mean of the last 500 is (6*2 + 2*5) / 8 = 2.75, still low
    furnish(registry, tmp_path, "ride-didi", "platform", rows[7:])
    assert _entries(registry)[("ride_hail_low_rating", "ride-didi")].status == "active"
    more = [dict(rows[7], furnisher_record_id=f"s{i}", trip_id=f"s{i}",
                 occurred_at="2026-06-01") for i in range(10)]
    furnish(registry, tmp_path, "ride-didi", "platform", more)
    entry = _entries(registry)[("ride_hail_low_rating", "ride-didi")]
    # (12 + 12*5) / 18 = 4.0 from the 14th rating on; 3.37 at the 13th: ended on 2026-06-01
    assert (entry.status, entry.end_reason, entry.ended_on) == (
        "removed", "rating_recovered", "2026-06-01")


def test_a_case_sent_by_several_furnishers_lists_from_its_lowest_record_in_any_order(
        registry: Registry) -> None:
    """Copies of one case on the same date: the entry rests on the copy stored first (lowest
    record id), whatever order evaluation reads them in, so a re-evaluation never flips it
    (the cause of a flaky concurrent-ingest trial: ``entry.updated`` with nothing changed)."""
    from socialcredit.policy.rules import RecordView, desired_entries

    def copy(rid: int, fid: int) -> RecordView:
        return RecordView(rid, 1, fid, f"court-{fid}", f"R-{rid}", "dishonesty_finding",
                          "2026-01-05", {"case_number": "(2026)京0105执1号", "ground": 1})

    copies = [copy(7, 3), copy(4, 2), copy(9, 1)]
    picks = {(e.record_id, e.furnisher_id)
             for order in (copies, copies[::-1], copies[1:] + copies[:1])
             for e in desired_entries(registry.policy, order, dt.date(2026, 2, 1))
             if e.list == "dishonest_judgment_debtors"}
    assert picks == {(4, 2)}
