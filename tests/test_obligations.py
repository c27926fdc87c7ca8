"""One obligation, many reports; no re-aging of the date of first delinquency (issue #19).

The reference rules and the DuckDB engine are checked on hand-made histories (expected values
worked out from the default policy: ``serious_loan_defaulters`` lists loans 90+ days past due
summing to 50,000 CNY within a year, for one year; score factor D01 costs 80 points at full
weight for a year, half the next); then the same stories go through ingest, evaluation, the
ledger and the HTTP API on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from conftest import TODAY, furnish, make_id, write_csv
from servers import running
from socialcredit.api.keys import add_furnisher, add_operator, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.disclosure.retention import due_for_retention
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.policy.batch import evaluate_parquet, write_records_parquet
from socialcredit.policy.model import load_policy
from socialcredit.policy.obligations import (
    DATE_KEPT_EVENT,
    DATE_KEPT_FLAG,
    UNMATCHED_FLAG,
    kept_dates,
)
from socialcredit.policy.rules import DesiredEntry, RecordView, ScoreResult, evaluate_records
from socialcredit.store.replay import replay
from socialcredit.store.tables import events, list_entries, records, scores

POLICY = load_policy(Path(__file__).resolve().parents[1] / "src" / "socialcredit" / "policy"
                     / "default.yaml")
AS_OF = dt.date(2026, 6, 30)
LIST = "serious_loan_defaulters"
BANK, COLLECTOR = (3, "bank-icbc"), (9, "collector-x")


def _loan(rid: int, day: str, who: tuple[int, str] = BANK, *, loan: str = "L-1",
          amount: int = 3_000_000, **extra: Any) -> RecordView:
    payload = {"loan_id": loan, "amount_minor": amount, "currency": "CNY",
               "days_past_due": 120, **extra}
    return RecordView(rid, 1, who[0], who[1], f"r{rid}", "loan_default", day, payload)


def _sold(rid: int, day: str, **extra: Any) -> RecordView:
    """The collector's report after buying loan L-1 from the bank (under its own account)."""
    return _loan(rid, day, COLLECTOR, loan="C-9", original_creditor=BANK[1],
                 original_loan_id="L-1", **extra)


