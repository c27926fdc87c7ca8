"""``socialcredit policy validate|diff`` and ``socialcredit evaluate --policy NEW --compare
CURRENT`` as a user runs them (subprocesses, exit codes, --json).

Bad policies are the shipped default with one edit each; the expected YAML line is found in the
edited text itself. The what-if runs on a registry of six hand-made people (IDs from
:func:`conftest.make_id`, dates relative to today) whose listing rates are worked out by hand
below, and on a simulated nation (``socialcredit demo``); both check that nothing is written.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sqlite3
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from conftest import make_id, write_csv
from test_cli import run

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "policies" / "default.yaml"
STRICT = ROOT / "policies" / "strict.yaml"
ENGINES = ["python", pytest.param("duckdb", marks=pytest.mark.skipif(
    importlib.util.find_spec("socialcredit.policy.batch") is None,
    reason="socialcredit.policy.batch not built yet"))]


def edited(tmp_path: Path, old: str, new: str, *, name: str = "bad.yaml") -> tuple[Path, int]:
    """default.yaml with ``old`` (which must occur once) replaced; the 1-based line of the
    edit."""
    text = DEFAULT.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    line = text.count("\n", 0, text.index(old)) + 1
    path = tmp_path / name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path, line


CYCLE_LIST = """  ofac_sdn:
    title: OFAC"""
CYCLE = """  low_score_watch:
    title: Watched for a low score
    legal_basis: A lender's own policy
    score: {name: personal_credit, below: 500}
  ofac_sdn:
    title: OFAC"""


@pytest.mark.parametrize(("old", "new", "path", "offset", "needle"), [
    ("trigger: {kind: unruly_passenger, key: furnisher_record_id",
     "trigger: {kind: unruly_pasenger, key: furnisher_record_id",
     "lists.unruly_passengers.trigger.kind", 0, "unknown record kind 'unruly_pasenger'"),
    ("when: {service: air}}", "when: {servce: air}}",
     "lists.unruly_passengers.trigger.when.servce", 0, "has no field 'servce'"),
    ("trigger: {kind: dishonesty_finding, key: case_number,",
     "trigger: {kind: dishonesty_finding, key: case_no,",
     "lists.dishonest_judgment_debtors.trigger.key", 0, "has no field 'case_no'"),
    ("      field: amount_minor\n      at_least: 5000000",
     "      field: amount\n      at_least: 5000000",
     "lists.serious_loan_defaulters.criteria.field", 0, "has no field 'amount'"),
    # every local date needs the jurisdiction's zone (the missing key: its parent's line)
    ("  time_zone: Asia/Shanghai\n", "", "jurisdiction.time_zone", -1, "Field required"),
    ("time_zone: Asia/Shanghai", "time_zone: Asia/Beijing", "jurisdiction.time_zone", 0,
     "unknown time zone 'Asia/Beijing'"),
    ("period_counting: start_day_excluded", "period_counting: civil_code",
     "jurisdiction.period_counting", 0, "start_day_excluded"),
    ("period_days: 180          # lapses", "period_days: -180          # lapses",
     "lists.ride_hail_low_rating.period_days", 0, "greater than 0"),
    ("    services: [air]\n    legal_basis: NDRC/CAAC et al. [2018] No. 385, Art. 2\n",
     # the line of the sanction (its `- list:`, one above): the missing key has none
     "    services: [air]\n", "sanctions.2.legal_basis", -1, "Field required"),
    ("      trip_id: {type: str, required: true}",
     "      trip_id: {type: str, required: true}\n      religion: {type: str, required: false}",
     "catalogue.ride_rating.fields.religion", 1, "special-category"),
    ("      trip_id: {type: str, required: true}",
     "      trip_id: {type: str, required: true}\n      ethnicity: {type: str, required: false}",
     "catalogue.ride_rating.fields.ethnicity", 1, "special-category"),
    ("      trip_id: {type: str, required: true}",
     "      trip_id: {type: str, required: true}\n"
     "      health_status: {type: str, required: false}",
     "catalogue.ride_rating.fields.health_status", 1, "special-category"),
    # a sum of amounts in several currencies adds RUB to CNY: the currency must be fixed
    ("when: {days_past_due: {at_least: 90}, currency: CNY}",
     "when: {days_past_due: {at_least: 90}}",
     "lists.serious_loan_defaulters.criteria.when", 0, "must fix the currency"),
    # a value outside the enum's choices never matches: the exemption would never apply
    ("when: {debtor_role: company_officer}", "when: {debtor_role: ceo}",
     "lists.dishonest_judgment_debtors.exemptions.0.when.debtor_role", 0, "never match"),
    ("window: 500, min_count: 5, below: 3.5,", "window: 500, min_count: 5, below: 35,",
     "lists.ride_hail_low_rating.rating.below", 0, "everyone would be refused"),
    # an enum of faiths or peoples is special-category whatever the field is called
    ("      trip_id: {type: str, required: true}",
     "      trip_id: {type: str, required: true}\n"
     "      group: {type: enum, required: false, choices: [han, uyghur, tibetan]}",
     "catalogue.ride_rating.fields.group.choices", 1, "special-category values"),
    ("      trip_id: {type: str, required: true}",
     "      trip_id: {type: str, required: true}\n      hiv_status: {type: bool, required: false}",
     "catalogue.ride_rating.fields.hiv_status", 1, "special-category"),
    # a condition reads the payload: furnisher_record_id is a key, never a field
    ("when: {service: air}}", "when: {furnisher_record_id: X1}}",
     "lists.unruly_passengers.trigger.when.furnisher_record_id", 0,
     "has no field 'furnisher_record_id'"),
])
def test_validate_refuses_naming_the_yaml_path_and_line(
        tmp_path: Path, old: str, new: str, path: str, offset: int, needle: str) -> None:
    bad, line = edited(tmp_path, old, new)
    line += offset  # a field added on the next line; a missing key: its parent's line
    r = run(tmp_path, "policy", "validate", str(bad))
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert f"{path} (line {line})" in r.stderr and needle in r.stderr, r.stderr
    r = run(tmp_path, "policy", "validate", str(bad), "--json")
    assert r.returncode == 1
    problems = json.loads(r.stdout)["problems"]
    assert any(p["path"].startswith(path) and p["line"] == line and needle in p["reason"]
               for p in problems), problems


def test_validate_refuses_a_policy_without_a_jurisdiction_naming_the_file(
        tmp_path: Path) -> None:
    text = DEFAULT.read_text(encoding="utf-8")
    start = text.index("jurisdiction:\n")
    end = text.index("\nidentity:", start)
    bad = tmp_path / "no-zone.yaml"
    bad.write_text(text[:start] + text[end + 1:], encoding="utf-8")
    r = run(tmp_path, "policy", "validate", str(bad))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert str(bad) in r.stderr and "jurisdiction: Field required" in r.stderr, r.stderr


def test_validate_refuses_a_score_list_score_cycle(tmp_path: Path) -> None:
    # score personal_credit reads list low_score_watch, which is fed by personal_credit
    text = DEFAULT.read_text(encoding="utf-8")
    assert text.count(CYCLE_LIST) == 1
    factor = "      - {code: P01,"
    text = text.replace(CYCLE_LIST, CYCLE).replace(
        factor, "      - {code: W01, reason: On the low-score watch list, list: low_score_watch,"
                " points: -10}\n" + factor)
    bad = tmp_path / "cycle.yaml"
    bad.write_text(text, encoding="utf-8")
    r = run(tmp_path, "policy", "validate", str(bad), "--json")
    assert r.returncode == 1
    (problem,) = [p for p in json.loads(r.stdout)["problems"] if "cycle" in p["reason"]]
    assert "scores.personal_credit" in problem["reason"]
    assert "lists.low_score_watch" in problem["reason"]
    lines = text.splitlines()
    want = {i + 1 for i, t in enumerate(lines) if t.strip().startswith(
        ("low_score_watch:", "personal_credit:"))}
    assert problem["line"] in want


def test_validate_ok_with_counts_and_a_warning_for_a_score_fed_sanction(tmp_path: Path) -> None:
    r = run(tmp_path, "policy", "validate", str(STRICT))
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout and "2026.11-strict-1" in r.stdout and "sha256:" in r.stdout
    r = run(tmp_path, "policy", "validate", str(STRICT), "--json")
    out = json.loads(r.stdout)
    text = STRICT.read_text(encoding="utf-8").splitlines()
    sanctions_at = text.index("sanctions:")
    # the sanction of the score-fed list low_credit_score, and where it starts
    n = [i for i, t in enumerate(text) if t.startswith("  - list:")]
    idx = next(k for k, i in enumerate(n) if text[i] == "  - list: low_credit_score")
    assert n[0] > sanctions_at
    (w,) = out["warnings"]
    assert (w["path"], w["line"]) == (f"sanctions.{idx}", n[idx] + 1)
    assert "score" in w["message"]
    # strict.yaml: the default's six lists and seven sanctions, plus the score-fed list and
    # its sanction
    assert (out["counts"]["lists"], out["counts"]["sanctions"]) == (8, 9)
    r = run(tmp_path, "policy", "validate", str(DEFAULT), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["warnings"] == []
    r = run(tmp_path, "policy", "validate", str(tmp_path / "missing.yaml"))
    assert r.returncode == 1 and "cannot read" in r.stderr and "Traceback" not in r.stderr


def test_diff_lists_the_changed_thresholds(tmp_path: Path) -> None:
    r = run(tmp_path, "policy", "diff", str(DEFAULT), str(STRICT), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    changes = {c["path"]: c for c in out["changes"]}
    assert changes["lists.repeat_fare_evaders.criteria.at_least"]["old"] == 3
    assert changes["lists.repeat_fare_evaders.criteria.at_least"]["new"] == 2
    loans = "lists.serious_loan_defaulters.criteria"
    assert (changes[f"{loans}.at_least"]["old"], changes[f"{loans}.at_least"]["new"]) == (
        5_000_000, 2_000_000)
    assert changes[f"{loans}.when.days_past_due.at_least"]["new"] == 60
    assert changes["lists.low_credit_score"]["change"] == "added"
    assert changes["lists.serious_loan_defaulters.exemptions"]["change"] == "removed"
    assert out["a"]["version_hash"] != out["b"]["version_hash"]
    assert out["a"]["version_hash"].startswith("sha256:")
    # the one sanction strict adds is one added path, not a change of every later one
    assert [c["path"] for c in out["changes"] if c["path"].startswith("sanctions")] == [
        next(c["path"] for c in out["changes"] if c["path"].startswith("sanctions."))]
    r = run(tmp_path, "policy", "diff", str(DEFAULT), str(STRICT))
    assert "lists.repeat_fare_evaders.criteria.at_least" in r.stdout and "3 → 2" in r.stdout
    assert out["b"]["version_hash"] in r.stdout
    bad, _ = edited(tmp_path, "period_days: 180          # lapses", "period_days: 0  # x")
    r = run(tmp_path, "policy", "diff", str(DEFAULT), str(bad))
    assert r.returncode == 1 and "lists.ride_hail_low_rating.period_days" in r.stderr


# ---------------------------------------------------------------------------------- what-if
def born(today: dt.date, age: int) -> str:
    """A birth date making someone ``age`` on ``today`` (their birthday 60 days ago)."""
    day = today - dt.timedelta(days=60)
    try:
        birth = day.replace(year=day.year - age)
    except ValueError:  # 29 February
        birth = day.replace(year=day.year - age, day=28)
    return birth.strftime("%Y%m%d")


def snapshot(db: Path) -> dict[str, Any]:
    """Every table's rows (sorted) of a SQLite file: what "writes nothing" must keep."""
    con = sqlite3.connect(db)
    try:
        tables = [t for (t,) in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: sorted(map(repr, con.execute(f'SELECT * FROM "{t}"'))) for t in tables}
    finally:
        con.close()


