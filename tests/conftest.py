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
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from stdnum.iso7064 import mod_11_2

from socialcredit.api.registry import Registry
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


def furnish(reg: Registry, tmp_path: Path, name: str, kind: str, rows: list[dict[str, Any]],
            as_of: dt.date = TODAY) -> None:
    """Ingest ``rows`` from furnisher ``name`` (registered as ``kind`` on first use) through a
    CSV file in ``tmp_path``, as a furnisher would; every row must be accepted."""
    from socialcredit.api.keys import add_furnisher, furnisher_id
    from socialcredit.errors import NotFound
    from socialcredit.ingest.pipeline import ingest_file

    try:
        fid = furnisher_id(reg.store, name)
    except NotFound:
        add_furnisher(reg.store, name=name, kind=kind)
        fid = furnisher_id(reg.store, name)
    path = write_csv(tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}.csv", rows)
    result = ingest_file(reg.store, reg.policy, furnisher_id=fid, path=path, as_of=as_of)
    assert result.rejected == 0, result.problems


def subject_of(reg: Registry, national_id: str) -> int:
    """The subject id holding ``national_id``."""
    from sqlalchemy import select

    from socialcredit.store.tables import subjects

    with reg.store.read() as conn:
        return int(conn.execute(select(subjects.c.id).where(
            subjects.c.national_id == national_id)).scalar_one())


def decide_on(reg: Registry, national_id: str, day: dt.date, service: str = "air") -> str:
    """The gate's decision (``allow`` / ``deny`` / ``review``) for ``service`` on ``day``,
    after the gate index caught up with the ledger."""
    from socialcredit.gate import DecisionService

    reg.gate_index.refresh()
    return DecisionService(reg.gate_index, today=day).decide(
        service=service, national_id=national_id).decision


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


#: Debian's chromium, driven by Playwright (no `playwright install`).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless chromium; skips without it unless SOCIALCREDIT_REQUIRE_BROWSER is set (CI)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("SOCIALCREDIT_REQUIRE_BROWSER"):
            pytest.fail("chromium is required (SOCIALCREDIT_REQUIRE_BROWSER) but not installed")
        pytest.skip("browser tests need Debian's chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data folder {SHARED_DATA} is absent (present in CI)")
    return SHARED_DATA.resolve()


def trust_channel(reg: Registry, national_id: str, phone: str) -> None:
    """Make ``phone`` the trusted channel of the subject with ``national_id`` as an operator
    does after an identity check (``socialcredit contact set``). One furnisher's phone gives a
    person no channel (issue #20: no trust on first use), so a fixture that signs in someone
    registered by one furnisher says where their codes go."""
    from sqlalchemy import select

    from socialcredit.disclosure.contact import operator_set_channel
    from socialcredit.store.tables import subjects

    with reg.store.read() as conn:
        sid = conn.execute(select(subjects.c.id).where(
            subjects.c.national_id == national_id)).scalar_one()
    operator_set_channel(reg.store, reg.policy, subject_id=int(sid), phone=phone,
                         operator="fixture", evidence="ID card seen at the counter")


def subject_session(reg: Registry, national_id: str, phone: str) -> Any:
    """Sign a subject in as a person would: ask for a code, read it from the file adapter's
    outbox (``settings.notices_dir``), exchange it. Returns the Session (token, csrf)."""
    import datetime as dt

    from socialcredit.disclosure.delivery import FileAdapter, deliver_notices
    from socialcredit.disclosure.signin import request_code, verify_code

    now = dt.datetime.now(dt.UTC)
    assert request_code(reg.store, reg.policy, national_id=national_id, phone=phone,
                        now=now) is not None, "no subject holds this ID and phone"
    adapter = FileAdapter(reg.settings.notices_dir)
    deliver_notices(reg.store, adapter, now=now)
    return verify_code(reg.store, reg.policy, national_id=national_id, phone=phone,
                       code=last_code(reg.settings.notices_dir), now=now)


_CODES_SEEN: set[tuple[str, int]] = set()


def last_code(notices_dir: Path, *, timeout_s: float = 10.0) -> str:
    """The one-time code of the newest sign-in notice in ``notices_dir/outbox.jsonl`` that
    this function has not returned before, waiting for it (the server serves codes from a
    background thread)."""
    import time

    path = Path(notices_dir) / "outbox.jsonl"
    deadline = time.monotonic() + timeout_s
    while True:
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        for line in reversed(lines):
            notice = json.loads(line)
            if notice["kind"] != "sign_in_code":
                continue
            if (str(path), notice["notice_id"]) in _CODES_SEEN:
                break
            _CODES_SEEN.add((str(path), notice["notice_id"]))
            return next(w.rstrip(".") for w in notice["text"].split()
                        if w.rstrip(".").isdigit() and len(w.rstrip(".")) == 6)
        if time.monotonic() > deadline:
            raise AssertionError("no new sign-in code in the outbox")
        time.sleep(0.02)


@pytest.fixture(autouse=True)
def _fresh_unknown_key_budget() -> None:
    """Each test starts with a full budget of dummy checks for unknown API key ids
    (``access.UNKNOWN_KEY_CHECKS_PER_S``), whatever the tests before it spent."""
    import socialcredit.api.keys as access

    access._UNKNOWN_CHECKS = access._unknown_key_budget()
