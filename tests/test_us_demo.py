"""The US policy as a newcomer meets it (issue #19, item 7): chosen by name on the command line,
its simulated population, and the whole demo (simulate, ingest, evaluate, gates, notices,
report) on SQLite and PostgreSQL. A policy without a time zone is refused with its path."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from conftest import TODAY
from servers import running
from socialcredit.api.registry import Registry
from socialcredit.cli.demo_run import US_DEMO_GATES, run_demo
from socialcredit.errors import IdentifierError
from socialcredit.identity import scheme_for
from socialcredit.policy.model import load_policy, shipped_policies
from socialcredit.reports.whatif import evaluate_policy
from socialcredit.settings import Settings
from socialcredit.simulate import simulate_us, simulator_for
from socialcredit.store.tables import contact_channels, list_entries
from test_cli import run

US_YAML = Path(__file__).resolve().parents[1] / "src" / "socialcredit" / "policy" / "us.yaml"


def test_the_us_policy_is_shipped_and_chosen_by_name(tmp_path: Path) -> None:
    assert {"default", "strict", "us"} <= set(shipped_policies())
    assert load_policy("us").version_hash == load_policy(US_YAML).version_hash
    r = run(tmp_path, "policy", "validate", "us")
    assert r.returncode == 0, r.stderr
    assert "policy 'us'" in r.stdout
    r = run(tmp_path, "policy", "validate", "nosuchpolicy")
    assert r.returncode != 0 and "shipped policies: default, strict, us" in r.stderr


def test_a_policy_without_a_time_zone_is_refused_with_its_path(tmp_path: Path) -> None:
    text = US_YAML.read_text(encoding="utf-8")
    assert "  time_zone: America/New_York\n" in text
    bad = tmp_path / "no-zone.yaml"
    bad.write_text(text.replace("  time_zone: America/New_York\n", ""), encoding="utf-8")
    r = run(tmp_path, "policy", "validate", str(bad))
    assert r.returncode == 1
    assert "jurisdiction.time_zone" in r.stderr and "Field required" in r.stderr


def test_the_us_population_has_valid_ssns_and_breaks_a_few_rows_on_purpose(
        tmp_path: Path) -> None:
    assert simulator_for("us.ssn") is simulate_us
    m = simulate_us(tmp_path / "a", subjects=400, seed=3, as_of=TODAY, bad_row_rate=0.02)
    again = simulate_us(tmp_path / "b", subjects=400, seed=3, as_of=TODAY, bad_row_rate=0.02)
    assert m == again
    for f in m.furnishers:
        assert (tmp_path / "a" / f.file).read_bytes() == (tmp_path / "b" / f.file).read_bytes()
    parse = scheme_for("us.ssn").parse
    with (tmp_path / "a" / "population.csv").open(encoding="utf-8") as fh:
        people = list(csv.DictReader(fh))
    assert len(people) == 400 and len({p["national_id"] for p in people}) == 400
    for p in people:
        parse(p["national_id"])  # raises on a never-issued SSN
    bad = 0
    for f in m.furnishers:
        with (tmp_path / "a" / f.file).open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row["national_id"]:
                    try:
                        parse(row["national_id"])
                    except IdentifierError:
                        bad += 1
    assert 0 < bad <= sum(f.bad_rows for f in m.furnishers)


def test_the_demo_runs_under_the_us_policy(db_url: str, tmp_path: Path) -> None:
    reg = Registry(Settings(database_url=db_url, policy_path=Path("us"),
                            notices_dir=tmp_path / "notices"), today=TODAY)
    day = dt.date(2026, 12, 7)
    try:
        summary = run_demo(reg, subjects=600, seed=2, work_dir=tmp_path / "demo", as_of=day)
        # one policy, every engine: the batch engine lists and scores as the rules do
        (by_rules,) = evaluate_policy(reg.store, [reg.policy], day, engine="python")
        (by_duckdb,) = evaluate_policy(reg.store, [reg.policy], day, engine="duckdb")
    finally:
        reg.close()

    def entries(o: Any) -> set[tuple[Any, ...]]:
        return {(e.list, e.subject_id, e.key, e.status, e.since, e.until) for e in o.entries}

    assert entries(by_rules) == entries(by_duckdb) and by_rules.entries
    assert {(s.subject_id, s.value, s.reasons) for s in by_rules.scores} == {
        (s.subject_id, s.value, s.reasons) for s in by_duckdb.scores}
    assert summary["policy"] == "us"
    assert summary["listed"].get("serious_delinquencies", 0) > 0
    assert summary["listed"].get("ride_hail_low_rating", 0) > 0
    assert set(summary["decisions"]) <= {s for svcs, _ in US_DEMO_GATES.values() for s in svcs}
    assert summary["decisions"]["credit"]["allow"] > 0
    assert summary["rejected_rows"] > 0  # the simulator's never-issued SSNs, quarantined
    assert Path(summary["report"]).exists()


def test_a_listed_us_person_signs_in_to_me_after_the_demo(db_url: str, tmp_path: Path) -> None:
    """The US carrier's subscriber record (``phone_registration``, the US policy's authoritative
    source of the contact channel) gives every listed person of the demo a phone their codes go
    to; the demo's example person (refused today, or else listed) signs in over HTTP with the
    code it asked for and reads their listing and its notice in their file."""
    reg = Registry(Settings(database_url=db_url, policy_path=Path("us"),
                            notices_dir=tmp_path / "notices"), today=TODAY)
    try:
        summary = run_demo(reg, subjects=600, seed=2, work_dir=tmp_path / "demo",
                           as_of=dt.date(2026, 12, 7))
        with reg.store.read() as conn:
            listed = set(conn.execute(select(list_entries.c.subject_id).where(
                list_entries.c.status == "active")).scalars())
            reached = set(conn.execute(select(contact_channels.c.subject_id).where(
                contact_channels.c.subject_id.in_(listed))).scalars())
            channels = conn.execute(select(func.count()).select_from(contact_channels)).scalar()
        assert listed and reached == listed and channels >= len(listed)
        who = summary["sign_in"]
        assert who is not None and who["phone"].startswith("+1") and len(who["code"]) == 6
        with running(reg) as base, httpx.Client(base_url=base, timeout=20) as c:
            assert c.get("/v1/me/file").status_code == 401
            r = c.post("/v1/me/session", json={"national_id": who["national_id"],
                                               "phone": who["phone"], "code": who["code"]})
            assert r.status_code == 200, r.text
            file = c.get("/v1/me/file").json()
        assert "active" in {e["status"] for e in file["entries"]}
        assert "listing" in {n["kind"] for n in file["notices"]}
    finally:
        reg.close()
