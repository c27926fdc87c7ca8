"""The simulator at scale: people drawn in blocks, rows spooled and merged a window at a time,
lines written by Arrow kernels.  Small ``block_size`` and window sizes make a few thousand
people cross every boundary a national run crosses; the files are re-read with :mod:`csv` and
:mod:`json`, independently of the writer."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric
from typer.testing import CliRunner

from socialcredit.cli import app as cli_app
from socialcredit.simulate import FURNISHERS, simulate
from socialcredit.simulate import spool as spool_module
from socialcredit.simulate.lines import write_csv, write_jsonl

AS_OF = dt.date(2025, 6, 30)


def rows_of(path: Path) -> list[dict[str, object]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines()]
    return [{k: v for k, v in r.items() if v != ""} for r in csv.DictReader(io.StringIO(text))]


def good_rows(folder: Path) -> dict[str, list[dict[str, object]]]:
    """Each furnisher's rows numbered 1…(rows − bad rows), once each: broken copies are
    numbered after the good rows or repeat an id (duplicates)."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    out = {}
    for f in manifest["furnishers"]:
        rows = rows_of(folder / f["file"])
        prefix = str(rows[0]["furnisher_record_id"]).rsplit("-", 1)[0]
        wanted = {f"{prefix}-{n:08d}" for n in range(1, f["rows"] - f["bad_rows"] + 1)}
        seen: set[object] = set()
        out[f["name"]] = [r for r in rows if r["furnisher_record_id"] in wanted
                          and not (r["furnisher_record_id"] in seen
                                   or seen.add(r["furnisher_record_id"]))]
    return out


@pytest.fixture(scope="module")
def blocks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("blocks")
    simulate(out, subjects=4000, seed=9, as_of=AS_OF, block_size=900)
    return out


def test_identifiers_stay_unique_across_blocks(blocks: Path) -> None:
    people = rows_of(blocks / "population.csv")
    assert len(people) == 4000
    assert [p["person_id"] for p in people] == [f"P{i:07d}" for i in range(1, 4001)]
    for key in ("national_id", "phone"):
        assert len({p[key] for p in people}) == 4000, key
    assert all(ric.is_valid(str(p["national_id"])) for p in people)
    good = good_rows(blocks)
    for name in ("court-beijing-no1", "court-shanghai-high"):
        cases = [r["case_number"] for r in good[name]
                 if r["kind"] == "court_judgment" and "corrects" not in r]
        assert cases and len(set(cases)) == len(cases), name
    loans = [r["loan_id"] for name in ("bank-icbc", "pay-alipay") for r in good[name]
             if r["kind"] == "loan_default" and "corrects" not in r]
    assert len(set(loans)) == len(loans)
    trips = [r["trip_id"] for name in ("ride-didi", "ride-caocao") for r in good[name]]
    assert len(set(trips)) == len(trips)


def test_rows_are_numbered_in_date_order(blocks: Path) -> None:
    manifest = json.loads((blocks / "manifest.json").read_text(encoding="utf-8"))
    for f in manifest["furnishers"]:
        rows = rows_of(blocks / f["file"])
        assert len(rows) == f["rows"]
        good = f["rows"] - f["bad_rows"]  # broken copies are numbered after the good rows
        first: dict[str, str] = {}
        for r in rows:
            first.setdefault(str(r["furnisher_record_id"]), str(r["occurred_at"]))
        prefix = str(rows[0]["furnisher_record_id"]).rsplit("-", 1)[0]
        days = [first[f"{prefix}-{n:08d}"] for n in range(1, good + 1)]
        assert days == sorted(days), f["name"]


def test_corrections_follow_what_they_correct_across_blocks(blocks: Path) -> None:
    corrected = 0
    for f in FURNISHERS:
        seen: dict[str, dict[str, object]] = {}
        for r in rows_of(blocks / f.file):
            if "corrects" in r:
                original = seen[str(r["corrects"])]
                assert original["national_id"] == r["national_id"]
                assert original["occurred_at"] == r["occurred_at"]
                corrected += 1
            seen[str(r["furnisher_record_id"])] = r
    assert corrected


def test_block_runs_are_deterministic(tmp_path: Path) -> None:
    done: list[int] = []
    for name in ("a", "b"):
        simulate(tmp_path / name, subjects=2500, seed=4, as_of=AS_OF, block_size=1000,
                 progress=done.append)
    assert done == [1000, 1000, 500] * 2
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert not any(name.startswith(".") for name in files)  # the scratch folder is gone
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_windows_do_not_change_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    simulate(tmp_path / "one", subjects=3000, seed=2, as_of=AS_OF, bad_row_rate=0.0)
    monkeypatch.setattr(spool_module, "WINDOW_ROWS", 50)
    simulate(tmp_path / "many", subjects=3000, seed=2, as_of=AS_OF, bad_row_rate=0.0)
    for f in FURNISHERS:
        assert (tmp_path / "one" / f.file).read_bytes() == (tmp_path / "many" / f.file).read_bytes()


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.none() | _TEXT, st.none() | st.integers(-10**12, 10**12),
                          st.none() | st.booleans()), min_size=1, max_size=20))
def test_lines_read_back_as_the_values(rows: list[tuple[str | None, int | None, bool | None]]
                                       ) -> None:
    table = pa.table({
        "id": [f"R{i}" for i in range(len(rows))],
        "s": pa.array([r[0] for r in rows], pa.string()),
        "n": pa.array([r[1] for r in rows], pa.int64()),
        "b": pa.array([r[2] for r in rows], pa.bool_()),
    })
    has_control = any(r[0] is not None and any(ord(c) < 0x20 for c in r[0]) for r in rows)
    out = io.BytesIO()
    if has_control:
        with pytest.raises(ValueError):
            write_jsonl(out, table, ["id", "s", "n", "b"])
    else:
        write_jsonl(out, table, ["id", "s", "n", "b"])
        back = [json.loads(line) for line in out.getvalue().decode("utf-8").split("\n")[:-1]]
        assert back == [{k: v for k, v in row.items() if v is not None}
                        for row in table.to_pylist()]
    out = io.BytesIO()
    write_csv(out, table, ["id", "s", "n", "b", "absent"])
    back = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8"), newline="")))
    assert back == [
        [f"R{i}", s or "", "" if n is None else str(n),
         {True: "true", False: "false", None: ""}[b], ""]
        for i, (s, n, b) in enumerate(rows)
    ]


def test_cli_simulate_writes_the_manifest(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_app, ["simulate", "--subjects", "1500", "--seed", "3",
                                          "--out", str(tmp_path / "sim"), "--json"])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    assert manifest["subjects"] == 1500
    on_disk = json.loads((tmp_path / "sim" / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk == manifest
    lines = (tmp_path / "sim" / "population.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1501
