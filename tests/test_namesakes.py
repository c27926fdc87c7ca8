"""The namesake stress set (simulate/namesakes.py) and its benchmark (bench/namesakes.py).

Properties are checked on a set of 3,000 people built once per module; identity numbers are
checked with python-stdnum (``stdnum.cn.ric``), never against values written here.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
from stdnum.cn import ric
from stdnum.iso7064 import mod_11_2

from socialcredit.simulate.namesakes import (
    COMMON_NAMES,
    FINDING_SHARE,
    NAMESAKE_FURNISHERS,
    TRUTH_FILE,
    NamesakeSet,
    namesake_population,
    pinyin_name,
)

AS_OF = dt.date(2026, 6, 30)
BENCH = Path(__file__).resolve().parents[1] / "bench" / "namesakes.py"


@pytest.fixture(scope="module")
def data() -> NamesakeSet:
    return namesake_population(3000, seed=11, as_of=AS_OF)


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_namesakes", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    def files(seed: int, folder: Path) -> dict[str, bytes]:
        namesake_population(500, seed=seed, as_of=AS_OF).write(folder)
        return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}

    first, again = files(3, tmp_path / "a"), files(3, tmp_path / "b")
    assert first == again
    assert files(4, tmp_path / "c") != first
    assert TRUTH_FILE in first and len(first) == len(NAMESAKE_FURNISHERS) + 1


def test_people_are_namesakes_with_valid_consistent_ids(data: NamesakeSet) -> None:
    names = {name for name, _, _ in COMMON_NAMES}
    assert {p.name for p in data.people} <= names
    assert len({p.national_id for p in data.people}) == len(data.people)
    for p in data.people:
        assert ric.is_valid(p.national_id), p
        assert ric.get_birth_date(p.national_id) == p.birth_date
        assert ("M" if int(p.national_id[16]) % 2 else "F") == p.sex
    by_name_year = Counter((p.name, p.birth_date.year) for p in data.people)
    by_name_day = Counter((p.name, p.birth_date) for p in data.people)
    assert by_name_year.most_common(1)[0][1] >= 10  # shared birth years
    assert sum(c >= 2 for c in by_name_day.values()) >= 5  # some share the full birth date


def test_every_truth_id_is_a_valid_person(data: NamesakeSet, tmp_path: Path) -> None:
    ids = {p.national_id for p in data.people}
    assert set(data.truth.values()) <= ids
    assert all(ric.is_valid(nid) for nid in data.truth.values())
    assert data.must_list and data.must_list <= ids
    sent = {(f, str(r["furnisher_record_id"])) for f, rows in data.records.items() for r in rows}
    assert sent == set(data.truth)
    data.write(tmp_path)
    with (tmp_path / TRUTH_FILE).open(encoding="utf-8") as fh:
        truth = {(r["furnisher"], r["furnisher_record_id"]): r["national_id"]
                 for r in csv.DictReader(fh)}
    assert truth == data.truth
    for spec in NAMESAKE_FURNISHERS:  # the truth never reaches a furnisher file
        header = (tmp_path / spec.file).read_text(encoding="utf-8").splitlines()[0].split(",")
        assert "person_id" not in header and "id_fault" not in header


def _adjacent_swap(a: str, b: str) -> bool:
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    return (len(diff) == 2 and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])


def test_garbled_ids_fail_the_check_and_are_one_error_away(data: NamesakeSet) -> None:
    seen = Counter[str]()
    for (furnisher, frid), fault in data.faults.items():
        row = next(r for r in data.records[furnisher] if r["furnisher_record_id"] == frid)
        sent, truth = str(row["national_id"]), data.truth[(furnisher, frid)]
        assert len(sent) == 18 and sent != truth
        assert not ric.is_valid(sent) and not mod_11_2.is_valid(sent)
        if fault == "typo":
            assert sum(x != y for x, y in zip(sent, truth, strict=True)) == 1
        else:
            assert _adjacent_swap(sent, truth), (sent, truth)
        seen[fault] += 1
    assert seen["typo"] >= 2 and seen["transposition"] >= 2
    clean = [(f, r) for f, rows in data.records.items() for r in rows
             if "national_id" in r and (f, r["furnisher_record_id"]) not in data.faults]
    assert all(r["national_id"] == data.truth[(f, str(r["furnisher_record_id"]))]
               for f, r in clean)


def test_twins_share_name_birth_and_address_not_id(data: NamesakeSet) -> None:
    assert len(data.twins) >= 2
    for a, b in data.twins:
        pa, pb = data.people[a], data.people[b]
        ha, hb = data.household_of[a], data.household_of[b]
        assert (pa.name, pa.birth_date) == (pb.name, pb.birth_date)
        assert data.households[ha].address == data.households[hb].address
        assert pa.national_id != pb.national_id


def test_households_share_one_phone(data: NamesakeSet) -> None:
    sizes = Counter(len(h.members) for h in data.households)
    assert set(sizes) <= {2, 3, 4, 5} and len(sizes) >= 3
    holders: dict[str, set[int]] = {}
    for h in data.households:
        assert len({data.people[i].phone for i in h.members}) == 1
        for span in h.phones:
            holders.setdefault(span.number, set()).add(h.index)
    recycled = {r.number for r in data.recycled}
    assert all(len(hs) == 1 for number, hs in holders.items() if number not in recycled)
    ride = data.records["ride-didi"]
    assert ride and all("national_id" not in r and r["phone"] and r["name"] for r in ride)
    names = {str(r["name"]) for rows in data.records.values() for r in rows}
    assert pinyin_name("张伟") in names or pinyin_name("张伟", given_first=True) in names
    assert sum(n.isascii() for n in names) >= 4  # pinyin, both orders, for several names


def test_recycled_numbers_rows_fall_on_the_right_side(data: NamesakeSet) -> None:
    assert len(data.recycled) >= 2
    households = {p.national_id: data.household_of[p.index] for p in data.people}
    for rec in data.recycled:
        assert rec.first != rec.second and rec.until < rec.since
        rows = [(f, r) for f, rs in data.records.items() for r in rs if r.get("phone") ==
                rec.number]
        sides = {"before": 0, "after": 0}
        for f, r in rows:
            day = dt.date.fromisoformat(str(r["occurred_at"]))
            home = households[data.truth[(f, str(r["furnisher_record_id"]))]]
            assert home in (rec.first, rec.second)
            if home == rec.first:
                assert day <= rec.until
                sides["before"] += 1
            else:
                assert day >= rec.since
                sides["after"] += 1
        assert sides["before"] >= 2 and sides["after"] >= 2


def test_namesake_population_refuses_tiny_sets() -> None:
    with pytest.raises(ValueError, match="at least 10"):
        namesake_population(3, seed=1, as_of=AS_OF)


def test_bench_runs_end_to_end(tmp_path: Path) -> None:
    result = _bench().run(2000, seed=5, folder=tmp_path)
    counts = ("rows_sent", "records_landed", "linked_right", "wrong_links", "unlinked",
              "missed", "not_landed", "subjects", "wrong_merges", "must_list",
              "wrong_listings", "pending_review", "missed_listings", "other_lists_wrong")
    for key in counts:
        assert isinstance(result[key], int) and result[key] >= 0, key
    assert result["rows_sent"] == (result["records_landed"] + result["not_landed"])
    assert result["records_landed"] == (result["linked_right"] + result["wrong_links"]
                                        + result["unlinked"] + result["missed"]
                                        + result["linked_no_id"])
    assert result["must_list"] == round(2000 * FINDING_SHARE)
    # the target: namesakes, twins, family phones and recycled numbers list no one
    # wrongly, and every person with a finding is listed
    assert result["wrong_listings"] == result["other_lists_wrong"] == 0
    # ... and it can fail for the reason it is quoted: findings whose identity is only a guess
    # reach the wrong person, and only "no sanction on a guess" (pending_review) keeps them
    # from being listed (with it off, this run lists 3 people wrongly)
    assert result["guessed_rows"] == round(2000 * _bench().GUESS_SHARE)
    assert result["pending_review_wrong"] >= 1
    assert result["by_case"]["id_shared_phone"]["wrong_links"] >= 1
    assert result["missed_listings"] == 0
    assert result["ingest_s"] > 0 and result["records_per_s"] > 0
    assert (tmp_path / "registry.db").is_file()


def test_guessed_rows_carry_no_valid_id() -> None:
    """The bench's later delivery: every row's identity is only a guess, of every kind."""
    bench = _bench()
    data = namesake_population(1000, seed=11, as_of=AS_OF)  # its own: guessed_rows adds truth
    later = bench.guessed_rows(data, seed=11)
    kinds = Counter[str]()
    for furnisher, rows in later.items():
        for row in rows:
            key = (furnisher, str(row["furnisher_record_id"]))
            kinds[data.faults[key]] += 1
            assert data.truth[key] not in data.must_list
            sent = row.get("national_id")
            assert sent is None or not ric.is_valid(str(sent)), row
            assert ("name" in row) == (data.faults[key] != "shared_phone")
    assert set(kinds) == set(bench.GUESSES) and min(kinds.values()) >= 5
    assert {r["kind"] for rows in later.values() for r in rows} == {
        "dishonesty_finding", "loan_default"}