@pytest.fixture(scope="module")
def small_registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Six people, one per age band, two per province (Beijing 11, Jiangsu 32, Guangdong 44),
    sexes alternating by the ID's order code; fare evasions on rail (the lists count rail and
    rail_hsr) and one dishonesty finding:

    ====  ======  ====  ===  ==============  ========  ========
    who   region  age   sex  records         default   strict
    ====  ======  ====  ===  ==============  ========  ========
    p1    11      46    M    finding         listed    listed
    p2    11      21    F    2 rail evasions  -        listed
    p3    32      58    M    2 rail evasions  -        listed
    p4    32      38    F    1 rail evasion   -        -
    p5    44      70    M    3 rail evasions  listed    listed
    p6    44      29    F    1 metro evasion  -        -
    ====  ======  ====  ===  ==============  ========  ========

    default lists 3 evasions in 365 days, strict 2; p5 was refused high-speed rail at a gate
    (an operator's check), so the refusal is logged.
    """
    tmp = tmp_path_factory.mktemp("whatif")
    today = dt.datetime.now(dt.UTC).date()
    people = {"p1": ("110101", 46, 11), "p2": ("110101", 21, 12), "p3": ("320102", 58, 31),
              "p4": ("320102", 38, 32), "p5": ("440103", 70, 51), "p6": ("440103", 29, 52)}
    ids = {who: make_id(region, born(today, age), seq)
           for who, (region, age, seq) in people.items()}
    day = lambda n: (today - dt.timedelta(days=n)).isoformat()  # noqa: E731
    rail: list[dict[str, Any]] = []
    for who, n, service in (("p2", 2, "rail"), ("p3", 2, "rail_hsr"), ("p4", 1, "rail"),
                            ("p5", 3, "rail"), ("p6", 1, "metro")):
        rail += [{"furnisher_record_id": f"{who}-{i}", "kind": "fare_evasion",
                  "occurred_at": day(40 - 10 * i), "national_id": ids[who],
                  "service": service, "amount_minor": 1500, "currency": "CNY"}
                 for i in range(n)]
    court = [{"furnisher_record_id": "f1", "kind": "dishonesty_finding", "occurred_at": day(50),
              "national_id": ids["p1"], "case_number": "(2026)京01执1号", "ground": 1,
              "amount_minor": 100_000, "currency": "CNY"}]
    assert run(tmp, "init").returncode == 0
    for name, kind, rows in (("court-bj", "court", court), ("rail-12306", "transport", rail)):
        assert run(tmp, "furnishers", "add", name, "--kind", kind).returncode == 0
        r = run(tmp, "ingest", str(write_csv(tmp / f"{name}.csv", rows)), "--furnisher", name,
                "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["rejected"] == 0, r.stdout + r.stderr
    r = run(tmp, "check", "--service", "rail_hsr", "--national-id", ids["p5"])
    assert r.returncode == 3, r.stderr  # refused under the registry's (default) policy
    return tmp, ids


@pytest.mark.parametrize("engine", ENGINES)
def test_what_if_strict_against_default_by_hand(
        small_registry: tuple[Path, dict[str, str]], engine: str) -> None:
    tmp, _ = small_registry
    before = snapshot(tmp / "cli.db")
    r = run(tmp, "evaluate", "--policy", str(STRICT), "--compare", str(DEFAULT), "--engine",
            engine, "--json")
    assert r.returncode == 0, r.stderr
    assert snapshot(tmp / "cli.db") == before  # ledger head and every table unchanged
    rep = json.loads(r.stdout)
    assert rep["new"]["name"] == "strict" and rep["current"]["name"] == "default"
    fare = rep["lists"]["repeat_fare_evaders"]
    assert (fare["added"], fare["removed"]) == (2, 0)  # p2 and p3
    assert fare["dates_changed"] == 1  # p5: listed from the second evasion, not the third
    assert fare["subjects"] == {"current": 1, "new": 3}
    rail = next(x for x in rep["refusals"] if x["service"] == "rail_hsr")
    assert (rail["refused"], rail["new_only"], rail["current_only"]) == (
        {"current": 2, "new": 4}, 2, 0)
    # p5's logged refusal stays a refusal under both
    assert rep["decisions"]["by_service"]["rail_hsr"] == {
        "denied": 1, "allow_under_new": 0, "allow_under_current": 0, "flip": 0}

    # listed: default {p1, p5} of 6; strict {p1, p2, p3, p5} of 6
    overall = (Fraction(2, 6), Fraction(4, 6))
    want = {
        ("region", "11"): (Fraction(1, 2), Fraction(2, 2)),
        ("region", "32"): (Fraction(0, 2), Fraction(1, 2)),
        ("region", "44"): (Fraction(1, 2), Fraction(1, 2)),
        ("sex", "M"): (Fraction(2, 3), Fraction(3, 3)),  # p1 p3 p5
        ("sex", "F"): (Fraction(0, 3), Fraction(1, 3)),  # p2 p4 p6
        ("age_band", "<25"): (Fraction(0), Fraction(1)),  # p2
        ("age_band", "25-34"): (Fraction(0), Fraction(0)),  # p6
        ("age_band", "35-44"): (Fraction(0), Fraction(0)),  # p4
        ("age_band", "45-54"): (Fraction(1), Fraction(1)),  # p1
        ("age_band", "55-64"): (Fraction(0), Fraction(1)),  # p3
        ("age_band", "65+"): (Fraction(1), Fraction(1)),  # p5
    }
    di = rep["disparate_impact"]
    assert di["population"] == 6 and di["invalid_ids"] == 0
    assert di["overall"]["current"]["rate"] == pytest.approx(float(overall[0]))
    assert di["overall"]["new"]["rate"] == pytest.approx(float(overall[1]))
    got = {(dim, row["group"]): row for dim, rows in di["groups"].items() for row in rows}
    assert set(got) == set(want)
    for key, rates in want.items():
        row = got[key]
        flagged = []
        for side, rate, base in zip(("current", "new"), rates, overall, strict=True):
            assert row[side]["rate"] == pytest.approx(float(rate)), key
            assert row[side]["ratio"] == pytest.approx(float(rate / base)), key
            if not Fraction(4, 5) <= rate / base <= Fraction(5, 4):
                flagged.append(side)
        assert row["flagged"] == flagged, key
        assert row["small"]  # two or three people: fewer than 30
    assert got[("region", "44")]["label"] == "Guangdong"
    # sex F under NEW: 1/3 over 2/3 = 0.5, beyond four-fifths
    assert "new" in got[("sex", "F")]["flagged"]


def test_what_if_human_output_and_a_flipping_refusal(
        small_registry: tuple[Path, dict[str, str]]) -> None:
    tmp, _ = small_registry
    before = snapshot(tmp / "cli.db")
    r = run(tmp, "evaluate", "--policy", str(STRICT), "--compare", str(DEFAULT), "--engine",
            "python")
    assert r.returncode == 0, r.stderr
    for needle in ("repeat_fare_evaders", "Refusals", "rail_hsr", "Disparate impact",
                   "Beijing", "65+", "female", "1607.4(D)"):
        assert needle in r.stdout, needle
    # a policy that needs four evasions: p5's logged refusal would now be allowed
    lenient, _ = edited(tmp, "aggregate: count, at_least: 3,", "aggregate: count, at_least: 4,",
                        name="lenient.yaml")
    r = run(tmp, "evaluate", "--policy", str(lenient), "--compare", str(DEFAULT),
            "--engine", "python", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["lists"]["repeat_fare_evaders"]["removed"] == 1
    assert rep["decisions"]["by_service"]["rail_hsr"] == {
        "denied": 1, "allow_under_new": 1, "allow_under_current": 0, "flip": 1}
    # --compare takes any date, and a bad CURRENT is refused naming its path
    r = run(tmp, "evaluate", "--policy", str(STRICT), "--compare", str(DEFAULT), "--as-of",
            "2020-01-01", "--engine", "python", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["lists"]["repeat_fare_evaders"][
        "subjects"] == {"current": 0, "new": 0}
    bad, _ = edited(tmp, "period_days: 180          # lapses", "period_days: -1  # x")
    r = run(tmp, "evaluate", "--policy", str(STRICT), "--compare", str(bad))
    assert r.returncode == 1 and "lists.ride_hail_low_rating.period_days" in r.stderr
    r = run(tmp, "evaluate", "--compare", str(DEFAULT), "--engine", "incremental-ish")
    assert r.returncode == 2 and "--engine" in r.stderr
    assert snapshot(tmp / "cli.db") == before


def test_what_if_on_a_simulated_nation_shows_a_real_difference(tmp_path: Path) -> None:
    r = run(tmp_path, "demo", "--subjects", "3000", "--seed", "5", "--json")
    assert r.returncode == 0, r.stderr
    subjects = json.loads(r.stdout)["subjects"]  # people with records
    db = tmp_path / "var" / "demo" / "registry.db"
    before = snapshot(db)
    r = run(tmp_path, "--database-url", f"sqlite:///{db}", "evaluate", "--policy", str(STRICT),
            "--compare", str(DEFAULT), "--engine", "python", "--json", db=f"sqlite:///{db}")
    assert r.returncode == 0, r.stderr
    assert snapshot(db) == before
    rep = json.loads(r.stdout)
    added = {n: c["added"] for n, c in rep["lists"].items()}
    removed = {n: c["removed"] for n, c in rep["lists"].items()}
    # strict lists more: lower thresholds, no student exemption, a score-fed list
    assert sum(added.values()) > sum(removed.values()) >= 0
    assert added["low_credit_score"] > 0  # the list only strict has
    assert sum(x["new_only"] for x in rep["refusals"]) > 0
    assert 100 < rep["disparate_impact"]["population"] <= subjects
    assert (rep["disparate_impact"]["overall"]["new"]["rate"]
            > rep["disparate_impact"]["overall"]["current"]["rate"])


def test_validate_refuses_a_key_given_twice_and_passes_innocent_names(tmp_path: Path) -> None:
    text = DEFAULT.read_text(encoding="utf-8")
    twice = text.replace("    period_years: 1\n", "    period_years: 1\n    period_years: 5\n", 1)
    bad = tmp_path / "twice.yaml"
    bad.write_text(twice, encoding="utf-8")
    r = run(tmp_path, "policy", "validate", str(bad))
    assert r.returncode == 1
    line = twice.splitlines().index("    period_years: 5") + 1
    assert f"key 'period_years' is given twice (lines {line - 1} and {line})" in r.stderr
    # words that merely contain a category's stem are not special-category data
    ok = text.replace("      trip_id: {type: str, required: true}",
                      "      trip_id: {type: str, required: true}\n"
                      "      third_party_name: {type: str, required: false}\n"
                      "      unionpay_card: {type: str, required: false}")
    good = tmp_path / "innocent.yaml"
    good.write_text(ok, encoding="utf-8")
    r = run(tmp_path, "policy", "validate", str(good))
    assert r.returncode == 0, r.stderr
