"""Red lists on every engine (issue #13): the A-grade taxpayer list of the default policy,
hand-checked from the policy text, gives the same entries on the reference rules and DuckDB
(the property tests of ``test_engines.py`` compare DuckDB and Spark on random histories with
the red lists of the default and variant policies)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from socialcredit.policy.rules import RecordView
from test_engines import _rec, _run


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_a_red_list_lists_and_a_re_rating_removes_on_every_engine(tmp_path: Path,
                                                                   engine: str) -> None:
    """The A-grade taxpayer red list (issue #13): twelve months from the rating record (start
    day not counted, so ``until`` is the day after 2026-04-15), one entry per rating year; a
    lower grade for the same year removes it, another year's does not."""
    def rating(rid: int, day: str, year: int, grade: str) -> RecordView:
        return _rec(rid, "tax_credit_rating", day, 9, "tax-bj", rating_year=year, grade=grade)

    recs = [rating(1, "2025-04-15", 2024, "A"), rating(2, "2025-06-01", 2023, "D"),
            rating(3, "2025-04-20", 2024, "A"), rating(4, "2026-04-10", 2025, "A"),
            rating(5, "2026-05-01", 2025, "C")]
    got = _run(recs, dt.date(2026, 6, 30), tmp_path, engine)
    red = {e.key: (e.status, e.since, e.until) for e in got.entries
           if e.list == "a_grade_taxpayers"}
    assert red == {"2024": ("expired", "2025-04-15", "2026-04-16"),
                   "2025": ("removed", "2026-04-10", "2027-04-11")}
