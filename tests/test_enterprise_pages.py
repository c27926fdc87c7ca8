"""What the registry shows about enterprises (issue #13): the transparency report counts
sanctions (people and organisations apart) and red-list incentives separately, an
organisation's file names its score in an organisation's words, and the console's what-if page
shows incentives granted beside refusals. Through evaluation, the summary and its headline, and
the console's pages over real HTTP (a server on 127.0.0.1), on a real SQLite file and
PostgreSQL. USCCs are made checksum-valid by python-stdnum (:func:`make_uscc`)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from conftest import TODAY, furnish, make_id
from servers import running
from socialcredit.api.keys import add_operator
from socialcredit.api.registry import Registry
from socialcredit.disclosure.subject_file import subject_file
from socialcredit.reports import summarise
from socialcredit.reports.words import headline
from socialcredit.settings import Settings
from socialcredit.store.tables import subjects
from test_organisations import make_uscc

RATED = make_uscc(code="MA05T8W2N")   # an A-grade taxpayer, never listed
LISTED = make_uscc(code="MA07H3D6P")  # a listed enterprise
REP = make_id("110105", "19650303", 55)
DEBTOR = make_id("310101", "19800808", 71)


def _world(reg: Registry, tmp_path: Path) -> None:
    furnish(reg, tmp_path, "tax-bj", "regulator", [
        {"furnisher_record_id": "t1", "kind": "tax_credit_rating", "occurred_at": "2026-04-15",
         "organisation_id": RATED, "name": "北京红榜科技有限公司", "rating_year": 2025,
         "grade": "A"}])
    furnish(reg, tmp_path, "samr-bj", "regulator", [
        {"furnisher_record_id": "r1", "kind": "organisation_registered",
         "occurred_at": "2020-01-02", "organisation_id": LISTED, "name": "北京失信商贸有限公司"},
        {"furnisher_record_id": "r2", "kind": "representative_appointed",
         "occurred_at": "2020-01-02", "organisation_id": LISTED, "name": "北京失信商贸有限公司",
         "role": "legal_representative", "representative_id": REP}])
    case = {"ground": 1, "amount_minor": 2_000_000, "currency": "CNY"}
    furnish(reg, tmp_path, "court-bj", "court", [
        {"furnisher_record_id": "c1", "kind": "court_judgment", "occurred_at": "2026-01-05",
         "organisation_id": LISTED, "name": "北京失信商贸有限公司",
         "case_number": "(2026)京01执300号", "amount_minor": 2_000_000, "currency": "CNY"},
        {"furnisher_record_id": "c2", "kind": "dishonesty_finding", "occurred_at": "2026-03-01",
         "organisation_id": LISTED, "name": "北京失信商贸有限公司",
         "case_number": "(2026)京01执300号", **case},
        {"furnisher_record_id": "c3", "kind": "dishonesty_finding", "occurred_at": "2026-03-02",
         "national_id": DEBTOR, "name": "李四", "case_number": "(2026)京01执301号", **case}])


def _id(reg: Registry, **where: str) -> int:
    with reg.store.read() as conn:
        return int(conn.execute(select(subjects.c.id).filter_by(**where)).scalar_one())


def _operator(client: httpx.Client, reg: Registry) -> None:
    key = add_operator(reg.store, name="olga")
    assert client.post("/admin/sign-in", data={"key": key}).status_code == 303


def test_the_report_counts_sanctions_and_incentives_apart(db_url: str, tmp_path: Path) -> None:
    reg = Registry(Settings(database_url=db_url, notices_dir=tmp_path / "n"), today=TODAY)
    reg.ensure_schema()
    _world(reg, tmp_path)
    summary = summarise(reg.store, reg.policy, as_of=TODAY)
    assert "a_grade_taxpayers" not in summary["listed_people"]
    assert summary["listed_people"]["dishonest_judgment_debtors"] == 1  # the person only
    assert summary["listed_organisations"]["dishonest_judgment_debtors"] == 1
    assert summary["listed_people"]["restricted_representatives"] == 1
    assert summary["incentives"] == {"a_grade_taxpayers": {"granted": 1, "suspended": 0}}
    words = headline(summary, list_titles={n: s.title for n, s in reg.policy.lists.items()})
    assert "1 person listed as a dishonest judgment debtor" in words
    assert "1 enterprise on the list" in words
    assert "1 subject granted incentives on a red list" in words
    assert "A-grade taxpayers" not in words  # a red list lists no one
    with running(reg) as base, httpx.Client(base_url=base, timeout=20) as client:
        _operator(client, reg)
        page = client.get("/admin/report").text
    sanctions = page.split('data-testid="report-entries"')[1].split("</table>")[0]
    assert "A-grade taxpayers" not in sanctions
    assert re.search(r"dishonest judgment debtors</th><td class=\"num\">1</td>"
                     r"<td class=\"num\">1</td>", sanctions, re.S), sanctions
    incentives = page.split('data-testid="report-incentives"')[1].split("</table>")[0]
    assert re.search(r"A-grade taxpayers.*?</th><td class=\"num\">1</td>"
                     r"<td class=\"num\">0</td>", incentives, re.S), incentives
    reg.close()


def test_an_organisations_file_names_its_score_in_an_organisations_words(
        db_url: str, tmp_path: Path) -> None:
    reg = Registry(Settings(database_url=db_url, notices_dir=tmp_path / "n"), today=TODAY)
    reg.ensure_schema()
    _world(reg, tmp_path)
    org, person = _id(reg, organisation_id=LISTED), _id(reg, national_id=DEBTOR)
    org_scores = subject_file(reg.store, reg.policy, org)["scores"]
    assert [s["title"] for s in org_scores] == ["Enterprise credit score"]
    assert [s["title"] for s in subject_file(reg.store, reg.policy, person)["scores"]] == [
        "Personal credit score"]
    with running(reg) as base, httpx.Client(base_url=base, timeout=20) as client:
        _operator(client, reg)
        page = client.get(f"/admin/subjects/{org}").text
        mine = client.get(f"/admin/subjects/{person}").text
    assert "Enterprise credit score:" in page and "Personal credit score" not in page
    assert "Personal credit score:" in mine
    reg.close()


def _run_what_if(client: httpx.Client) -> str:
    form = client.get("/admin/policy").text
    match = re.search(r'name="csrf" value="([^"]+)"', form)
    assert match is not None
    started = client.post("/admin/policy/what-if",
                          data={"csrf": match.group(1), "candidate": "current"})
    assert started.status_code == 303, started.text
    for _ in range(600):  # the run goes in a thread; bounded wait, not a timed assertion
        page: Any = client.get(started.headers["location"]).text
        if 'data-testid="what-if-done"' in page or 'data-testid="what-if-error"' in page:
            return str(page)
        time.sleep(0.2)
    raise AssertionError("the what-if did not finish")


def test_the_what_if_page_shows_incentives_beside_refusals(db_url: str, tmp_path: Path) -> None:
    reg = Registry(Settings(database_url=db_url, notices_dir=tmp_path / "n",
                            clocks_every_seconds=3600), today=TODAY)
    reg.ensure_schema()
    _world(reg, tmp_path)
    with running(reg) as base, httpx.Client(base_url=base, timeout=60) as client:
        _operator(client, reg)
        page = _run_what_if(client)
    assert 'data-testid="what-if-done"' in page, page
    assert 'data-testid="what-if-refusals"' in page
    table = page.split('data-testid="what-if-benefits"')[1].split("</table>")[0]
    assert "Entries suspended by a live sanction: 0 → 0." in table
    text = reg.policy.benefits["green_channel"]
    assert re.search(rf"<th scope=\"row\">permits</th><td>{re.escape(text)}</td>"
                     r"<td class=\"num\">1</td><td class=\"num\">1</td>", table), table
    reg.close()
