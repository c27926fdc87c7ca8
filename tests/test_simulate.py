"""Tests for the synthetic-data simulator (socialcredit.simulate).

The files are re-read here independently of the simulator's own code: the record contract
(kinds, required fields, enumerations) is restated below from the registry's input contract.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import phonenumbers
import pytest
from stdnum.cn import ric
from stdnum.exceptions import InvalidChecksum, ValidationError

from socialcredit.policy.model import Policy, load_policy
from socialcredit.policy.rules import RecordView, desired_entries, evaluate_records
from socialcredit.settings import DEFAULT_POLICY_PATH
from socialcredit.simulate import COMMON_COLUMNS, FAULTS, SimulationManifest, simulate

AS_OF = dt.date(2025, 6, 30)
# the catalogue of the shipped policy is the contract the simulator must follow
REQUIRED: dict[str, tuple[str, ...]] = {
    kind: tuple(name for name, f in spec.fields.items() if f.required)
    for kind, spec in load_policy(DEFAULT_POLICY_PATH).catalogue.items()
}
COMMON = set(COMMON_COLUMNS)
HAN = re.compile(r"^[\u4e00-\u9fff]{2,4}$")
E164_CN = re.compile(r"^\+861\d{10}$")


@dataclass
class Line:
    """One data row of a furnisher file: its raw text and the present (non-empty) values."""

    raw: str
    row: dict[str, str | int | bool]


def read_lines(path: Path) -> list[Line]:
    text = path.read_text(encoding="utf-8")
    raw_lines = text.splitlines()
    if path.suffix == ".jsonl":
        return [Line(raw, json.loads(raw)) for raw in raw_lines]
    header = next(csv.reader([raw_lines[0]]))
    out = []
    for raw in raw_lines[1:]:
        cells = next(csv.reader([raw]))
        assert len(cells) == len(header), raw
        row: dict[str, str | int | bool] = {}
        for key, cell in zip(header, cells, strict=True):
            if cell == "":
                continue
            if key in ("amount_minor", "ground", "days_past_due", "rating", "years"):
                row[key] = int(cell)
            elif key in ("full", "full_time"):
                assert cell in ("true", "false"), raw
                row[key] = cell == "true"
            else:
                row[key] = cell
        out.append(Line(raw, row))
    return out


def fault_of(row: dict[str, str | int | bool], duplicate: bool) -> list[str]:
    """Every fault of a row (a good row has none)."""
    faults = []
    if duplicate:
        faults.append("duplicate_row")
    if row.get("kind") not in REQUIRED:
        faults.append("unknown_kind")
    elif any(f not in row for f in REQUIRED[str(row["kind"])]):
        faults.append("missing_required")
    if "national_id" in row:
        try:
            ric.validate(str(row["national_id"]))
        except InvalidChecksum:
            faults.append("bad_check_character")
    try:
        dt.date.fromisoformat(str(row["occurred_at"]))
    except ValueError:
        faults.append("impossible_date")
    if "amount_minor" in row and int(row["amount_minor"]) < 0:
        faults.append("negative_amount")
    return faults


def classify(path: Path) -> tuple[list[dict[str, str | int | bool]], Counter[str]]:
    """The good rows of a file, and the count of each fault among the others."""
    seen: set[str] = set()
    good, faults = [], Counter[str]()
    for line in read_lines(path):
        found = fault_of(line.row, line.raw in seen)
        seen.add(line.raw)
        assert len(found) <= 1, (found, line.raw)
        if found:
            faults[found[0]] += 1
        else:
            good.append(line.row)
    return good, faults


@dataclass
class Sim:
    out: Path
    manifest: SimulationManifest
    people: list[dict[str, str]]
    good: dict[str, list[dict[str, str | int | bool]]]
    faults: dict[str, Counter[str]]
    #: the good rows about organisations (issue #13), kept apart from the people's above
    organisations: dict[str, list[dict[str, str | int | bool]]]

    @property
    def by_id(self) -> dict[str, dict[str, str]]:
        return {p["national_id"]: p for p in self.people}

    def rows(self, *kinds: str) -> list[dict[str, str | int | bool]]:
        return [r for rows in self.good.values() for r in rows if r["kind"] in kinds]


def run(out: Path, subjects: int, seed: int, **kwargs: float) -> Sim:
    manifest = simulate(out, subjects=subjects, seed=seed, as_of=AS_OF, **kwargs)
    with (out / manifest.population_file).open(encoding="utf-8", newline="") as fh:
        people = list(csv.DictReader(fh))
    good, faults, organisations = {}, {}, {}
    for f in manifest.furnishers:
        rows, faults[f.name] = classify(out / f.file)
        good[f.name] = [r for r in rows if "organisation_id" not in r]
        organisations[f.name] = [r for r in rows if "organisation_id" in r]
    return Sim(out, manifest, people, good, faults, organisations)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Sim:
    return run(tmp_path_factory.mktemp("sim20k"), 20_000, 2025)


def plus_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def listed_now(sim: Sim) -> set[str]:
    """National ids with a dishonesty finding on AS_OF: not naming a company officer (exempt,
    SPC 2017 Art. 3), neither fully performed nor revoked, and within two years of the finding
    plus the years of an extension dated within those two years."""
    ends: dict[tuple[str, str], list[dt.date]] = defaultdict(list)
    extended: dict[tuple[str, str], list[tuple[dt.date, int]]] = defaultdict(list)
    findings = []
    for name, rows in sim.good.items():
        for r in rows:
            key = (name, str(r.get("case_number")))
            day = dt.date.fromisoformat(str(r["occurred_at"]))
            ended = r["kind"] == "judgment_performance" and r["full"] is True
            if ended or r["kind"] == "listing_revoked":
                ends[key].append(day)
            elif r["kind"] == "listing_extended":
                extended[key].append((day, int(r["years"])))
            elif r["kind"] == "dishonesty_finding" and r.get("debtor_role") != "company_officer":
                findings.append((name, r))
    active = set()
    for name, r in findings:
        key = (name, str(r["case_number"]))
        day = dt.date.fromisoformat(str(r["occurred_at"]))
        until = plus_years(day, 2)
        until = plus_years(until, max((y for d, y in extended[key] if d < until), default=0))
        if until <= AS_OF or any(day <= e < until for e in ends[key]):
            continue
        active.add(str(r["national_id"]))
    return active


# --- determinism -------------------------------------------------------------------------


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    simulate(tmp_path / "a", subjects=3000, seed=11, as_of=AS_OF)
    simulate(tmp_path / "b", subjects=3000, seed=11, as_of=AS_OF)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert set(a) == {
        "manifest.json",
        "population.csv",
        "tickets.csv",
        "court-beijing-no1.csv",
        "court-shanghai-high.jsonl",
        "bank-icbc.csv",
        "pay-alipay.jsonl",
        "school-pku.csv",
        "air-caac.csv",
        "rail-12306.csv",
        "ride-didi.jsonl",
        "ride-caocao.csv",
        "carrier-cmcc.csv",
        "regulator-samr.csv",
        "tax-sta.csv",
    }
    assert a == b


def test_same_seed_is_identical_across_hash_seeds(tmp_path: Path) -> None:
    simulate(tmp_path / "a", subjects=1500, seed=5, as_of=AS_OF)
    code = (
        "import datetime, pathlib, sys; from socialcredit.simulate import simulate; "
        "simulate(pathlib.Path(sys.argv[1]), subjects=1500, seed=5, "
        "as_of=datetime.date(2025, 6, 30))"
    )
    env = {
        **os.environ,
        "PYTHONHASHSEED": "12345",
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "b")], check=True, env=env)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_different_seed_gives_different_files(tmp_path: Path) -> None:
    simulate(tmp_path / "a", subjects=3000, seed=11, as_of=AS_OF)
    simulate(tmp_path / "b", subjects=3000, seed=12, as_of=AS_OF)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    for name in ("population.csv", "tickets.csv", "ride-didi.jsonl", "bank-icbc.csv"):
        assert a[name] != b[name], name


# --- manifest ----------------------------------------------------------------------------


def test_manifest_file_matches_returned_model(sim: Sim) -> None:
    on_disk = json.loads((sim.out / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk == json.loads(sim.manifest.model_dump_json())
    assert on_disk["subjects"] == 20_000 and on_disk["seed"] == 2025
    assert on_disk["as_of"] == "2025-06-30"
    assert {f["name"]: f["kind"] for f in on_disk["furnishers"]} == {
        "court-beijing-no1": "court",
        "court-shanghai-high": "court",
        "bank-icbc": "lender",
        "pay-alipay": "payment",
        "school-pku": "school",
        "air-caac": "transport",
        "rail-12306": "transport",
        "ride-didi": "platform",
        "ride-caocao": "platform",
        "carrier-cmcc": "carrier",
        "regulator-samr": "regulator",
        "tax-sta": "regulator",
    }
    suffixes = {Path(f["file"]).suffix for f in on_disk["furnishers"]}
    assert suffixes == {".csv", ".jsonl"}
    for f in sim.manifest.furnishers:
        assert f.file == f"{f.name}{Path(f.file).suffix}"
        assert f.rows == len(read_lines(sim.out / f.file))


# --- population --------------------------------------------------------------------------


def test_population_identity_numbers_are_valid_and_consistent(sim: Sim) -> None:
    assert len(sim.people) == 20_000
    ids = [p["national_id"] for p in sim.people]
    assert len(set(ids)) == len(ids)
    assert len({p["person_id"] for p in sim.people}) == len(ids)
    for p in sim.people:
        nid = ric.validate(p["national_id"])
        assert len(nid) == 18
        assert ric.get_birth_date(nid).isoformat() == p["birth_date"]
        assert ("M" if int(nid[16]) % 2 else "F") == p["sex"]
        assert nid[:6] == p["region_code"]
        birth = dt.date.fromisoformat(p["birth_date"])
        age = AS_OF.year - birth.year - ((AS_OF.month, AS_OF.day) < (birth.month, birth.day))
        assert 18 <= age <= 80, p
    sexes = Counter(p["sex"] for p in sim.people)
    assert 0.45 < sexes["M"] / len(ids) < 0.56
    assert len({p["region_code"] for p in sim.people}) >= 30


def test_population_phones_are_valid_unique_e164(sim: Sim) -> None:
    phones = [p["phone"] for p in sim.people]
    assert len(set(phones)) == len(phones)
    for phone in phones:
        assert E164_CN.match(phone), phone
        number = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(number), phone
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == phone


def test_names_are_han_with_realistic_surnames_and_namesakes(sim: Sim) -> None:
    names = [p["name"] for p in sim.people]
    assert all(HAN.match(n) for n in names)
    surnames = Counter(n[0] for n in names)
    top5 = {s for s, _ in surnames.most_common(5)}
    assert {"王", "李", "张"} <= top5
    assert 0.2 < sum(surnames[s] for s in "王李张刘陈") / len(names) < 0.45
    counts = Counter(names)
    assert counts.most_common(1)[0][1] >= 5  # namesakes such as 张伟 are common
    assert sum(1 for n in names if len(n) == 2) > 0.2 * len(names)  # one-character given names


# --- records -----------------------------------------------------------------------------


def test_bad_row_counts_match_a_reparse(sim: Sim) -> None:
    total: Counter[str] = Counter()
    for f in sim.manifest.furnishers:
        found = sim.faults[f.name]
        assert sum(found.values()) == f.bad_rows, (f.name, found)
        total += found
    assert set(total) == set(FAULTS), total
    rows = sum(f.rows for f in sim.manifest.furnishers)
    bad = sum(f.bad_rows for f in sim.manifest.furnishers)
    assert 0.0015 < bad / rows < 0.006


def test_no_bad_rows_when_rate_is_zero(tmp_path: Path) -> None:
    clean = run(tmp_path, 3000, 3, bad_row_rate=0.0)
    assert all(f.bad_rows == 0 for f in clean.manifest.furnishers)
    assert all(not c for c in clean.faults.values())


def test_good_rows_follow_the_contract(sim: Sim) -> None:
    by_id = sim.by_id
    by_phone = {p["phone"]: p for p in sim.people}
    earliest = AS_OF - dt.timedelta(days=4 * 366)
    for f in sim.manifest.furnishers:
        ids = set()
        for r in sim.good[f.name]:
            rid = str(r["furnisher_record_id"])
            assert rid not in ids
            if "corrects" in r:
                assert r["corrects"] in ids  # an earlier record of the same furnisher
            ids.add(rid)
            assert earliest <= dt.date.fromisoformat(str(r["occurred_at"])) <= AS_OF
            if "national_id" in r:
                person = by_id[str(r["national_id"])]
                assert r.get("name", person["name"]) == person["name"]
                assert r.get("phone", person["phone"]) == person["phone"]
            else:
                assert r["kind"] == "ride_rating" and "name" not in r
            if "phone" in r:
                assert str(r["phone"]) in by_phone
            if "amount_minor" in r:
                assert isinstance(r["amount_minor"], int) and r["amount_minor"] >= 0
                assert r["currency"] == "CNY"
            kind = r["kind"]
            if kind == "dishonesty_finding":
                assert r["ground"] in range(1, 7)
                assert r.get("debtor_role", "debtor") in ("debtor", "company_officer")
            elif kind == "listing_extended":
                assert r["years"] in (1, 2, 3)
            elif kind == "restriction_lifted":
                assert r["service"] in ("air", "rail_hsr", "rail_first_class", "hotel_star")
                if "until" in r:
                    assert dt.date.fromisoformat(str(r["until"])) > dt.date.fromisoformat(
                        str(r["occurred_at"])
                    )
            elif kind == "student_status":
                assert isinstance(r["full_time"], bool) and f.kind == "school"
            elif kind in ("judgment_performance", "loan_repayment"):
                assert isinstance(r["full"], bool)
            elif kind == "loan_default":
                assert isinstance(r["days_past_due"], int) and r["days_past_due"] >= 0
                assert r.get("loan_purpose", "consumer") in (
                    "consumer",
                    "campus",
                    "business",
                    "mortgage",
                )
            elif kind == "fare_evasion":
                assert r["service"] in ("air", "rail_hsr", "rail")
            elif kind == "unruly_passenger":
                assert r["service"] in ("air", "rail_hsr")
                assert r["conduct"] in (
                    "smoking_on_board",
                    "occupying_seat",
                    "violence_against_crew",
                    "disrupting_order",
                )
            elif kind == "ride_rating":
                assert r["rating"] in range(1, 6) and "phone" in r
            elif kind == "phone_registration":
                assert f.kind == "carrier" and "phone" in r and r["registration_id"]


def test_json_lines_omit_absent_keys_and_csv_has_union_header(sim: Sim) -> None:
    for f in sim.manifest.furnishers:
        path = sim.out / f.file
        if path.suffix == ".jsonl":
            for line in read_lines(path):
                assert all(v not in ("", None) for v in line.row.values())
        else:
            header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
            assert header[:3] == ["furnisher_record_id", "kind", "occurred_at"]
            if f.kind == "regulator":  # about organisations only: no person's identifier
                assert {"organisation_id", "name", "corrects"} <= set(header)
                assert not {"national_id", "phone"} & set(header)
            else:
                assert {"national_id", "phone", "name", "corrects"} <= set(header)


def test_identity_coverage(sim: Sim) -> None:
    ratings = sim.rows("ride_rating")
    assert all("phone" in r for r in ratings)
    assert 0.6 < sum("national_id" in r for r in ratings) / len(ratings) < 0.8
    others = [r for r in sim.rows(*REQUIRED)
              if r["kind"] not in ("ride_rating", "phone_registration")]
    assert all("national_id" in r and "name" in r for r in others)
    assert 0.5 < sum("phone" in r for r in others) / len(others) < 0.7


def test_the_carrier_registers_the_phone_of_each_person_others_report(sim: Sim) -> None:
    """The carrier (the default policy's authoritative source of the phone a person's codes
    go to) reports, once each, the number of every person another furnisher reported with
    their ID, and of nobody else (no one is registered for their phone alone)."""
    registrations = sim.good["carrier-cmcc"]
    reported = {str(r["national_id"]) for name, rows in sim.good.items()
                if name != "carrier-cmcc" for r in rows if "national_id" in r}
    by_person = Counter(str(r["national_id"]) for r in registrations)
    assert set(by_person) == reported and set(by_person.values()) == {1}
    by_id = sim.by_id
    assert all(r["phone"] == by_id[str(r["national_id"])]["phone"] for r in registrations)
    assert len({r["registration_id"] for r in registrations}) == len(registrations)


def test_court_cases_and_corrections(sim: Sim) -> None:
    judgments: dict[tuple[str, str], tuple[str, dt.date]] = {}
    for name in ("court-beijing-no1", "court-shanghai-high"):
        for r in sim.good[name]:
            key = (name, str(r["case_number"]))
            day = dt.date.fromisoformat(str(r["occurred_at"]))
            if r["kind"] == "court_judgment":
                judgments.setdefault(key, (str(r["national_id"]), day))
            else:
                assert key in judgments, key  # finding / performance of a known case
                assert judgments[key][0] == r["national_id"]
                assert day > judgments[key][1]
    assert re.fullmatch(r"\(\d{4}\)(京01|沪)执\d+号", next(iter(judgments))[1])
    judged = {nid for nid, _ in judgments.values()}
    assert 0.025 < len(judged) / 20_000 < 0.035
    corrections = [r for r in sim.rows("court_judgment") if "corrects" in r]
    assert corrections
    grounds = Counter(r["ground"] for r in sim.rows("dishonesty_finding"))
    assert grounds.most_common(1)[0][0] == 1 and grounds[1] > 0.7 * sum(grounds.values())
    findings = sim.rows("dishonesty_finding")
    performed = {(r["case_number"]) for r in sim.rows("judgment_performance") if r["full"]}
    share = sum(r["case_number"] in performed for r in findings) / len(findings)
    assert 0.12 < share < 0.3


def test_actively_listed_share_is_about_one_percent(sim: Sim) -> None:
    share = len(listed_now(sim)) / len(sim.people)
    assert 0.005 <= share <= 0.02, share


def test_other_rates(sim: Sim) -> None:
    n = len(sim.people)
    defaulters = {r["national_id"] for r in sim.rows("loan_default")}
    assert 0.04 < len(defaulters) / n < 0.06
    assert sim.rows("loan_repayment")
    unruly = sim.rows("unruly_passenger")
    assert 1 <= len(unruly) <= 0.002 * n
    year_ago = AS_OF - dt.timedelta(days=365)
    assert all(dt.date.fromisoformat(str(r["occurred_at"])) > year_ago for r in unruly)
    assert all(
        r["service"] == "air" for r in sim.good["air-caac"] if r["kind"] == "unruly_passenger"
    )
    evasions = {r["national_id"] for r in sim.rows("fare_evasion")}
    assert 0.0015 < len(evasions) / n < 0.005
    by_rider: dict[str, list[int]] = defaultdict(list)
    per_platform: Counter[tuple[str, str]] = Counter()
    for name in ("ride-didi", "ride-caocao"):
        for r in sim.good[name]:
            by_rider[str(r["phone"])].append(int(r["rating"]))
            per_platform[(name, str(r["phone"]))] += 1
    assert 0.08 < len(by_rider) / n < 0.12
    assert all(3 <= count <= 30 for count in per_platform.values())
    ratings = Counter(x for v in by_rider.values() for x in v)
    assert (ratings[4] + ratings[5]) / sum(ratings.values()) > 0.85
    low = sum(1 for v in by_rider.values() if sum(v) / len(v) < 3.5) / len(by_rider)
    assert 0.003 < low < 0.025, low


# --- features of the default policy -------------------------------------------------------


def day_of(r: dict[str, str | int | bool]) -> dt.date:
    return dt.date.fromisoformat(str(r["occurred_at"]))


def test_courts_extend_revoke_and_lift_listings(sim: Sim) -> None:
    for court in ("court-beijing-no1", "court-shanghai-high"):
        rows = sim.good[court]
        findings = {r["case_number"]: r for r in rows if r["kind"] == "dishonesty_finding"}
        for r in rows:
            if r["kind"] not in ("listing_extended", "listing_revoked", "restriction_lifted"):
                continue
            finding = findings[r["case_number"]]  # a ruling on a listing of the same court
            assert finding["national_id"] == r["national_id"]
            assert finding.get("debtor_role") != "company_officer"  # exempt: nothing to rule on
            start, end = day_of(finding), plus_years(day_of(finding), 2)
            if r["kind"] == "listing_extended":  # SPC 2017 Art. 2(2): serious cases only
                assert finding["ground"] in (2, 3) and start < day_of(r) < end
            else:
                assert start < day_of(r)
    extended = sim.rows("listing_extended")
    assert extended and {r["years"] for r in extended} <= {1, 2, 3}
    revoked = {r["case_number"] for r in sim.rows("listing_revoked")}
    performed = {r["case_number"] for r in sim.rows("judgment_performance") if r["full"]}
    assert revoked and not revoked & performed
    lifts = sim.rows("restriction_lifted")
    assert "air" in {r["service"] for r in lifts}  # e.g. a flight for medical care
    current = [r for r in lifts if "until" in r and dt.date.fromisoformat(str(r["until"])) > AS_OF]
    assert current  # some debtors are allowed a flight or a train on AS_OF
    findings = sim.rows("dishonesty_finding")
    officers = [r for r in findings if r.get("debtor_role") == "company_officer"]
    assert 0.02 < len(officers) / len(findings) < 0.1


def test_school_reports_young_students_mostly_full_time(sim: Sim) -> None:
    rows = sim.good["school-pku"]
    assert {r["kind"] for r in rows} == {"student_status"}
    by_id = sim.by_id
    ages = []
    for r in rows:
        birth = dt.date.fromisoformat(by_id[str(r["national_id"])]["birth_date"])
        age = AS_OF.year - birth.year - ((AS_OF.month, AS_OF.day) < (birth.month, birth.day))
        ages.append(age)
        assert day_of(r) >= plus_years(birth, 18)  # enrolled at 18 or later
    assert min(ages) >= 18 and max(ages) <= 24
    young = sum(1 for p in sim.people if p["birth_date"] > plus_years(AS_OF, -25).isoformat())
    students = {r["national_id"] for r in rows}
    assert 0.25 < len(students) / young < 0.6
    assert 0.75 < sum(r["full_time"] is True for r in rows) / len(rows) < 0.95


def test_lenders_report_purposes_campus_loans_and_several_large_defaults(sim: Sim) -> None:
    defaults = [r for r in sim.rows("loan_default") if "corrects" not in r]
    purposes = Counter(r.get("loan_purpose") for r in defaults)
    assert set(purposes) == {"consumer", "campus", "business", "mortgage"}
    assert all(
        r["loan_purpose"] == "consumer"
        for r in sim.good["pay-alipay"]
        if r["kind"] == "loan_default"
    )
    # campus loans go to students: a full-time status from the school within the year before
    full_time: dict[str, list[dt.date]] = defaultdict(list)
    for r in sim.rows("student_status"):
        if r["full_time"] is True:
            full_time[str(r["national_id"])].append(day_of(r))
    campus = [r for r in defaults if r["loan_purpose"] == "campus"]
    exempt = [
        r
        for r in campus
        if any(
            day_of(r) - dt.timedelta(days=365) <= d <= day_of(r)
            for d in full_time[str(r["national_id"])]
        )
    ]
    assert exempt and len(exempt) < len(campus)  # some borrowers had left school or study part-time
    # several 90+ day defaults within 365 days summing to 50,000 CNY, none reaching it alone
    repaid = {r["loan_id"] for r in sim.rows("loan_repayment") if r["full"]}
    serious: dict[str, list[dict[str, str | int | bool]]] = defaultdict(list)
    for r in defaults:
        if int(r["days_past_due"]) >= 90:
            serious[str(r["national_id"])].append(r)
    several = set()
    for nid, loans in serious.items():
        for last in loans:
            window = [
                r
                for r in loans
                if day_of(last) - dt.timedelta(days=365) < day_of(r) <= day_of(last)
            ]
            if (
                len(window) >= 2
                and sum(int(r["amount_minor"]) for r in window) >= 5_000_000
                and all(int(r["amount_minor"]) < 5_000_000 for r in window)
            ):
                several.add(nid)
    assert len(several) >= 5
    assert any(r["loan_id"] in repaid for nid in several for r in serious[nid])


def test_some_fare_evaders_evade_on_rail_three_times_within_a_year(sim: Sim) -> None:
    rail: dict[str, list[dt.date]] = defaultdict(list)
    for r in sim.rows("fare_evasion"):
        if r["service"] in ("rail", "rail_hsr"):
            rail[str(r["national_id"])].append(day_of(r))
    repeat = {
        nid
        for nid, days in rail.items()
        if any(sum(d - dt.timedelta(days=365) < x <= d for x in days) >= 3 for d in days)
    }
    assert repeat and len(repeat) < 0.3 * len(rail)


def test_two_ride_hail_platforms_share_riders(sim: Sim) -> None:
    phones = {
        name: {str(r["phone"]) for r in sim.good[name]} for name in ("ride-didi", "ride-caocao")
    }
    both = phones["ride-didi"] & phones["ride-caocao"]
    assert len(phones["ride-caocao"]) < 0.3 * len(phones["ride-didi"])
    assert 0.01 < len(both) / len(phones["ride-didi"] | phones["ride-caocao"]) < 0.15
    prefixes = {str(r["trip_id"])[:2] for r in sim.good["ride-caocao"]}
    assert prefixes == {"CC"}


def test_default_policy_finds_every_feature_in_the_data(sim: Sim) -> None:
    """The shipped policy's reference rules (policy/rules.py), run on each person's good rows,
    give entries on every list, an exemption of each kind and a lifted restriction; and the
    people they list as dishonest are those :func:`listed_now` restates."""
    policy = load_policy(DEFAULT_POLICY_PATH)
    by_phone = {p["phone"]: p["national_id"] for p in sim.people}
    records: dict[str, list[RecordView]] = defaultdict(list)
    fids = {f.name: i for i, f in enumerate(sim.manifest.furnishers, start=1)}
    number = 0
    for name, rows in sim.good.items():
        superseded = {r["corrects"] for r in rows if "corrects" in r}
        for r in rows:
            if r["furnisher_record_id"] in superseded:
                continue
            number += 1
            nid = str(r.get("national_id") or by_phone[str(r["phone"])])
            payload = {k: v for k, v in r.items() if k not in COMMON}
            records[nid].append(
                RecordView(
                    number,
                    0,
                    fids[name],
                    name,
                    str(r["furnisher_record_id"]),
                    str(r["kind"]),
                    str(r["occurred_at"]),
                    payload,
                )
            )
    entries = []
    for subject, (nid, recs) in enumerate(sorted(records.items()), start=1):
        recs = [replace(x, subject_id=subject) for x in recs]
        entries += [(nid, e) for e in evaluate_records(policy, subject, recs, AS_OF).entries]
    by_list: dict[str, Counter[str]] = defaultdict(Counter)
    for _, e in entries:
        by_list[e.list][e.end_reason or e.status] += 1
    assert by_list["dishonest_judgment_debtors"]["exempt:company_officer"] > 0
    assert by_list["dishonest_judgment_debtors"]["court_ruling"] > 0
    assert by_list["repeat_fare_evaders"]
    assert by_list["serious_loan_defaulters"]["active"] > 0
    assert {e.platform for _, e in entries if e.list == "ride_hail_low_rating"} == {
        "ride-didi",
        "ride-caocao",
    }
    dishonest = [(nid, e) for nid, e in entries if e.list == "dishonest_judgment_debtors"]
    assert any(
        e.until is not None
        and dt.date.fromisoformat(e.until) > plus_years(dt.date.fromisoformat(e.since), 2)
        for _, e in dishonest
    )
    assert any(e.status == "active" and e.lifted for _, e in dishonest)
    assert {nid for nid, e in dishonest if e.status == "active"} == listed_now(sim)
    # campus-loan students the exemption keeps off the list of serious loan defaulters
    loans = policy.lists["serious_loan_defaulters"]
    lists = {**policy.lists, "serious_loan_defaulters": loans.model_copy(update={"exemptions": ()})}
    without = policy.model_copy(update={"lists": lists})

    def serious(p: Policy, recs: list[RecordView]) -> set[tuple[str, str | None, str]]:
        return {
            (e.since, e.until, e.status)
            for e in desired_entries(p, recs, AS_OF)
            if e.list == "serious_loan_defaulters"
        }

    kept_off = [
        nid
        for nid, recs in records.items()
        if any(r.kind == "student_status" for r in recs)
        and serious(without, recs) != serious(policy, recs)
    ]
    assert kept_off


# --- tickets -----------------------------------------------------------------------------


def test_tickets_reference_real_people_and_favour_the_listed(sim: Sim) -> None:
    with (sim.out / sim.manifest.tickets_file).open(encoding="utf-8", newline="") as fh:
        tickets = list(csv.DictReader(fh))
    assert list(tickets[0]) == ["service", "national_id", "phone", "platform"]
    assert 0.25 * 20_000 < len(tickets) < 0.35 * 20_000
    by_id, phones = sim.by_id, {p["phone"] for p in sim.people}
    services = Counter(t["service"] for t in tickets)
    assert set(services) == {"air", "rail_hsr", "hotel_star", "ride_hail"}
    ranked = [s for s, _ in services.most_common()]
    assert ranked[:2] == ["rail_hsr", "air"]
    for t in tickets:
        if t["service"] == "ride_hail":
            assert t["national_id"] == "" and t["platform"] in ("ride-didi", "ride-caocao")
            assert t["phone"] in phones
        else:
            assert t["platform"] == ""
            person = by_id[t["national_id"]]
            assert t["phone"] in ("", person["phone"])
    listed = listed_now(sim)
    by_listed = sum(1 for t in tickets if t["national_id"] in listed)
    id_tickets = sum(1 for t in tickets if t["national_id"])
    listed_rate = by_listed / len(listed)
    other_rate = (id_tickets - by_listed) / (len(sim.people) - len(listed))
    assert listed_rate > 2.5 * other_rate, (listed_rate, other_rate)


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        simulate(tmp_path, subjects=0, seed=1, as_of=AS_OF)
    with pytest.raises(ValueError):
        simulate(tmp_path, subjects=10, seed=1, as_of=AS_OF, bad_row_rate=1.5)


def test_check_characters_come_from_iso7064() -> None:
    from stdnum.iso7064 import mod_11_2

    from socialcredit.simulate.identifiers import national_id

    nid = national_id("110101", dt.date(1949, 12, 31), 2)
    assert mod_11_2.is_valid(nid) and ric.validate(nid) == nid
    wrong = nid[:-1] + ("0" if nid[-1] != "0" else "1")
    with pytest.raises(ValidationError):
        ric.validate(wrong)
