"""Tests for the OFAC SDN legacy-CSV reader (socialcredit.ingest.ofac_sdn)."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

import pytest

from socialcredit.ingest.ofac_sdn import (
    SdnDocument,
    SdnFormatError,
    SdnIndividual,
    SdnReadResult,
    normalise_document_number,
    parse_remarks,
    read_sdn,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ofac-sdn"


def _raw(name: str) -> list[list[str]]:
    """The raw rows of one file, read independently of the module under test."""
    text = (DATA / name).read_bytes().decode("latin-1").rstrip("\x1a\r\n")
    return [next(csv.reader([line])) for line in text.splitlines() if line.strip("\x1a ")]


@pytest.fixture(scope="module")
def real() -> SdnReadResult:
    if not (DATA / "sdn.csv").is_file():
        pytest.skip(f"OFAC SDN data not available at {DATA} (../shared/data/ofac-sdn)")
    return read_sdn(DATA)


@pytest.fixture(scope="module")
def by_ent(real: SdnReadResult) -> dict[int, SdnIndividual]:
    return {person.ent_num: person for person in real.individuals}


@pytest.mark.shared_data
def test_individual_count_matches_raw_rows(real: SdnReadResult) -> None:
    rows = _raw("sdn.csv")
    individuals = [r for r in rows if r[2].strip() == "individual"]
    assert len(real.individuals) == len(individuals)
    assert real.counts["entries"] == len(rows)
    assert real.counts["skipped_by_type"] == len(rows) - len(individuals)
    assert real.skipped == [], real.skipped[:5]
    assert len({p.ent_num for p in real.individuals}) == len(real.individuals)


@pytest.mark.shared_data
def test_aliases_attached_to_right_entry(by_ent: dict[int, SdnIndividual]) -> None:
    raw_aliases: dict[int, list[str]] = defaultdict(list)
    for row in _raw("alt.csv"):
        raw_aliases[int(row[0])].append(row[3].strip())
    multi = sorted(e for e in by_ent if len(raw_aliases.get(e, [])) >= 2)
    assert len(multi) > 100
    for ent in (multi[0], multi[len(multi) // 2], multi[-1]):
        assert set(by_ent[ent].aliases) == set(raw_aliases[ent])
        # none of them leaked onto the neighbouring individual
        neighbour = min((e for e in by_ent if e > ent), default=multi[0])
        assert not set(by_ent[neighbour].aliases) & set(raw_aliases[ent]) - set(
            raw_aliases.get(neighbour, [])
        )
    without = next(e for e in by_ent if e not in raw_aliases)
    assert by_ent[without].aliases == ()


@pytest.mark.shared_data
def test_passports_parsed_with_country(by_ent: dict[int, SdnIndividual]) -> None:
    simple = re.compile(r"^(?:alt\. )?Passport ([A-Z]{0,2}[0-9]{5,}) \(([A-Za-z ,'-]+)\)")
    expected = []
    for row in _raw("sdn.csv"):
        if row[2].strip() == "individual":
            for item in row[11].split(";"):
                if match := simple.match(item.strip()):
                    expected.append((int(row[0]), match.group(1), match.group(2)))
    assert len(expected) > 300
    found = sum(
        SdnDocument("passport", number, country) in by_ent[ent].documents
        for ent, number, country in expected
    )
    assert found == len(expected)
    with_passport = [p for p in by_ent.values() if any(d.kind == "passport" for d in p.documents)]
    assert len(with_passport) >= 500
    documents = [d for p in by_ent.values() for d in p.documents]
    assert sum(d.country is not None for d in documents) / len(documents) > 0.8
    assert sum(any(d.kind == "national_id" for d in p.documents) for p in by_ent.values()) > 500


@pytest.mark.shared_data
def test_comment_continuations_are_appended(by_ent: dict[int, SdnIndividual]) -> None:
    continued = [(int(r[0]), r[1]) for r in _raw("sdn_comments.csv") if int(r[0]) in by_ent]
    assert continued
    for ent, tail in continued:
        assert by_ent[ent].remarks.endswith(tail.strip())


@pytest.mark.shared_data
def test_birth_dates_and_nationalities(by_ent: dict[int, SdnIndividual]) -> None:
    with_dob = [p for p in by_ent.values() if p.birth_dates]
    assert len(with_dob) > len(by_ent) // 2
    assert all(not d.startswith("DOB") and d for p in with_dob for d in p.birth_dates)
    assert sum(bool(p.nationalities) for p in by_ent.values()) > 1000


def test_parse_remarks_examples() -> None:
    births, nations, docs = parse_remarks(
        "DOB 14 Jan 1961; alt. DOB 1962; POB Baghdad, Iraq; nationality Iraq; "
        "Passport A1234567 (Iraq) issued 2001; National ID No. 123 456-789 (Iraq); "
        "alt. Passport B-7654321.; Cedula No. 16247821 (Colombia); NIT # 800-1 (Colombia); "
        "Tax ID No. 02681293-E (Spain); Identification Number 2.194.575 (Paraguay); "
        "Passport #H0044232 (Iraq); Phone Number 9647821757598; Gender Male."
    )
    assert births == ("14 Jan 1961", "1962")
    assert nations == ("Iraq",)
    assert docs == (
        SdnDocument("passport", "A1234567", "Iraq"),
        SdnDocument("national_id", "123 456-789", "Iraq"),
        SdnDocument("passport", "B-7654321", None),
        SdnDocument("national_id", "16247821", "Colombia"),
        SdnDocument("tax_id", "800-1", "Colombia"),
        SdnDocument("tax_id", "02681293-E", "Spain"),
        SdnDocument("national_id", "2.194.575", "Paraguay"),
        SdnDocument("passport", "H0044232", "Iraq"),
    )


def test_normalise_document_number() -> None:
    assert normalise_document_number(" rl 1794-375 ") == "RL1794375"
    assert normalise_document_number("2.194.575") == "2.194.575"


def _write(directory: Path, name: str, lines: list[str], encoding: str = "cp1252") -> None:
    (directory / name).write_bytes(("\r\n".join(lines) + "\r\n\x1a").encode(encoding))


def test_synthetic_directory_with_malformed_lines(tmp_path: Path) -> None:
    e = ",-0- " * 6
    _write(tmp_path, "sdn.csv", [
        f'10,"MÜLLER, Hans","individual","SDGT] [IFSR",-0- {e},"DOB 1960; Passport X1 (Germ"',
        f'11,"SHIP ONE","vessel","CUBA",-0- {e},-0- ',
        '12,"BROKEN, Row","individual"',
        f'13,"UNCLOSED, Quote,"individual","SDGT",-0- {e},-0- ',
        f'x14,"BAD, Number","individual","SDGT",-0- {e},-0- ',
        f'15,"GOOD, Last","individual","SDGT",-0- {e},"nationality Peru"',
    ])
    _write(tmp_path, "alt.csv", ['10,1,"aka","MUELLER, Hans",-0- ', '99,2,"aka","ORPHAN",-0- '])
    _write(tmp_path, "sdn_comments.csv", ['10,"any)."'])
    result = read_sdn(tmp_path)
    assert [p.ent_num for p in result.individuals] == [10, 15]
    first = result.individuals[0]
    assert first.name == "MÜLLER, Hans"
    assert first.aliases == ("MUELLER, Hans",)
    assert first.programs == ("SDGT", "IFSR")
    assert first.documents == (SdnDocument("passport", "X1", "Germany"),)
    assert result.individuals[1].nationalities == ("Peru",)
    problems = {(p.file, p.line) for p in result.skipped}
    assert problems == {("sdn.csv", 3), ("sdn.csv", 4), ("sdn.csv", 5), ("alt.csv", 2)}
    assert all(p.reason for p in result.skipped)
    assert result.counts["skipped_by_type"] == 1
    assert result.counts["problems"] == 4


def test_missing_directory_and_file_raise(tmp_path: Path) -> None:
    with pytest.raises(SdnFormatError) as info:
        read_sdn(tmp_path / "nowhere")
    assert info.value.file == tmp_path / "nowhere"
    assert isinstance(info.value, ValueError)
    _write(tmp_path, "sdn.csv", [])
    with pytest.raises(SdnFormatError, match="alt.csv"):
        read_sdn(tmp_path)
