"""Gates at scale: batch decisions, the compact index and its overlay, metrics, staleness."""

from __future__ import annotations

import datetime as dt
import os
import random
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import PG_ENV, TODAY, _pg_schema_url, make_id, write_csv
from servers import TcpProxy, running
from socialcredit.access import add_furnisher, add_gate, authenticate, furnisher_id
from socialcredit.errors import InputError, SocialCreditError
from socialcredit.gate import DecisionService, GateIndex
from socialcredit.gate.decide import MAX_BATCH
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.registry import Registry
from socialcredit.settings import Settings

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


class FrozenClock:
    """Stands in for the ``time`` module of ``socialcredit.gate.index``: the index reads the
    wall clock only through ``time.time()``, so a test sets the hour instead of waiting."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now


def _ask(c: httpx.Client, h: dict[str, str], service: str) -> httpx.Response:
    return c.post("/v1/decisions", json={"service": service, "national_id": LISTED[0]},
                  headers=h)


def _answers(r: httpx.Response, stale_s: int) -> None:
    """A gate past no limit: still the last good index's deny, and says how stale it is."""
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == "deny"  # never a silent allow
    assert int(r.headers["X-Gate-Staleness-Ms"]) == stale_s * 1000


def _refuses_for_the_limit(r: httpx.Response, stale_s: int, limit_s: int) -> None:
    assert r.status_code == 503, r.text
    err = r.json()["error"]
    assert err["code"] == "unavailable"
    assert err["details"] == {"staleness_seconds": stale_s, "limit_seconds": limit_s}


def _walk_the_limits(c: httpx.Client, h: dict[str, str], clock: FrozenClock,
                     t0: float, policy: Any) -> None:
    """From the last good refresh at ``t0``: each service answers up to its own limit read
    from the policy (a second before it: 200), and refuses a second past it, for the limit."""
    air, hotel = policy.gate.limit_for("air"), policy.gate.limit_for("hotel_star")
    assert (air, hotel) == (60, 300)  # the README's figures, from policies/default.yaml
    clock.now = t0
    _answers(_ask(c, h, "air"), 0)
    clock.now = t0 + air - 1
    _answers(_ask(c, h, "air"), air - 1)
    clock.now = t0 + air + 1
    _refuses_for_the_limit(_ask(c, h, "air"), air + 1, air)
    _answers(_ask(c, h, "hotel_star"), air + 1)
    clock.now = t0 + hotel - 1
    _answers(_ask(c, h, "hotel_star"), hotel - 1)
    clock.now = t0 + hotel + 1
    _refuses_for_the_limit(_ask(c, h, "hotel_star"), hotel + 1, hotel)
    _refuses_for_the_limit(_ask(c, h, "air"), hotel + 1, air)


def test_gate_answers_up_to_each_services_limit_then_refuses(
        registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The staleness limits of the default policy, walked on a frozen clock with a follower
    that does not run (nothing refreshes the index after its build)."""
    import socialcredit.gate.index as index_module

    clock = FrozenClock()
    monkeypatch.setattr(index_module, "time", clock)
    _list_people(registry, tmp_path, LISTED[:3])
    gate_key = add_gate(registry.store, registry.policy, name="air",
                        services=["air", "hotel_star"])
    registry.settings.gate_refresh_ms = 3_600_000
    t0 = registry.gate_index.last_ok
    with running(registry) as base, httpx.Client(base_url=base, timeout=10) as c:
        _walk_the_limits(c, {"Authorization": f"Bearer {gate_key}"}, clock, t0, registry.policy)


def _reachable(reg: Registry) -> bool:
    from sqlalchemy import text

    try:
        with reg.store.read() as conn:
            conn.execute(text("SELECT 1"))
    except SocialCreditError:
        return False
    return True


@pytest.mark.postgres
def test_gate_survives_a_lost_database_then_refuses_past_the_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database is cut under a running gate: it keeps answering from its last good index
    up to the policy's per-service limit (60 s air, 300 s hotel), then 503 for that limit.
    Time is a frozen clock moved by the test, so no limit is waited for."""
    import socialcredit.gate.index as index_module

    base_url = os.environ.get(PG_ENV)
    if not base_url:
        pytest.skip(f"needs {PG_ENV}: the database connection is cut through a TCP proxy")
    clock = FrozenClock()
    monkeypatch.setattr(index_module, "time", clock)
    for url in _pg_schema_url(base_url):
        parts = urlsplit(url)
        proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
        netloc = f"{parts.username}@127.0.0.1:{proxy.port}"
        proxied = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        reg = Registry(Settings(database_url=proxied, gate_refresh_ms=100), today=TODAY)
        reg.ensure_schema()
        _list_people(reg, tmp_path, LISTED[:3])
        gate_key = add_gate(reg.store, reg.policy, name="air", services=["air", "hotel_star"])
        assert authenticate(reg.store, gate_key).name == "air"
        index = reg.gate_index
        try:
            with running(reg) as base, httpx.Client(base_url=base, timeout=10) as c:
                h = {"Authorization": f"Bearer {gate_key}"}
                _answers(_ask(c, h, "air"), 0)  # the key is checked while the database is up
                proxy.cut()
                deadline = time.monotonic() + 30
                while _reachable(reg):  # from here on no read reaches the database
                    assert time.monotonic() < deadline, "the proxy did not cut the database"
                    time.sleep(0.05)
                with index._writer:  # a refresh that read before the cut has finished
                    pass
                # every refresh since the build ran at the frozen hour: the last good one too
                assert index.last_ok == clock.now
                _walk_the_limits(c, h, clock, clock.now, reg.policy)
                metrics = c.get("/metrics").text
                assert "socialcredit_gate_staleness_seconds 301.0" in metrics
        finally:
            proxy.close()
            reg.close()


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