@pytest.fixture(params=["python", "duckdb"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _evaluate(engine: str, recs: list[RecordView], tmp_path: Path
              ) -> tuple[list[DesiredEntry], list[ScoreResult]]:
    if engine == "python":
        out = evaluate_records(POLICY, 1, recs, AS_OF)
        return sorted(out.entries, key=lambda e: (e.list, e.key)), out.scores
    path = write_records_parquet(POLICY, recs, tmp_path / "r.parquet")
    got = evaluate_parquet(POLICY, path, AS_OF, engine="duckdb")
    return got.entries, got.scores


def test_one_default_reported_three_times_stays_under_the_threshold(
        engine: str, tmp_path: Path) -> None:
    # the bank, the bank again under a new record id, the collector after the sale
    recs = [_loan(1, "2026-01-10"), _loan(2, "2026-02-10"), _sold(3, "2026-03-01")]
    entries, score = _evaluate(engine, recs, tmp_path)
    assert [e for e in entries if e.list == LIST] == []
    assert score[0].value == 1000 - 80 and score[0].reasons == ("D01",)
    # a second, real loan does cross it: 30,000 + 30,000, from the first report's date
    entries, score = _evaluate(engine, [*recs, _loan(4, "2026-03-05", loan="L-2")], tmp_path)
    listed = [e for e in entries if e.list == LIST]
    assert [(e.status, e.since) for e in listed] == [("active", "2026-03-05")]
    assert score[0].value == 1000 - 160


def test_a_creditor_and_account_named_in_another_case_or_spacing_are_one_obligation(
        engine: str, tmp_path: Path) -> None:
    """A newcomer's finding: ``BANK-ICBC`` / ``l-1`` and ``bank-icbc`` / ``L-1`` are one loan."""
    recs = [_loan(1, "2026-01-10"), _loan(2, "2026-02-10"),
            _loan(3, "2026-03-01", COLLECTOR, loan="C-9", original_creditor="BANK-ICBC",
                  original_loan_id="l-1"),
            _loan(4, "2026-03-02", COLLECTOR, loan="C-10", original_creditor="bank - icbc",
                  original_loan_id="L -1")]
    entries, score = _evaluate(engine, recs, tmp_path)
    assert [e for e in entries if e.list == LIST] == []
    assert score[0].value == 1000 - 80


def test_the_latest_report_gives_the_state(engine: str, tmp_path: Path) -> None:
    # the collector says 20,000 is left: 20,000 + 30,000 of another loan reaches 50,000 only
    # while the first report's 30,000 would have counted; the state is the latest report
    recs = [_loan(1, "2026-01-10"), _sold(2, "2026-03-01", amount=2_000_000),
            _loan(3, "2026-03-05", loan="L-2", amount=2_900_000)]
    entries, _ = _evaluate(engine, recs, tmp_path)
    assert [e for e in entries if e.list == LIST] == []


def test_a_later_first_delinquency_moves_neither_listing_nor_score(
        engine: str, tmp_path: Path) -> None:
    lender = _loan(1, "2026-01-10", amount=6_000_000, first_delinquency_date="2025-09-01")
    before, score_before = _evaluate(engine, [lender], tmp_path)
    listed = [e for e in before if e.list == LIST]
    # anchored on the first delinquency: one year (start day not counted) from 2025-09-01
    assert [(e.since, e.until) for e in listed] == [("2025-09-01", "2026-09-02")]
    assert score_before[0].value == 920
    # the collector re-ages it: delinquent "since" 2026-03-01
    resold = _sold(2, "2026-03-01", amount=6_000_000, first_delinquency_date="2026-03-01")
    after, score_after = _evaluate(engine, [lender, resold], tmp_path)
    assert [(e.since, e.until) for e in after if e.list == LIST] == [
        ("2025-09-01", "2026-09-02")]
    assert score_after == score_before


# -- through ingest, the ledger and the API (SQLite and PostgreSQL) ---------------------------

DEBTOR = make_id(region="440103", birth="19850317", seq=57)


def _row(frid: str, day: str, **kw: Any) -> dict[str, Any]:
    return {"furnisher_record_id": frid, "kind": "loan_default", "occurred_at": day,
            "national_id": DEBTOR, "name": "陈静", "loan_id": "L-1", "amount_minor": 3_000_000,
            "currency": "CNY", "days_past_due": 120, **kw}


def _state(reg: Registry) -> tuple[list[tuple[str, str | None, str]], int]:
    with reg.store.read() as conn:
        listed = [(r.since, r.until, r.status) for r in conn.execute(
            select(list_entries).where(list_entries.c.list == LIST))]
        value = conn.execute(select(scores.c.value).order_by(scores.c.id.desc())).scalars()
        return listed, int(next(iter(value)))


def test_ingest_counts_one_obligation_once(registry: Registry, tmp_path: Path) -> None:
    furnish(registry, tmp_path, BANK[1], "lender", [_row("b1", "2026-03-10")])
    furnish(registry, tmp_path, BANK[1], "lender", [_row("b1-resent", "2026-04-10")])
    furnish(registry, tmp_path, COLLECTOR[1], "lender", [_row(
        "c1", "2026-05-01", loan_id="C-9", original_creditor=BANK[1], original_loan_id="L-1")])
    assert _state(registry) == ([], 920)
    furnish(registry, tmp_path, BANK[1], "lender", [_row("b2", "2026-05-05", loan_id="L-2")])
    assert _state(registry) == ([("2026-05-05", "2027-05-06", "active")], 840)


def test_ingest_keeps_the_first_delinquency_and_flags_the_report(
        registry: Registry, tmp_path: Path) -> None:
    furnish(registry, tmp_path, BANK[1], "lender", [_row(
        "b1", "2026-01-10", amount_minor=6_000_000, first_delinquency_date="2025-09-01")])
    before = _state(registry)
    assert before == ([("2025-09-01", "2026-09-02", "active")], 920)
    add_furnisher(registry.store, name=COLLECTOR[1], kind="lender")
    sold = _row("c1", "2026-03-01", loan_id="C-9", original_creditor=BANK[1],
                original_loan_id="L-1", amount_minor=5_500_000,
                first_delinquency_date="2026-03-01")
    result = ingest_file(registry.store, registry.policy,
                         furnisher_id=furnisher_id(registry.store, COLLECTOR[1]),
                         path=write_csv(tmp_path / "collector.csv", [sold]), as_of=TODAY)
    # accepted for its other fields, the date kept, flagged to the furnisher
    assert (result.accepted, result.rejected) == (1, 0)
    assert result.flagged == [{"file": str(tmp_path / "collector.csv"), "line": 2,
                               "field": "first_delinquency_date", "flag": DATE_KEPT_FLAG,
                               "obligation": "bank-icbc / L-1",
                               "reported": "2026-03-01", "kept": "2025-09-01"}]
    assert _state(registry) == before
    with registry.store.read() as conn:
        stored = json.loads(conn.execute(select(records.c.payload).where(
            records.c.furnisher_record_id == "c1")).scalar_one())
        flagged = kept_dates(conn)
        accepted = [json.loads(p) for p in conn.execute(select(events.c.payload).where(
            events.c.type == "record.accepted")).scalars()]
    assert stored["first_delinquency_date"] == "2025-09-01"
    assert stored["amount_minor"] == 5_500_000
    # ... and to the operator, from the ledger: what was sent and what was kept
    assert [(f["furnisher_record_id"], f["obligation"], f["reported"], f["kept"])
            for f in flagged] == [("c1", "bank-icbc / L-1", "2026-03-01", "2025-09-01")]
    assert accepted[-1]["payload"]["first_delinquency_date"] == "2025-09-01"
    # the ledger alone rebuilds the same records and entries
    result_replay = replay(registry.store, list_public={
        n: s.public for n, s in registry.policy.lists.items()})
    assert result_replay.first_difference is None, result_replay.first_difference.describe()
    assert DATE_KEPT_EVENT not in result_replay.unknown_event_types


def test_a_first_delinquency_after_the_first_report_is_not_taken(
        registry: Registry, tmp_path: Path) -> None:
    # the bank reported the loan delinquent on 2026-01-10 without the date; a collector's
    # later "first delinquency" of 2026-03-01 cannot be: it keeps 2026-01-10
    furnish(registry, tmp_path, BANK[1], "lender", [_row("b1", "2026-01-10")])
    add_furnisher(registry.store, name=COLLECTOR[1], kind="lender")
    result = ingest_file(registry.store, registry.policy,
                         furnisher_id=furnisher_id(registry.store, COLLECTOR[1]),
                         path=write_csv(tmp_path / "c.csv", [_row(
                             "c1", "2026-04-01", first_delinquency_date="2026-03-01",
                             original_creditor=BANK[1])]), as_of=TODAY)
    assert [(f["reported"], f["kept"]) for f in result.flagged] == [
        ("2026-03-01", "2026-01-10")]
    # an earlier date is no re-aging: taken as sent, unflagged
    again = ingest_file(registry.store, registry.policy,
                        furnisher_id=furnisher_id(registry.store, COLLECTOR[1]),
                        path=write_csv(tmp_path / "c2.csv", [_row(
                            "c2", "2026-04-02", first_delinquency_date="2025-12-01",
                            original_creditor=BANK[1])]), as_of=TODAY)
    assert (again.accepted, again.flagged) == (1, [])


def test_every_report_of_an_obligation_retires_from_its_first_delinquency(
        registry: Registry, tmp_path: Path) -> None:
    furnish(registry, tmp_path, BANK[1], "lender", [_row(
        "b1", "2020-02-01", first_delinquency_date="2020-01-01")])
    # bought and re-reported four years later, without the date: still the same obligation
    furnish(registry, tmp_path, COLLECTOR[1], "lender", [_row(
        "c1", "2024-06-01", loan_id="C-9", original_creditor=BANK[1], original_loan_id="L-1"),
        _row("c2", "2024-06-01", loan_id="C-10")])
    with registry.store.read() as conn:
        ids = dict(conn.execute(select(records.c.furnisher_record_id, records.c.id)).all())
    # five years (1,825 days) from 2020-01-01 have passed on TODAY; C-10's from 2024 have not
    assert due_for_retention(registry.store, registry.policy, TODAY) == sorted(
        [ids["b1"], ids["c1"]])


def test_a_transfer_without_its_creditor_is_quarantined(
        registry: Registry, tmp_path: Path) -> None:
    add_furnisher(registry.store, name=COLLECTOR[1], kind="lender")
    bad = _row("c1", "2026-03-01", loan_id="C-9", original_loan_id="L-1")
    result = ingest_file(registry.store, registry.policy,
                         furnisher_id=furnisher_id(registry.store, COLLECTOR[1]),
                         path=write_csv(tmp_path / "collector.csv",
                                        [bad, _row("c2", "2026-03-01")]), as_of=TODAY)
    assert (result.accepted, result.rejected) == (1, 1)
    assert result.problems[0]["field"] == "original_loan_id"
    assert "original creditor" in result.problems[0]["reason"]


def test_the_api_answer_flags_a_re_aged_report(registry: Registry) -> None:
    keys = {name: add_furnisher(registry.store, name=name, kind="lender")
            for name in (BANK[1], COLLECTOR[1])}
    with running(registry) as base, httpx.Client(base_url=base, timeout=10) as c:
        first = c.post("/v1/records", json={"records": [_row(
            "b1", "2026-01-10", first_delinquency_date="2025-09-01")]},
            headers={"Authorization": f"Bearer {keys[BANK[1]]}"})
        assert first.status_code == 200 and first.json()["flagged"] == []
        again = c.post("/v1/records", json={"records": [_row(
            "c1", "2026-03-01", loan_id="C-9", original_creditor=BANK[1],
            original_loan_id="L-1", first_delinquency_date="2026-03-01")]},
            headers={"Authorization": f"Bearer {keys[COLLECTOR[1]]}"})
        # the operator's list (and the furnisher's own) from the ledger
        ops = add_operator(registry.store, name="ops")
        listed = c.get("/v1/furnisher/kept-dates", headers={"Authorization": f"Bearer {ops}"})
        own = {name: c.get("/v1/furnisher/kept-dates",
                           headers={"Authorization": f"Bearer {key}"}).json()["count"]
               for name, key in keys.items()}
    assert listed.status_code == 200, listed.text
    assert [(d["furnisher_record_id"], d["obligation"], d["reported"], d["kept"])
            for d in listed.json()["data"]] == [("c1", "bank-icbc / L-1", "2026-03-01",
                                                 "2025-09-01")]
    assert own == {BANK[1]: 0, COLLECTOR[1]: 1}
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["accepted"] == 1
    assert [(f["flag"], f["field"], f["reported"], f["kept"]) for f in body["flagged"]] == [
        (DATE_KEPT_FLAG, "first_delinquency_date", "2026-03-01", "2025-09-01")]


def test_a_transfer_of_an_obligation_nobody_reported_is_kept_and_flagged(
        registry: Registry) -> None:
    """Issue #19, bad input: a collector's report naming a loan of the bank that the bank
    never reported is accepted (an obligation of its own: its debt still counts) and flagged
    to the collector, in its answer and from the ledger; one that names a loan the bank did
    report is not."""
    keys = {name: add_furnisher(registry.store, name=name, kind="lender")
            for name in (BANK[1], COLLECTOR[1])}
    ops = add_operator(registry.store, name="ops")
    bought = {"original_creditor": BANK[1], "first_delinquency_date": "2026-02-01"}
    with running(registry) as base, httpx.Client(base_url=base, timeout=10) as c:
        def send(who: str, *rows: dict[str, Any]) -> Any:
            answer = c.post("/v1/records", json={"records": list(rows)},
                            headers={"Authorization": f"Bearer {keys[who]}"})
            assert answer.status_code == 200, answer.text
            return answer.json()

        send(BANK[1], _row("b1", "2026-02-10", loan_id="L-1"))
        unmatched = send(COLLECTOR[1], _row("c1", "2026-03-01", loan_id="C-1",
                                            original_loan_id="L-404", **bought))
        matched = send(COLLECTOR[1], _row("c2", "2026-03-01", loan_id="C-2",
                                          original_loan_id="L-1", **bought))
        listed = c.get("/v1/furnisher/unmatched-transfers",
                       headers={"Authorization": f"Bearer {ops}"})
        own = {name: c.get("/v1/furnisher/unmatched-transfers",
                           headers={"Authorization": f"Bearer {key}"}).json()["count"]
               for name, key in keys.items()}
    assert unmatched["accepted"] == 1
    assert [(f["flag"], f["field"], f["obligation"]) for f in unmatched["flagged"]] == [
        (UNMATCHED_FLAG, "original_creditor", "bank-icbc / L-404")]
    assert matched["accepted"] == 1 and matched["flagged"] == []
    assert listed.status_code == 200, listed.text
    assert [(d["furnisher_record_id"], d["obligation"]) for d in listed.json()["data"]] == [
        ("c1", "bank-icbc / L-404")]
    assert own == {BANK[1]: 0, COLLECTOR[1]: 1}
    # the unmatched debt still counts, as an obligation of its own: two loans, not one
    with registry.store.read() as conn:
        held = conn.execute(select(records.c.furnisher_record_id).where(
            records.c.status == "active").order_by(records.c.id)).scalars().all()
    assert held == ["b1", "c1", "c2"]
    rebuilt = replay(registry.store, list_public={
        n: s.public for n, s in registry.policy.lists.items()})
    assert rebuilt.first_difference is None, rebuilt.first_difference.describe()
    assert "record.transfer_unmatched" not in rebuilt.unknown_event_types


def test_a_re_aging_report_resets_no_clock_through_its_days_past_due(
        registry: Registry, tmp_path: Path) -> None:
    """A newcomer's finding: a debt buyer's report with a later date of first delinquency and
    the few days past due that date gives keeps the held date, and its days count from it."""
    furnish(registry, tmp_path, BANK[1], "lender", [_row(
        "b1", "2026-04-01", amount_minor=6_000_000, first_delinquency_date="2026-01-01",
        days_past_due=90)])
    before = _state(registry)
    assert before[0] and before[0][0][2] == "active"
    add_furnisher(registry.store, name=COLLECTOR[1], kind="lender")
    result = ingest_file(registry.store, registry.policy,
                         furnisher_id=furnisher_id(registry.store, COLLECTOR[1]),
                         path=write_csv(tmp_path / "c.csv", [_row(
                             "c1", "2026-05-01", loan_id="C-9", original_creditor=BANK[1],
                             original_loan_id="L-1", amount_minor=6_000_000,
                             first_delinquency_date="2026-04-20", days_past_due=11)]),
                         as_of=TODAY)
    assert [f["flag"] for f in result.flagged] == [DATE_KEPT_FLAG]
    with registry.store.read() as conn:
        stored = json.loads(conn.execute(select(records.c.payload).where(
            records.c.furnisher_record_id == "c1")).scalar_one())
    # 2026-01-01 to 2026-05-01: 120 days, not the 11 the report gives from its own date
    assert (stored["first_delinquency_date"], stored["days_past_due"]) == ("2026-01-01", 120)
    assert _state(registry)[0] == before[0]  # still listed, from the same day


def test_a_creditor_named_by_its_legal_name_is_the_furnisher_by_its_alias(
        registry: Registry, tmp_path: Path) -> None:
    """A collector names the bank by its legal name ("Industrial and Commercial Bank of
    China", any case, with or without its legal form): with the bank's alias registered, its
    report is the bank's obligation (kept under the bank's furnisher name, no unmatched
    transfer), counted once in the listing, the score and at the gate, and the alias
    survives a replay of the ledger; an alias naming another furnisher is refused."""
    from socialcredit.errors import Conflict
    from socialcredit.ingest.creditors import add_alias, list_aliases

    furnish(registry, tmp_path, BANK[1], "lender", [_row("b1", "2026-03-10")])
    add_furnisher(registry.store, name=COLLECTOR[1], kind="lender")
    added = add_alias(registry.store, furnisher=BANK[1],
                      alias="Industrial and Commercial Bank of China Limited")
    assert added["key"] == "industrialandcommercialbankofchina"
    assert add_alias(registry.store, furnisher=BANK[1], alias="INDUSTRIAL AND COMMERCIAL "
                     "BANK OF CHINA LTD.")["alias_id"] == added["alias_id"]  # the same name
    with pytest.raises(Conflict, match="already names furnisher 'bank-icbc'"):
        add_alias(registry.store, furnisher=COLLECTOR[1],
                  alias="industrial and commercial bank of china co., ltd.")
    assert [a["alias"] for a in list_aliases(registry.store)] == [
        "Industrial and Commercial Bank of China Limited"]
    result = ingest_file(registry.store, registry.policy,
                         furnisher_id=furnisher_id(registry.store, COLLECTOR[1]),
                         path=write_csv(tmp_path / "c.csv", [_row(
                             "c1", "2026-05-01", loan_id="C-9", original_loan_id="L-1",
                             original_creditor="INDUSTRIAL AND COMMERCIAL BANK OF CHINA")]),
                         as_of=TODAY)
    assert (result.accepted, result.flagged) == (1, [])
    with registry.store.read() as conn:
        kept = json.loads(conn.execute(select(records.c.payload).where(
            records.c.furnisher_record_id == "c1")).scalar_one())
    assert kept["original_creditor"] == BANK[1]
    assert _state(registry) == ([], 920)  # one 30,000 CNY obligation: under 50,000, once
    registry.gate_index.refresh()
    assert registry.decisions.decide(service="credit", national_id=DEBTOR).decision == "allow"
    rebuilt = replay(registry.store, list_public={n: s.public
                                                  for n, s in registry.policy.lists.items()})
    assert rebuilt.first_difference is None, rebuilt.first_difference.describe()
    assert "furnisher.alias_added" not in rebuilt.unknown_event_types
