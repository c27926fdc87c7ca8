"""A list file cut short never delists the list (issue #14, "a truncated list file is accepted
and delists most of the list").

The folders are written in ``tmp_path`` with the layout and the row writer of
``tests/fixtures/sdn_concatenated/generate.py`` (loaded from its file): its eight entries plus
:data:`EXTRA` made-up individuals, each with a passport, so that the list is larger than the
guard's floor (:data:`~socialcredit.screening.delist_guard.MIN_DELIST_GUARDED`). The gate's
answer is asked through the registry's decision path (:class:`DecisionService`), as at an
airport. One test cuts the real OFAC list (``../shared/data/ofac-sdn``) as the issue did.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import func, select

from conftest import TODAY
from socialcredit.api.keys import add_gate, authenticate
from socialcredit.api.registry import Registry
from socialcredit.errors import InputError
from socialcredit.gate import DecisionService
from socialcredit.screening.delist_guard import MAX_DELIST_SHARE, MIN_DELIST_GUARDED
from socialcredit.screening.lists import import_list
from socialcredit.store.tables import identifiers, list_entries, screen_entries

GENERATOR = Path(__file__).parent / "fixtures" / "sdn_concatenated" / "generate.py"
#: Made-up individuals added to the fixture's eight entries (ent_num 20000 + i).
EXTRA = 300
#: The fixture's listed passport (PETROV, Ivan Sergeyevich, ent_num 9002).
PASSPORT = "7100000011"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sdn_concatenated_generate", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows() -> list[str]:
    """sdn.csv lines: the fixture's (its malformed line too), then :data:`EXTRA` individuals."""
    gen = _generator()
    e = gen.E
    extra = [(20000 + i, f"MADEUP, Person {i:03d}", "individual", "SDGT", e, e, e, e, e, e, e,
              f"DOB 1970; Passport Q{i:07d} (Nowhere).") for i in range(EXTRA)]
    lines = [gen._csv(row) for row in (*gen.SDN, *extra)]
    lines.insert(3, '9099,"BROKEN ROW","individual","SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ')
    return lines


def _folder(path: Path, sdn: bytes) -> Path:
    """A legacy-CSV folder with ``sdn`` as sdn.csv and the fixture's alt.csv."""
    path.mkdir(parents=True, exist_ok=True)
    gen = _generator()
    gen.write(path)  # sdn.csv, alt.csv, sdn_comments.csv as the fixture has them
    (path / "sdn.csv").write_bytes(sdn)
    return path


def _full() -> bytes:
    return ("\r\n".join(_rows()) + "\r\n").encode()


def _decide(registry: Registry, document: str) -> str:
    gate = authenticate(registry.store, add_gate(registry.store, registry.policy,
                                                 name=f"air{dt.datetime.now().timestamp()}",
                                                 services=["air"]))
    registry.gate_index.refresh()
    return DecisionService(registry.gate_index, today=TODAY).decide(
        service="air", document=document, gate=gate).decision


def _active(registry: Registry) -> tuple[int, int]:
    with registry.store.read() as conn:
        return tuple(int(conn.execute(select(func.count()).where(
            t.c.list == "ofac_sdn", t.c.status == "active")).scalar_one())
            for t in (screen_entries, list_entries))  # type: ignore[return-value]


@pytest.fixture
def imported(registry: Registry, tmp_path: Path) -> Registry:
    result = import_list(registry.store, registry.policy, "ofac-sdn",
                         _folder(tmp_path / "full", _full()), as_of=TODAY)
    assert result.listed == 8 + EXTRA and result.delisted == 0
    assert _decide(registry, PASSPORT) == "deny"
    return registry


@pytest.mark.parametrize("cut", ["in a quoted field", "after a comma"])
def test_a_file_cut_inside_a_record_is_refused_whole(imported: Registry, tmp_path: Path,
                                                     cut: str) -> None:
    full = _full()
    marker = b'"MADEUP, Person 100"' if cut == "after a comma" else b"MADEUP, Person 100"
    end = full.index(marker) + (len(marker) + 1 if cut == "after a comma" else 8)
    folder = _folder(tmp_path / "cut", full[:end])
    before = _active(imported)
    with pytest.raises(InputError) as e:
        import_list(imported.store, imported.policy, "ofac-sdn", folder, as_of=TODAY)
    lines = full[:end].count(b"\n") + 1
    assert e.value.details["file"].endswith("sdn.csv") and e.value.details["line"] == lines
    assert "ends inside a record" in e.value.message and e.value.details["reason"]
    assert _active(imported) == before
    assert _decide(imported, PASSPORT) == "deny"


def test_a_file_cut_at_a_line_end_trips_the_delisting_guard(imported: Registry,
                                                             tmp_path: Path) -> None:
    kept = b"".join(ln for ln in _full().splitlines(keepends=True)[:50])
    folder = _folder(tmp_path / "cut", kept)
    with pytest.raises(InputError) as e:
        import_list(imported.store, imported.policy, "ofac-sdn", folder, as_of=TODAY)
    d = e.value.details
    assert (d["live"], d["delisted"]) == (8 + EXTRA, 8 + EXTRA - 49)
    assert "--allow-delist" in e.value.message and f"{d['delisted']:,}" in e.value.message
    assert _active(imported) == (8 + EXTRA, 5 + EXTRA)
    assert _decide(imported, PASSPORT) == "deny"


