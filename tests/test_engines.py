"""One definition, every engine: the compiled policy on DuckDB and local Spark gives the
entries and scores of the reference rules (:mod:`socialcredit.policy.rules`).

Random histories are drawn from the policy's own catalogue (every field by its type, values
from small pools so that case numbers, loan ids and dates collide); the same records go through
the reference directly, through the Parquet export with ``engine="python"``, and through the
compiled policy on DuckDB and Spark. Spark runs in local mode with one session for the module
(skipped only where pyspark cannot be imported).

Longer than 400 lines: the hand-checked cases share this module's record builders, engine
fixture and Spark session with the property tests; new hand-checked cases go to their own
module (e.g. ``test_incentives_engines.py``) importing them.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcredit.policy.batch import (
    evaluate_parquet,
    evaluate_parquet_frames,
    write_records_parquet,
)
from socialcredit.policy.model import Policy, load_policy
from socialcredit.policy.rules import RecordView, evaluate_records, kinds_read

#: pyspark's Arrow collection leaves a local socket to the garbage collector (pyspark 4.0.5)
pytestmark = pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")

POLICY_DIR = Path(__file__).resolve().parents[1] / "src" / "socialcredit" / "policy"
DEFAULT = load_policy(POLICY_DIR / "default.yaml")
STRICT = load_policy(POLICY_DIR / "strict.yaml")


def _variant() -> Policy:
    """The default policy with a warning period, day periods, removal by anyone, an exemption
    by record on the trigger list, a score with fractional decay that can go negative, a
    score-fed list, and red lists fed by criteria and by a score grade (what the shipped
    policies do not exercise)."""
    data = yaml.safe_load((POLICY_DIR / "default.yaml").read_text(encoding="utf-8"))
    djd = data["lists"]["dishonest_judgment_debtors"]
    djd.pop("period_years")
    djd.update(period_days=400, warning_days=30, removal_by_lister=False)
    djd["exemptions"].append({"name": "student", "record": "student_status",
                              "record_when": {"full_time": True}, "within_days": 200,
                              "when": {"ground": [1, 4]}, "reason": "a test exemption"})
    data["lists"]["unruly_passengers"].update(period_years=2)
    data["lists"]["repeat_fare_evaders"]["criteria"].update(at_least=2, window_days=60)
    data["lists"]["ride_hail_low_rating"]["rating"].update(window=4, min_count=2, below=2.7,
                                                           warnings=1)
    score = data["scores"]["personal_credit"]
    # 33 % of even points leaves fractions: the floor of negative hundredths is exercised
    score.update(base=100, min=-330, max=300, reason_codes=2,
                 decay=[{"days": 200, "percent": 100}, {"days": 500, "percent": 33}])
    score["grades"] = [{"grade": "A", "min": 100}, {"grade": "B", "min": 0},
                       {"grade": "C", "min": -330}]
    data["lists"]["low_score"] = {
        "title": "Low score", "legal_basis": "a test list", "score": {
            "name": "personal_credit", "below": -40}}
    # red lists (issue #13): by criteria over ratings (two A grades within two years) and by
    # a score's top grade, beside the default's trigger red list
    data["lists"]["steady_a_grade"] = {
        "title": "Steady A grade", "legal_basis": "a test red list", "effect": "incentive",
        "period_days": 300, "criteria": {
            "kind": "tax_credit_rating", "aggregate": "count", "at_least": 2,
            "window_days": 730, "when": {"grade": "A"},
            "cured_by": {"kind": "tax_credit_rating", "key": "rating_year",
                         "when": {"grade": ["C", "D"]}}}}
    data["lists"]["top_score"] = {
        "title": "Top score", "legal_basis": "a test red list", "effect": "incentive",
        "score": {"name": "personal_credit", "grades": ["A"]}}
    data["incentives"].append({"list": "steady_a_grade", "legal_basis": "a test incentive",
                               "benefits": {"permits": ["green_channel"]}})
    return Policy.model_validate(data)


VARIANT = _variant()


def _grace() -> Policy:
    """The default policy with a grace period of two calendar months before a dishonesty
    listing (#13 item 3; SPC Opinions Fa Fa [2019] No. 35 allow one to three): counted as a
    period is, so a finding on 29 February or a month's last day meets the month's end."""
    data = yaml.safe_load((POLICY_DIR / "default.yaml").read_text(encoding="utf-8"))
    data["lists"]["dishonest_judgment_debtors"]["grace_months"] = 2
    return Policy.model_validate(data)


GRACE = _grace()

FURNISHERS = {"court": [(1, "court-a"), (2, "court-b")], "lender": [(3, "bank")],
              "payment": [(4, "pay")], "school": [(5, "school")], "transport": [(6, "rail")],
              "platform": [(7, "ride-didi"), (8, "ride-caocao")],
              "regulator": [(9, "tax-bj")]}
ALL_FURNISHERS = [f for fs in FURNISHERS.values() for f in fs]
START = dt.date(2023, 1, 1)
#: days on which periods start and end in the drawn histories (29 February included)
EDGE_DAYS = [dt.date(2024, 2, 29), dt.date(2025, 2, 28), dt.date(2025, 3, 1),
             dt.date(2026, 2, 28), dt.date(2024, 12, 31), dt.date(2026, 3, 31)]


@st.composite
def _value(draw: st.DrawFn, name: str, spec: Any) -> Any:
    if spec.type == "money":
        return draw(st.sampled_from([100_000, 1_500_000, 2_000_000, 3_000_000, 6_000_000]))
    if spec.type == "int":
        lo = spec.min if spec.min is not None else 0
        hi = spec.max if spec.max is not None else lo + 200
        pool = sorted({lo, hi, *(v for v in (30, 59, 60, 89, 90, 91, 120) if lo <= v <= hi)})
        return draw(st.sampled_from(pool) | st.integers(lo, min(hi, lo + 6)))
    if spec.type == "bool":
        return draw(st.booleans())
    if spec.type in ("enum",):
        return draw(st.sampled_from(list(spec.choices)))
    if spec.type == "currency":
        return "CNY"
    if spec.type == "date":
        return (START + dt.timedelta(days=draw(st.integers(0, 1200)))).isoformat()
    return draw(st.sampled_from(["K1", "K2"]))


def _scenarios(policy: Policy) -> list[tuple[str, list[str]]]:
    """Per list, the kinds it reads (source, removal, extension, cure, exemption, lifting):
    a subject's history draws on one or two of these, so that they meet."""
    out = []
    for name, spec in policy.lists.items():
        rule = spec.trigger or spec.criteria or spec.rating
        if rule is None:
            continue
        kinds = {rule.kind, *(r.kind for r in spec.removal),
                 *(e.record for e in spec.exemptions if e.record)}
        if spec.extension is not None:
            kinds.add(spec.extension.kind)
        if spec.criteria is not None and spec.criteria.cured_by is not None:
            kinds.add(spec.criteria.cured_by.kind)
        kinds.update(s.lifting.kind for s in policy.sanctions_for(name) if s.lifting)
        out.append((rule.kind, sorted(kinds)))
    return out


@st.composite
def histories(draw: st.DrawFn, policy: Policy, subjects: int) -> list[RecordView]:
    """Records of up to ``subjects`` subjects: each draws on the kinds of one or two lists
    (and now and then any kind the policy reads), on dates clustered around a base day so
    that windows and periods are reached."""
    scenarios = _scenarios(policy)
    kinds = sorted(kinds_read(policy))
    out: list[RecordView] = []
    rid = 0
    for sid in range(1, draw(st.integers(1, subjects)) + 1):
        chosen = draw(st.lists(st.sampled_from(scenarios), min_size=1, max_size=2))
        lead = chosen[0][0]  # the source kind of the first list: half the records
        mine = sorted({k for _, ks in chosen for k in ks}
                      | set(draw(st.lists(st.sampled_from(kinds), max_size=1))))
        base = draw(st.integers(0, 900) | st.sampled_from([(d - START).days - 365
                                                         for d in EDGE_DAYS]))
        spread = draw(st.sampled_from([20, 120, 400, 1100]))
        for _ in range(draw(st.integers(2, 16))):
            kind = draw(st.sampled_from([lead, *mine]) if draw(st.booleans()) else st.just(lead))
            spec = policy.catalogue[kind]
            pool = [f for k in (spec.furnisher_kinds or FURNISHERS) for f in FURNISHERS[k]]
            fid, fname = draw(st.sampled_from(pool or ALL_FURNISHERS))
            payload = {}
            for name, fspec in spec.fields.items():
                if not fspec.required and draw(st.booleans()):
                    continue
                payload[name] = draw(_value(name, fspec))
            day = START + dt.timedelta(days=max(0, base + draw(st.integers(0, spread))))
            rid += draw(st.integers(1, 3))
            out.append(RecordView(rid, sid, fid, fname, f"r{draw(st.integers(1, 4))}", kind,
                                  day.isoformat(), payload))
    # ids are not in date order: ties on a date are broken by id, not by position
    return out


as_of_days = st.sampled_from(EDGE_DAYS) | st.dates(dt.date(2023, 6, 1), dt.date(2027, 6, 1))


def _reference(policy: Policy, recs: list[RecordView], as_of: dt.date) -> tuple[list, list]:
    by: dict[int, list[RecordView]] = {}
    for r in recs:
        by.setdefault(r.subject_id, []).append(r)
    entries, scores = [], []
    for sid, mine in by.items():
        out = evaluate_records(policy, sid, mine, as_of)
        entries += out.entries
        scores += out.scores
    return (sorted(entries, key=lambda e: (e.list, e.subject_id, e.key)),
            sorted(scores, key=lambda s: (s.score, s.subject_id)))


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pytest.importorskip("pyspark", reason="the Spark engine needs socialcredit[spark]")
    from socialcredit.identity.model import local_spark

    session = local_spark(tmp_path_factory.mktemp("spark"))
    # tiny inputs: per-query planning and code generation dominate, not the data
    for key, value in {"spark.sql.shuffle.partitions": "1",
                       "spark.sql.adaptive.enabled": "false",
                       "spark.sql.codegen.wholeStage": "false",
                       "spark.sql.codegen.factoryMode": "NO_CODEGEN"}.items():
        session.conf.set(key, value)
    yield session
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "unclosed <socket.socket", ResourceWarning)
        gc.collect()


