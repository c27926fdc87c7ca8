"""What-if comparison logic (socialcredit.reports.whatif.compare) on hand-built entries, and the
structural policy diff. The CLI and the registry are exercised in tests/test_policy_cli.py."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path

import pytest

from conftest import make_id
from socialcredit.api.registry import Registry
from socialcredit.policy.diff import yaml_diff
from socialcredit.policy.model import load_policy
from socialcredit.policy.rules import DesiredEntry, ScoreResult
from socialcredit.reports.whatif import (
    Denial,
    Outcome,
    compare,
    logged_denials,
    person_of,
    refusals,
)

POLICIES = Path(__file__).resolve().parents[1] / "policies"
AS_OF = dt.date(2026, 6, 30)


def entry(lst: str, sid: int, status: str = "active", *, key: str = "k", platform: str | None
          = None, lifted: tuple[tuple[str, str | None], ...] = (), until: str | None = None,
          ) -> DesiredEntry:
    return DesiredEntry(lst, sid, key, status, "2026-01-01", until, platform=platform,
                        lifted=lifted)


def outcome(entries: list[DesiredEntry], scores: list[ScoreResult] | None = None) -> Outcome:
    return Outcome(entries, scores or [], 0, 0.0, "python")


def test_grade_counts_tell_a_change_of_grade_from_a_lost_or_new_score() -> None:
    """A newcomer read "0 change grade" over a table where a grade fell by thousands: those
    people had lost their score, which the report now says apart."""
    policy = load_policy(POLICIES / "default.yaml")
    o_cur = outcome([], [ScoreResult("personal_credit", 1, 900, "B", ()),
                         ScoreResult("personal_credit", 2, 690, "D", ()),
                         ScoreResult("personal_credit", 4, 900, "B", ())])
    o_new = outcome([], [ScoreResult("personal_credit", 1, 900, "B", ()),   # unchanged
                         ScoreResult("personal_credit", 3, 750, "C", ()),   # newly scored
                         ScoreResult("personal_credit", 4, 690, "D", ())])  # B → D
    sc = compare(policy, policy, o_new, o_cur, AS_OF)["scores"]["personal_credit"]
    assert (sc["grade_changed"], sc["score_lost"], sc["score_gained"]) == (1, 1, 1)
    assert sc["scored"] == {"current": 3, "new": 3}


def test_refusals_follow_sanctions_lifting_scope_and_sharing() -> None:
    policy = load_policy(POLICIES / "default.yaml")
    got = refusals(policy, [
        # a court lifted air until after as_of, and rail_hsr until a day already past
        entry("dishonest_judgment_debtors", 1,
              lifted=(("air", "2026-07-31"), ("rail_hsr", "2026-06-01"))),
        entry("dishonest_judgment_debtors", 2, "warned"),  # warned: refuses nothing
        entry("repeat_fare_evaders", 3, until="2026-06-30"),  # ends on as_of
        entry("ride_hail_low_rating", 4, platform="ride-didi"),  # shared with ride-caocao
        entry("ride_hail_low_rating", 5, platform="ride-caocao"),  # no agreement from it
    ], AS_OF)
    # default.yaml: dishonest → air, rail_hsr, rail_first_class, hotel_star (one sanction),
    # credit (another); ride_hail_low_rating → ride_hail, platform-scoped, shared by
    # ride-didi with ride-caocao
    assert got == {("rail_hsr", None, 1), ("rail_first_class", None, 1),
                   ("hotel_star", None, 1), ("credit", None, 1),
                   ("ride_hail", "ride-didi", 4), ("ride_hail", "ride-caocao", 4),
                   ("ride_hail", "ride-caocao", 5)}


def test_compare_counts_entries_refusals_decisions_scores_and_rates() -> None:
    new, cur = load_policy(POLICIES / "strict.yaml"), load_policy(POLICIES / "default.yaml")
    o_cur = outcome([entry("repeat_fare_evaders", 1), entry("repeat_fare_evaders", 2),
                     entry("ride_hail_low_rating", 3, "warned", platform="ride-didi")],
                    [ScoreResult("personal_credit", 1, 900, "B", ()),
                     ScoreResult("personal_credit", 2, 690, "D", ())])
    o_new = outcome([entry("repeat_fare_evaders", 1), entry("repeat_fare_evaders", 4),
                     entry("ride_hail_low_rating", 3, platform="ride-didi"),
                     entry("low_credit_score", 2, key="score")],
                    [ScoreResult("personal_credit", 1, 900, "B", ()),
                     ScoreResult("personal_credit", 2, 650, "D", ())])
    # subjects 1..4: two men in Beijing, two women in Jiangsu (ages 46, 21, 56, 35)
    ids = {1: make_id("110101", "19800101", 11), 2: make_id("110101", "20050301", 13),
           3: make_id("320102", "19700505", 22), 4: make_id("320102", "19900701", 24)}
    persons = [p for sid, nid in ids.items() if (p := person_of(sid, nid)) is not None]
    assert [p.sex for p in persons] == ["M", "M", "F", "F"]
    denials = [Denial("rail_hsr", 2, None, "2026-06-29T10:00:00Z"),
               Denial("rail_hsr", 1, None, "2026-06-29T10:00:00Z"),
               Denial("ride_hail", 3, "ride-caocao", "2026-06-29T11:00:00Z")]
    rep = compare(new, cur, o_new, o_cur, AS_OF, persons=persons, denials=denials)

    fare = rep["lists"]["repeat_fare_evaders"]
    assert (fare["added"], fare["removed"]) == (1, 1)
    assert rep["lists"]["low_credit_score"]["added"] == 1
    ride = rep["lists"]["ride_hail_low_rating"]["status"]
    assert ride == {"current": {"warned": 1}, "new": {"active": 1}}
    by = {(r["service"], r["platform"]): r for r in rep["refusals"]}
    assert (by[("rail_hsr", None)]["new_only"], by[("rail_hsr", None)]["current_only"]) == (1, 1)
    assert by[("rail_hsr", None)]["new_only_sample"] == [4]
    assert by[("credit", None)]["new_only_sample"] == [2]  # the score-fed list
    assert by[("ride_hail", "ride-caocao")]["new_only"] == 1  # shared by ride-didi
    dec = rep["decisions"]["by_service"]
    # subject 2 was refused rail_hsr: CURRENT still refuses, NEW allows → one flip
    assert dec["rail_hsr"] == {"denied": 2, "allow_under_new": 1, "allow_under_current": 0,
                               "flip": 1}
    assert dec["ride_hail"] == {"denied": 1, "allow_under_new": 0, "allow_under_current": 1,
                                "flip": 0}
    grades = rep["scores"]["personal_credit"]
    assert grades["grades"]["D"] == {"current": 1, "new": 1, "change": 0}
    assert grades["grade_changed"] == 0

    di = rep["disparate_impact"]
    # listed (a sanctioned list, active): CURRENT {1, 2}; NEW {1, 2 (score list), 3, 4}
    assert di["population"] == 4
    assert di["overall"]["current"]["rate"] == pytest.approx(2 / 4)
    assert di["overall"]["new"]["rate"] == pytest.approx(4 / 4)
    want = {  # group: (current rate, new rate)
        ("region", "11"): (Fraction(2, 2), Fraction(2, 2)),
        ("region", "32"): (Fraction(0, 2), Fraction(2, 2)),
        ("sex", "M"): (Fraction(2, 2), Fraction(2, 2)),
        ("sex", "F"): (Fraction(0, 2), Fraction(2, 2)),
        ("age_band", "<25"): (Fraction(1), Fraction(1)),
        ("age_band", "35-44"): (Fraction(0), Fraction(1)),
        ("age_band", "45-54"): (Fraction(1), Fraction(1)),
        ("age_band", "55-64"): (Fraction(0), Fraction(1)),
    }
    got = {(dim, r["group"]): r for dim, rows in di["groups"].items() for r in rows}
    assert set(got) == set(want)
    for k, (rc, rn) in want.items():
        row = got[k]
        assert row["current"]["rate"] == pytest.approx(float(rc))
        assert row["new"]["rate"] == pytest.approx(float(rn))
        assert row["current"]["ratio"] == pytest.approx(float(rc / Fraction(1, 2)))
        assert row["new"]["ratio"] == pytest.approx(1.0)
        # 2.0 and 0.0 lie outside [0.8, 1.25]
        assert row["flagged"] == ["current"]
    assert got[("region", "11")]["label"] == "Beijing"
    assert got[("region", "32")]["label"] == "Jiangsu"


def test_person_of_reads_province_birth_and_sex_digit() -> None:
    p = person_of(7, make_id("650102", "19851231", 456))
    assert p is not None and (p.province, p.birth_date, p.sex) == ("65", dt.date(1985, 12, 31),
                                                                   "F")
    assert person_of(8, make_id("650102", "19851231", 457)).sex == "M"  # type: ignore[union-attr]
    good = make_id("650102", "19851231", 456)
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    assert person_of(9, wrong) is None  # a wrong check character: not in the population


def test_yaml_diff_aligns_inserted_items_and_reports_scalars() -> None:
    a = {"lists": {"x": {"at_least": 3, "when": {"service": ["rail", "rail_hsr"]}}},
         "sanctions": [{"list": "a"}, {"list": "b"}], "gone": 1}
    b = {"lists": {"x": {"at_least": 2, "when": {"service": ["rail"]}}},
         "sanctions": [{"list": "a"}, {"list": "new"}, {"list": "b"}], "extra": True}
    got = [(c["path"], c["change"], c["old"], c["new"]) for c in yaml_diff(a, b)]
    assert got == [
        ("lists.x.at_least", "changed", 3, 2),
        ("lists.x.when.service", "changed", ["rail", "rail_hsr"], ["rail"]),
        ("sanctions.1", "added", None, {"list": "new"}),
        ("gone", "removed", 1, None),
        ("extra", "added", None, True),
    ]
    assert yaml_diff({"a": 1}, {"a": True}) == [
        {"path": "a", "change": "changed", "old": 1, "new": True}]


def test_the_window_of_logged_refusals_is_the_policys_local_days(registry: Registry) -> None:
    """``decisions.at`` is UTC; the what-if's window is of local days (issue #19 item 3): a
    refusal at 01:56 UTC on 8 December is on 7 December in New York, in a window ending then,
    and out of it in Shanghai, where it is already the 8th."""
    from zoneinfo import ZoneInfo

    from sqlalchemy import insert

    from socialcredit.store.tables import decisions

    with registry.store.engine.begin() as conn:
        conn.execute(insert(decisions).values(
            id="d-1", at="2026-12-08T01:56:00.000000+00:00", service="credit", outcome="deny",
            subject_id=1, gate="lender-gate", reasons="[]"))
    day = dt.date(2026, 12, 7)
    assert [d.at for d in logged_denials(registry.store, day,
                                         zone=ZoneInfo("America/New_York"))] == [
        "2026-12-08T01:56:00.000000+00:00"]
    assert logged_denials(registry.store, day, zone=ZoneInfo("Asia/Shanghai")) == []
    assert len(logged_denials(registry.store, day + dt.timedelta(days=1),
                              zone=ZoneInfo("Asia/Shanghai"))) == 1
