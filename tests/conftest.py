"""Fixture strategy.

Every store test runs twice: on a real SQLite file in ``tmp_path`` and on the real PostgreSQL
server named by ``SOCIALCREDIT_TEST_DATABASE_URL`` (CI sets it; each test gets its own schema,
dropped afterwards). Without that variable the PostgreSQL half is skipped; with it, an
unreachable server is a failure, not a skip.

Records are written as real furnisher files with :func:`write_csv` / :func:`write_jsonl`; IDs are
made checksum-valid by :func:`make_id` (ISO 7064 MOD 11-2), so no fixture hard-codes a result the
code under test computes. Tests that read ``../shared/data`` skip with a reason where it is
absent.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from stdnum.iso7064 import mod_11_2

from socialcredit.registry import Registry
from socialcredit.settings import Settings
from socialcredit.store.scratch import scratch_database

PG_ENV = "SOCIALCREDIT_TEST_DATABASE_URL"
SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TODAY = dt.date(2026, 6, 30)


def make_id(region: str = "110101", birth: str = "19800101", seq: int = 123) -> str:
    """A checksum-valid 18-character CN resident ID (odd ``seq`` = male)."""
    body = f"{region}{birth}{seq:03d}"
    return body + mod_11_2.calc_check_digit(body)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("true" if v is True else "false" if v is False else v)
                        for k, v in r.items()})
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def _pg_schema_url(base: str) -> Iterator[str]:
    """A fresh schema on the test server (dropped afterwards); unreachable is a failure."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_database(base, Path("."), prefix="t_"))
        except Exception as e:  # an unreachable server must fail, not skip
            pytest.fail(f"{PG_ENV} is set but PostgreSQL is unreachable: {e}")
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: SQLite file, then PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL store tests need {PG_ENV} (CI sets it)")
    yield from _pg_schema_url(base)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.db'}"


@pytest.fixture
def registry(db_url: str) -> Iterator[Registry]:
    reg = Registry(Settings(database_url=db_url), today=TODAY)
    reg.ensure_schema()
    yield reg
    reg.close()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data folder {SHARED_DATA} is absent (present in CI)")
    return SHARED_DATA.resolve()