def _check(policy: Policy, recs: list[RecordView], as_of: dt.date, path: Path,
           engines: tuple[str, ...], spark: Any = None) -> None:
    entries, scores = _reference(policy, recs, as_of)
    write_records_parquet(policy, recs, path)
    for engine in ("python", *engines):
        got = evaluate_parquet(policy, path, as_of, engine=engine,  # type: ignore[arg-type]
                               spark=spark)
        assert got.entries == entries, engine
        assert got.scores == scores, engine
        assert got.rows == len(recs)


POLICIES = {"default": DEFAULT, "strict": STRICT, "variant": VARIANT, "grace": GRACE}
#: Examples per property test: bounded for CI (the Spark engine takes seconds per example); set
#: SOCIALCREDIT_PROPERTY_EXAMPLES=N to run N times as many (e.g. 5 before a release).
_SCALE = max(1, int(os.environ.get("SOCIALCREDIT_PROPERTY_EXAMPLES", "1")))
_SETTINGS = dict(deadline=None, derandomize=False,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("name", sorted(POLICIES))
@settings(max_examples=15 * _SCALE, **_SETTINGS)  # type: ignore[arg-type]
@given(data=st.data())
def test_duckdb_equals_rules(name: str, data: st.DataObject, tmp_path: Path) -> None:
    policy = POLICIES[name]
    recs = data.draw(histories(policy, 12))
    _check(policy, recs, data.draw(as_of_days), tmp_path / "r.parquet", ("duckdb",))


@pytest.mark.parametrize("name", sorted(POLICIES))
@settings(max_examples=6 * _SCALE, **_SETTINGS)  # type: ignore[arg-type]
@given(data=st.data())
def test_spark_equals_rules(name: str, data: st.DataObject, tmp_path: Path,
                            spark: Any) -> None:
    policy = POLICIES[name]
    recs = data.draw(histories(policy, 25))
    _check(policy, recs, data.draw(as_of_days), tmp_path / "r.parquet", ("spark",), spark)


# -- hand-checked cases: expected values worked out from the policy text, not from a run ----

def _rec(rid: int, kind: str, day: str, fid: int = 6, furnisher: str = "rail",
         sid: int = 1, **payload: Any) -> RecordView:
    return RecordView(rid, sid, fid, furnisher, f"r{rid}", kind, day, payload)


def _fare(rid: int, day: str, service: str = "rail") -> RecordView:
    return _rec(rid, "fare_evasion", day, service=service, amount_minor=2_000,
                currency="CNY")


def _finding(rid: int, day: str, case: str = "K1") -> RecordView:
    return _rec(rid, "dishonesty_finding", day, 1, "court-a", case_number=case, ground=1,
                amount_minor=100_000, currency="CNY")


@pytest.fixture(params=["python", "duckdb"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _run(recs: list[RecordView], as_of: dt.date, tmp_path: Path, engine: str,
         policy: Policy = DEFAULT) -> Any:
    path = write_records_parquet(policy, recs, tmp_path / "hand.parquet")
    return evaluate_parquet(policy, path, as_of, engine=engine)  # type: ignore[arg-type]


def test_three_rail_fare_evasions_in_a_year_list_on_the_third(tmp_path: Path,
                                                              engine: str) -> None:
    # 2025-01-10 .. 2025-12-20 is 344 days: all three lie in the 365-day window of the
    # third; 180 days from 2025-12-20, the start day not counted (Civil Code art. 201), end
    # with 2026-06-18: ``until`` (exclusive) is 2026-06-19
    recs = [_fare(1, "2025-01-10"), _fare(2, "2025-06-01"), _fare(3, "2025-12-20")]
    (e,) = [x for x in _run(recs, dt.date(2026, 6, 18), tmp_path, engine).entries
            if x.list == "repeat_fare_evaders"]
    assert (e.key, e.status, e.since, e.until, e.record_id) == (
        "2025-12-20", "active", "2025-12-20", "2026-06-19", 3)
    # on 2026-06-19 the restriction has ended
    (e,) = [x for x in _run(recs, dt.date(2026, 6, 19), tmp_path, engine).entries
            if x.list == "repeat_fare_evaders"]
    assert (e.status, e.ended_on, e.end_reason) == ("expired", "2026-06-19", "period_ended")


def test_two_in_a_year_or_metro_evasions_do_not_list(tmp_path: Path, engine: str) -> None:
    # the third is 400 days after the first: its window (2025-02-14, 2026-02-14] holds two
    spread = [_fare(1, "2025-01-10"), _fare(2, "2025-06-01"), _fare(3, "2026-02-14")]
    metro = [_fare(4, "2025-01-10", "metro"), _fare(5, "2025-01-11", "metro"),
             _fare(6, "2025-01-12", "metro"), _fare(7, "2025-01-13")]
    for recs in (spread, metro):
        got = _run(recs, dt.date(2026, 3, 1), tmp_path, engine)
        assert [x for x in got.entries if x.list == "repeat_fare_evaders"] == []


def test_a_listing_of_29_february_ends_on_28_february(tmp_path: Path, engine: str) -> None:
    # two years from 2024-02-29: no 29 February in 2026, so the month's last day is the
    # last day (Civil Code art. 202); listed through 2026-02-28, ended on 2026-03-01
    recs = [_finding(1, "2024-02-29")]
    (e,) = _run(recs, dt.date(2026, 2, 28), tmp_path, engine).entries
    assert (e.status, e.since, e.until) == ("active", "2024-02-29", "2026-03-01")
    (e,) = _run(recs, dt.date(2026, 3, 1), tmp_path, engine).entries
    assert (e.status, e.ended_on) == ("expired", "2026-03-01")
    # one more year by the listing court, from the last day 2026-02-28: through 2027-02-28
    ext = _rec(2, "listing_extended", "2025-01-01", 1, "court-a", case_number="K1", years=1)
    (e,) = _run([*recs, ext], dt.date(2026, 3, 1), tmp_path, engine).entries
    assert (e.status, e.until) == ("active", "2027-03-01")
    # another court's extension and performance are ignored (removal_by_lister)
    other = [_rec(3, "listing_extended", "2025-01-01", 2, "court-b", case_number="K1",
                  years=3),
             _rec(4, "judgment_performance", "2025-02-01", 2, "court-b", case_number="K1",
                  amount_minor=100_000, currency="CNY", full=True)]
    (e,) = _run([*recs, *other], dt.date(2025, 6, 1), tmp_path, engine).entries
    assert (e.status, e.until) == ("active", "2026-03-01")


def test_low_ratings_warn_twice_then_refuse(tmp_path: Path, engine: str) -> None:
    # five ratings of 2: the mean 2 < 3.5 with the minimum count reached at the fifth (the
    # first low rating); the second warning is the sixth, the seventh refuses
    recs = [_rec(i, "ride_rating", f"2026-05-{i:02d}", 7, "ride-didi", rating=2,
                 trip_id=f"t{i}") for i in range(1, 8)]
    got = _run(recs[:6], dt.date(2026, 6, 1), tmp_path, engine)
    (e,) = [x for x in got.entries if x.list == "ride_hail_low_rating"]
    assert (e.status, e.since, e.key, e.record_id) == ("warned", "2026-05-05", "ride-didi", 5)
    (e,) = [x for x in _run(recs, dt.date(2026, 6, 1), tmp_path, engine).entries
            if x.list == "ride_hail_low_rating"]
    # 180 days from 2026-05-07, the start day not counted, end with 2026-11-03
    assert (e.status, e.since, e.until) == ("active", "2026-05-07", "2026-11-04")


def test_score_decays_and_names_the_costly_factors(tmp_path: Path, engine: str) -> None:
    as_of = dt.date(2026, 1, 1)
    # a fare evasion 100 days old costs 20 points, one 400 days old half of that; an unruly
    # passenger record of 800 days counts nothing: 1000 - 20 - 10 = 970, grade A (>= 950)
    recs = [_fare(1, (as_of - dt.timedelta(days=100)).isoformat()),
            _fare(2, (as_of - dt.timedelta(days=400)).isoformat(), "bus"),
            _rec(3, "unruly_passenger", (as_of - dt.timedelta(days=800)).isoformat(),
                 service="air", conduct="smoking_on_board")]
    (s,) = _run(recs, as_of, tmp_path, engine).scores
    assert (s.value, s.grade, s.reasons) == (970, "A", ("T01",))


# -- a real registry: the batch engine over the export equals what ingest wrote -------------

def test_export_of_a_real_store_evaluates_as_incremental(sqlite_url: str,
                                                          tmp_path: Path) -> None:
    """Records ingested from furnisher files into a SQLite registry (each ingest evaluates
    its subjects); the Parquet export evaluated on DuckDB gives the entries the registry holds
    and the scores it recorded. All records carry checksum-valid IDs: no entry is held for
    review, and there are no disputes or repairs to overlay."""
    from sqlalchemy import select

    from conftest import TODAY, make_id, write_csv
    from socialcredit.api.keys import add_furnisher, furnisher_id
    from socialcredit.api.registry import Registry
    from socialcredit.ingest.pipeline import ingest_file
    from socialcredit.policy.batch import export_records
    from socialcredit.settings import Settings
    from socialcredit.store.tables import list_entries, scores

    reg = Registry(Settings(database_url=sqlite_url), today=TODAY)
    reg.ensure_schema()
    ids = [make_id(seq=100 + i) for i in range(6)]
    court = [  # listed; performed in full (removed); expired; extended; an exempt officer
        {"kind": "dishonesty_finding", "occurred_at": "2025-03-01", "national_id": ids[0],
         "case_number": "K1", "ground": 2, "amount_minor": 500_000, "currency": "CNY"},
        {"kind": "dishonesty_finding", "occurred_at": "2025-01-10", "national_id": ids[1],
         "case_number": "K2", "ground": 1, "amount_minor": 500_000, "currency": "CNY"},
        {"kind": "judgment_performance", "occurred_at": "2025-04-01", "national_id": ids[1],
         "case_number": "K2", "amount_minor": 500_000, "currency": "CNY", "full": True},
        {"kind": "dishonesty_finding", "occurred_at": "2024-02-29", "national_id": ids[2],
         "case_number": "K3", "ground": 4, "amount_minor": 500_000, "currency": "CNY"},
        {"kind": "dishonesty_finding", "occurred_at": "2024-02-29", "national_id": ids[3],
         "case_number": "K4", "ground": 3, "amount_minor": 500_000, "currency": "CNY"},
        {"kind": "listing_extended", "occurred_at": "2025-05-05", "national_id": ids[3],
         "case_number": "K4", "years": 2},
        {"kind": "restriction_lifted", "occurred_at": "2026-06-01", "national_id": ids[3],
         "case_number": "K4", "service": "air"},
        {"kind": "dishonesty_finding", "occurred_at": "2026-01-05", "national_id": ids[4],
         "case_number": "K5", "ground": 1, "amount_minor": 500_000, "currency": "CNY",
         "debtor_role": "company_officer"},
    ]
    rail = [{"kind": "fare_evasion", "occurred_at": day, "national_id": ids[5],
             "service": "rail", "amount_minor": 1_500, "currency": "CNY"}
            for day in ("2025-09-01", "2025-12-24", "2026-03-03", "2026-03-03")]
    bank = [{"kind": "loan_default", "occurred_at": "2026-02-01", "national_id": ids[0],
             "loan_id": "L1", "amount_minor": 6_000_000, "currency": "CNY",
             "days_past_due": 120}]
    ride = [{"kind": "ride_rating", "occurred_at": f"2026-05-{i + 1:02d}",
             "national_id": ids[4], "rating": 1 + i % 2, "trip_id": f"t{i}"}
            for i in range(8)]
    for name, kind, rows in (("court-a", "court", court), ("rail", "transport", rail),
                             ("bank", "lender", bank), ("ride-didi", "platform", ride)):
        add_furnisher(reg.store, name=name, kind=kind)
        for i, row in enumerate(rows):
            row["furnisher_record_id"] = f"{name}-{i}"
        path = write_csv(tmp_path / f"{name}.csv", rows)
        result = ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, name),
                             path=path, as_of=TODAY)
        assert result.rejected == 0, result.problems

    path = tmp_path / "export.parquet"
    assert export_records(reg.store, reg.policy, path) == len(court + rail + bank + ride)
    got = evaluate_parquet(reg.policy, path, TODAY, engine="duckdb")
    fields = ("list", "subject_id", "key", "status", "since", "until", "ground", "record_id",
              "furnisher_id", "platform", "ended_on", "end_reason", "end_record_id")
    with reg.store.read() as conn:
        held = {tuple(getattr(r, f) for f in fields) for r in conn.execute(select(list_entries))}
        newest: dict[tuple[int, str], Any] = {}
        for r in conn.execute(select(scores).order_by(scores.c.id)):
            newest[(r.subject_id, r.score)] = r
    batch = {tuple(getattr(e, f) for f in fields) for e in got.entries if e.status != "exempt"}
    assert batch == held
    statuses = {(e[0], e[3]) for e in held}
    assert {("dishonest_judgment_debtors", s) for s in ("active", "removed", "expired")} <= \
        statuses and ("repeat_fare_evaders", "active") in statuses
    assert ("serious_loan_defaulters", "active") in statuses
    assert {e.status for e in got.entries if e.list == "ride_hail_low_rating"} == {"active"}
    assert [e.end_reason for e in got.entries if e.status == "exempt"] == [
        "exempt:company_officer"]
    assert [e.lifted for e in got.entries if e.lifted] == [(("air", None),)]
    import json

    assert {(s.subject_id, s.score): (s.value, s.grade, list(s.reasons))
            for s in got.scores} == {k: (r.value, r.grade, json.loads(r.reasons))
                                     for k, r in newest.items()}
    # the frames hold the same results on every engine
    frames = evaluate_parquet_frames(reg.policy, path, TODAY, engine="duckdb")
    assert frames[0].to_pylist() == evaluate_parquet_frames(
        reg.policy, path, TODAY, engine="python")[0].to_pylist()
    reg.close()


def test_a_removal_record_matching_two_rules_takes_the_first_rules_reason(
        tmp_path: Path, engine: str) -> None:
    import yaml

    data = yaml.safe_load((POLICY_DIR / "default.yaml").read_text(encoding="utf-8"))
    removal = data["lists"]["dishonest_judgment_debtors"]["removal"]
    # a full performance matches both rules of kind judgment_performance: the first one wins
    removal[:1] = [{"kind": "judgment_performance", "key": "case_number",
                    "when": {"full": True}, "reason": "performed"},
                   {"kind": "judgment_performance", "key": "case_number",
                    "reason": "paid_something"}]
    path = tmp_path / "two-rules.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    policy = load_policy(path)
    paid = _rec(2, "judgment_performance", "2025-03-01", 1, "court-a", case_number="K1",
                amount_minor=100_000, currency="CNY", full=True)
    (e,) = _run([_finding(1, "2025-01-10"), paid], dt.date(2025, 6, 1), tmp_path, engine,
                policy).entries
    assert (e.status, e.end_reason, e.end_record_id) == ("removed", "performed", 2)
    part = _rec(3, "judgment_performance", "2025-02-01", 1, "court-a", case_number="K1",
                amount_minor=1_000, currency="CNY", full=False)
    (e,) = _run([_finding(1, "2025-01-10"), paid, part], dt.date(2025, 6, 1), tmp_path,
                engine, policy).entries
    assert (e.status, e.end_reason, e.end_record_id) == ("removed", "paid_something", 3)


def test_a_policy_with_scores_and_no_lists_runs_on_every_engine(
        tmp_path: Path, engine: str) -> None:
    # the same policy content under another list set: compiled anew, not taken from the cache
    data = DEFAULT.model_dump()
    data.update(lists={}, sanctions=[], sharing=[], incentives=[])
    score = data["scores"]["personal_credit"]
    score["factors"] = [f for f in score["factors"] if f["list"] is None]
    scores_only = Policy.model_validate(data)
    recs = [_fare(1, "2026-01-10", "metro")]
    got = _run(recs, dt.date(2026, 3, 1), tmp_path, engine, scores_only)
    assert got.entries == []
    assert [(s.score, s.value, s.reasons) for s in got.scores] == [
        ("personal_credit", 980, ("T01",))]
    full = _run(recs, dt.date(2026, 3, 1), tmp_path, engine)
    assert [s.value for s in full.scores] == [980]


def test_a_full_performance_on_the_findings_own_day_removes_it(tmp_path: Path,
                                                               engine: str) -> None:
    """A court that records the finding and the full performance on one day: the entry is
    removed that day on every engine (the compiled plan once compared the days strictly)."""
    paid = _rec(2, "judgment_performance", "2025-01-10", 1, "court-a", case_number="K1",
                amount_minor=100_000, currency="CNY", full=True)
    (e,) = _run([_finding(1, "2025-01-10"), paid], dt.date(2025, 6, 1), tmp_path,
                engine).entries
    assert (e.status, e.end_reason, e.end_record_id) == ("removed", "performed", 2)


def test_a_grace_period_lists_only_an_obligation_still_unperformed_at_its_end(
        tmp_path: Path, engine: str) -> None:
    """``grace_months: 2`` (#13 item 3): a finding on 2024-12-31 opens a grace period through
    2025-02-28 (Civil Code arts. 201-202: no 31 February, so the month's last day); the
    listing takes effect on 2025-03-01 and runs two years from then."""
    finding = _finding(1, "2024-12-31")

    def paid(day: str) -> RecordView:
        return _rec(2, "judgment_performance", day, 1, "court-a", case_number="K1",
                    amount_minor=100_000, currency="CNY", full=True)

    (e,) = _run([finding], dt.date(2025, 2, 28), tmp_path, engine, GRACE).entries
    assert (e.status, e.since, e.until) == ("warned", "2025-03-01", "2027-03-02")
    (e,) = _run([finding], dt.date(2025, 3, 1), tmp_path, engine, GRACE).entries
    assert (e.status, e.since) == ("active", "2025-03-01")
    # performed on the grace period's last day: never in force
    (e,) = _run([finding, paid("2025-02-28")], dt.date(2025, 6, 1), tmp_path, engine,
                GRACE).entries
    assert (e.status, e.ended_on, e.end_reason, e.since) == (
        "removed", "2025-02-28", "performed", "2025-03-01")
    # performed a day later: listed on 2025-03-01 and removed that day
    (e,) = _run([finding, paid("2025-03-01")], dt.date(2025, 6, 1), tmp_path, engine,
                GRACE).entries
    assert (e.status, e.ended_on) == ("removed", "2025-03-01")


def test_a_grace_period_outside_one_to_three_months_or_beside_warning_days_is_refused(
        ) -> None:
    data = yaml.safe_load((POLICY_DIR / "default.yaml").read_text(encoding="utf-8"))
    djd = data["lists"]["dishonest_judgment_debtors"]
    for bad, says in (({"grace_months": 4}, "less than or equal to 3"),
                      ({"grace_months": 1, "warning_days": 30}, "one of `warning_days`")):
        djd.update(bad)
        with pytest.raises(ValueError, match=says):
            Policy.model_validate(data)
        for k in bad:
            djd.pop(k)


# -- period counting (PRC Civil Code arts. 200-204, policy/jurisdiction.py) on every engine --

#: (period, finding date, exclusive ``until``) worked out by hand from arts. 201-202: the start
#: day is not counted; a period of months or years ends with the corresponding day, or the
#: month's last day when there is none; the last day ends at 24:00, so ``until`` is the next.
PERIOD_EDGES = [
    ({"period_years": 2}, "2024-12-08", "2026-12-09"),  # the example: through 12-08
    ({"period_years": 1}, "2024-02-29", "2025-03-01"),  # no 29 Feb 2025: through 28 Feb
    ({"period_years": 4}, "2024-02-29", "2028-03-01"),  # 29 Feb 2028 exists: through it
    ({"period_years": 1}, "2025-12-31", "2027-01-01"),  # through 31 December
    ({"period_months": 1}, "2025-01-31", "2025-03-01"),  # no 31 Feb: through 28 Feb
    ({"period_months": 1}, "2024-01-31", "2024-03-01"),  # leap year: through 29 Feb
    ({"period_months": 2}, "2025-12-31", "2026-03-01"),  # through 28 Feb, across the year
    ({"period_days": 1}, "2025-12-31", "2026-01-02"),  # the day itself is not counted
    ({"period_days": 10}, "2025-12-31", "2026-01-11"),
]


def _period_policy() -> Policy:
    """The default policy plus one trigger list per edge case of :data:`PERIOD_EDGES`, each
    listing on dishonesty findings of its own ground (``edge_<i>``, ground ``i % 6 + 1`` and
    case number ``E<i>``)."""
    data = yaml.safe_load((POLICY_DIR / "default.yaml").read_text(encoding="utf-8"))
    for i, (period, _, _) in enumerate(PERIOD_EDGES):
        data["lists"][f"edge_{i}"] = {
            "title": f"edge {i}", "legal_basis": "a test list",
            "trigger": {"kind": "dishonesty_finding", "key": "case_number",
                        "when": {"case_number": f"E{i}"}}, **period}
    return Policy.model_validate(data)


PERIOD_POLICY = _period_policy()
PERIOD_RECS = [_rec(i + 1, "dishonesty_finding", day, 1, "court-a", sid=i + 1,
                    case_number=f"E{i}", ground=1, amount_minor=100_000, currency="CNY")
               for i, (_, day, _) in enumerate(PERIOD_EDGES)]


def _edge_entries(got: Any) -> dict[str, Any]:
    return {e.list: e for e in got.entries if e.list.startswith("edge_")}


def _edge_expected(as_of: dt.date) -> dict[str, tuple[str, str]]:
    """``edge_<i>`` → (until, status) on ``as_of``: no entry before the finding's day, listed
    from that day itself through the last day, ended from ``until``."""
    day = as_of.isoformat()
    return {f"edge_{i}": (until, "expired" if until <= day else "active")
            for i, (_, start, until) in enumerate(PERIOD_EDGES) if start <= day}


#: the days themselves of four findings; the last day and the end of the one-day period; the
#: last day and the end of the four years from 29 February
EDGE_AS_OF = [dt.date(2025, 12, 31), dt.date(2026, 1, 1), dt.date(2026, 1, 2),
              dt.date(2028, 2, 29), dt.date(2028, 3, 1)]


def test_a_period_ends_with_its_civil_code_last_day(tmp_path: Path, engine: str) -> None:
    for as_of in EDGE_AS_OF:
        got = _edge_entries(_run(PERIOD_RECS, as_of, tmp_path, engine, PERIOD_POLICY))
        assert {n: (e.until, e.status) for n, e in got.items()} == _edge_expected(as_of), as_of


def test_spark_counts_periods_as_the_rules(tmp_path: Path, spark: Any) -> None:
    """The edge cases once on Spark (a session query costs seconds): every ``until`` as
    worked out by hand, on a day where some have ended and some run."""
    as_of = dt.date(2026, 1, 1)
    path = write_records_parquet(PERIOD_POLICY, PERIOD_RECS, tmp_path / "edges.parquet")
    got = _edge_entries(evaluate_parquet(PERIOD_POLICY, path, as_of, engine="spark",
                                         spark=spark))
    assert {n: (e.until, e.status) for n, e in got.items()} == _edge_expected(as_of)