def test_a_few_delistings_pass_and_the_flag_allows_many(imported: Registry,
                                                        tmp_path: Path) -> None:
    lines = _rows()
    few = int(MAX_DELIST_SHARE * (8 + EXTRA))  # at the limit: routine
    assert few > MIN_DELIST_GUARDED
    kept = [ln for ln in lines if not any(f"Person {i:03d}" in ln for i in range(few))]
    later = TODAY + dt.timedelta(days=1)
    result = import_list(imported.store, imported.policy, "ofac-sdn",
                         _folder(tmp_path / "few", ("\r\n".join(kept) + "\r\n").encode()),
                         as_of=later)
    assert result.delisted == few and result.gate is not None
    assert result.gate["delisted"] == few
    assert _decide(imported, "Q0000000") == "allow" and _decide(imported, PASSPORT) == "deny"
    # delisting all the made-up persons, deliberately: refused, then accepted with the flag
    folder = _folder(tmp_path / "many", ("\r\n".join(lines[:9]) + "\r\n").encode())
    with pytest.raises(InputError):
        import_list(imported.store, imported.policy, "ofac-sdn", folder, as_of=later)
    done = import_list(imported.store, imported.policy, "ofac-sdn", folder, as_of=later,
                       allow_delist=True)
    assert done.delisted == EXTRA - few and _active(imported) == (8, 5)
    assert _decide(imported, PASSPORT) == "deny"


def test_cli_refuses_with_exit_2_and_the_flag_passes(tmp_path: Path) -> None:
    env = dict(os.environ, SOCIALCREDIT_DATABASE_URL=f"sqlite:///{tmp_path}/cli.db",
               COLUMNS="200")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "socialcredit", *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=300)

    assert run("init").returncode == 0
    folder = _folder(tmp_path / "sdn", _full())
    first = run("lists", "import", "ofac-sdn", str(folder))
    assert first.returncode == 0, first.stderr
    assert "1 organisation, 1 vessel, 1 aircraft;" in first.stdout, first.stdout
    (folder / "sdn.csv").write_bytes(_full()[:_full().index(b"Person 010")])
    cut = run("lists", "import", "ofac-sdn", str(folder))
    assert cut.returncode == 2 and "ends inside a record" in cut.stderr, cut.stderr
    assert "sdn.csv:" in cut.stderr and "Traceback" not in cut.stderr
    (folder / "sdn.csv").write_bytes(("\r\n".join(_rows()[:9]) + "\r\n").encode())
    many = run("lists", "import", "ofac-sdn", str(folder))
    assert many.returncode == 2 and f"would delist {EXTRA:,} of" in many.stderr, many.stderr
    assert "--allow-delist" in many.stderr
    done = run("lists", "import", "ofac-sdn", str(folder), "--allow-delist")
    assert done.returncode == 0 and f"{EXTRA:,} delisted" in done.stdout, done.stderr
    nothing = run("screen", "--birth-date", "1970")
    assert nothing.returncode == 2 and "nothing to screen" in nothing.stderr, nothing.stderr


def test_the_real_list_cut_short_is_refused(registry: Registry, shared_data: Path,
                                            tmp_path: Path) -> None:
    """Issue #14 as reported: ``head -c 300000 sdn.csv`` beside the real alt.csv and
    sdn_comments.csv, then a 50-row sdn.csv (cut at a line end): both refused, nothing
    delisted, and a listed passport still denies."""
    src = shared_data / "ofac-sdn"
    folder = tmp_path / "sdn"
    folder.mkdir()
    for name in ("sdn.csv", "alt.csv", "sdn_comments.csv"):
        (folder / name).write_bytes((src / name).read_bytes())
    result = import_list(registry.store, registry.policy, "ofac-sdn", folder, as_of=TODAY)
    assert result.delisted == 0
    assert not any("unknown ent_num" in p["reason"] for p in result.skipped)
    listed = _active(registry)
    with registry.store.read() as conn:
        passport = conn.execute(select(identifiers.c.value).where(
            identifiers.c.kind == "passport").limit(1)).scalar_one()
    assert _decide(registry, passport) == "deny"
    full = (src / "sdn.csv").read_bytes()
    for cut, why in ((full[:300_000], "ends inside a record"),
                     (b"".join(full.splitlines(keepends=True)[:50]), "would delist")):
        (folder / "sdn.csv").write_bytes(cut)
        with pytest.raises(InputError) as e:
            import_list(registry.store, registry.policy, "ofac-sdn", folder, as_of=TODAY)
        assert why in e.value.message or "cut short" in e.value.message, e.value.message
        assert _active(registry) == listed
    assert _decide(registry, passport) == "deny"


def test_a_un_file_cut_short_is_refused_with_its_line(registry: Registry,
                                                      tmp_path: Path) -> None:
    whole = ("<CONSOLIDATED_LIST>\n<INDIVIDUALS>\n<INDIVIDUAL>\n<DATAID>1</DATAID>\n"
             "<FIRST_NAME>OMAR</FIRST_NAME>\n</INDIVIDUAL>\n</INDIVIDUALS>\n"
             "</CONSOLIDATED_LIST>\n")
    path = tmp_path / "consolidated.xml"
    path.write_text(whole[:whole.index("</INDIVIDUAL>")], encoding="utf-8")
    with pytest.raises(InputError) as e:
        import_list(registry.store, registry.policy, "un", path, as_of=TODAY)
    assert e.value.details["file"] == str(path) and e.value.details["line"] == 6
    assert "cut short" in e.value.message


def test_the_docs_state_the_guard_s_share() -> None:
    root = Path(__file__).resolve().parents[1]
    share = f"more than {MAX_DELIST_SHARE:.0%}"
    for doc in ("README.md", "docs/cli.md"):
        assert share in (root / doc).read_text(encoding="utf-8"), doc
