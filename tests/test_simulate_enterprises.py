"""The simulated enterprises (issue #13, item 7): unified social credit codes python-stdnum
accepts, legal representatives and main responsible persons from the population, reported by
the ``regulator`` furnisher kind; enforcement cases that list some enterprises; the tax
authority's ratings whose A grades feed the red list. Shares are checked against the figures
the simulator's docstring cites, within sampling error. Then the demo, on a real SQLite file and
PostgreSQL, says in the article's terms how many people and enterprises are listed, how many
representatives are restricted and how many incentives are granted."""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from stdnum.cn import uscc

from conftest import TODAY
from socialcredit.api.registry import Registry
from socialcredit.cli.demo_run import run_demo
from socialcredit.settings import Settings
from socialcredit.simulate import simulate

AS_OF = dt.date(2026, 6, 30)
PEOPLE = 20_000


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        if path.suffix == ".csv":
            return [{k: v for k, v in r.items() if v} for r in csv.DictReader(fh)]
        import json

        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("firms")
    manifest = simulate(out, subjects=PEOPLE, seed=5, as_of=AS_OF, bad_row_rate=0.0)
    files = {f.name: _rows(out / f.file) for f in manifest.furnishers}
    return {"manifest": manifest, "files": files,
            "people": {r["national_id"]: r for r in _rows(out / "population.csv")}}


def test_enterprises_are_reported_by_regulators_with_valid_codes(sim: dict[str, Any]) -> None:
    kinds = {f.name: f.kind for f in sim["manifest"].furnishers}
    assert kinds["regulator-samr"] == kinds["tax-sta"] == "regulator"
    samr = sim["files"]["regulator-samr"]
    assert all("national_id" not in r and "phone" not in r for r in samr)
    registered = [r for r in samr if r["kind"] == "organisation_registered"]
    codes = [r["organisation_id"] for r in registered]
    assert len(set(codes)) == len(codes) and all(uscc.is_valid(c) for c in codes)
    assert {c[:2] for c in codes} == {"91"}  # market regulation, enterprise
    # SAMR: about 58 M enterprises for 1,410 M people
    assert 0.036 < len(codes) / PEOPLE < 0.046
    forms = Counter(r["legal_form"] for r in registered)
    assert forms.most_common(1)[0][0] == "limited_liability"
    assert all(r["name"].endswith(("有限公司", "合伙企业", "经营部")) for r in registered)


def test_every_enterprise_has_a_legal_representative_from_the_population(
        sim: dict[str, Any]) -> None:
    samr, people = sim["files"]["regulator-samr"], sim["people"]
    registered = {r["organisation_id"]: r["occurred_at"] for r in samr
                  if r["kind"] == "organisation_registered"}
    appointed = [r for r in samr if r["kind"] == "representative_appointed"]
    first = {}
    for r in appointed:
        assert people[r["representative_id"]]["name"] == r["representative_name"]
        assert r["occurred_at"] >= registered[r["organisation_id"]]
        if r["role"] == "legal_representative":
            first.setdefault(r["organisation_id"], r["occurred_at"])
    assert first == registered  # one from the registration day, for every enterprise
    mrp = {r["organisation_id"] for r in appointed if r["role"] == "main_responsible_person"}
    assert 0.25 < len(mrp) / len(registered) < 0.35
    ended = [r for r in samr if r["kind"] == "representative_ended"]
    assert 0.05 < len(ended) / len(registered) < 0.11
    assert all(r["role"] == "legal_representative" for r in ended)


def test_some_enterprises_are_listed_and_a_grade_taxpayers_rated(sim: dict[str, Any]) -> None:
    court = [r for name in ("court-beijing-no1", "court-shanghai-high")
             for r in sim["files"][name] if "organisation_id" in r]
    assert all("national_id" not in r and "phone" not in r for r in court)
    findings = {r["organisation_id"]: r["occurred_at"] for r in court
                if r["kind"] == "dishonesty_finding"}
    paid = {r["organisation_id"] for r in court
            if r["kind"] == "judgment_performance" and r["full"] in (True, "true")}
    firms = sum(r["kind"] == "organisation_registered"
                for r in sim["files"]["regulator-samr"])
    two_years_ago = AS_OF.replace(year=AS_OF.year - 2).isoformat()
    listed = {o for o, day in findings.items() if day > two_years_ago and o not in paid}
    assert 0.003 < len(listed) / firms < 0.025
    ratings = sim["files"]["tax-sta"]
    assert {r["rating_year"] for r in ratings} == {"2025"}
    grades = Counter(r["grade"] for r in ratings)
    assert 0.05 < grades["A"] / len(ratings) < 0.11
    for r in ratings:  # a dishonest debtor before the rating is graded D
        if findings.get(r["organisation_id"], "9999") < r["occurred_at"]:
            assert r["grade"] == "D"


def test_the_simulator_imports_no_store_module() -> None:
    code = ("import sys, socialcredit.simulate; "
            "print(sorted(m for m in sys.modules if m.startswith('socialcredit.store')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_the_demo_counts_listed_enterprises_restricted_representatives_and_incentives(
        db_url: str, tmp_path: Path) -> None:
    reg = Registry(Settings(database_url=db_url, notices_dir=tmp_path / "notices"),
                   today=TODAY)
    try:
        summary = run_demo(reg, subjects=4000, seed=3, work_dir=tmp_path / "demo",
                           as_of=dt.date(2026, 12, 7))
    finally:
        reg.close()
    firms = summary["listed_organisations"]["dishonest_judgment_debtors"]
    reps = summary["listed"]["restricted_representatives"]
    granted = summary["incentives"]["a_grade_taxpayers"]["granted"]
    assert firms > 0 and reps >= firms and granted > 0, summary
    # a red list is never counted as listed
    assert "a_grade_taxpayers" not in summary["listed"]
    from socialcredit.cli.demo import _enterprises

    text = _enterprises(summary)
    assert f"On the blacklist: [bold]{summary['listed']['dishonest_judgment_debtors']:,}[/]" \
        in text
    assert "of listed enterprises restricted in consumption (not listed themselves)" in text
    assert f"incentives granted to [bold]{granted:,}[/] enterprise" in text
