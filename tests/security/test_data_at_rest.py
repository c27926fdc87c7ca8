"""Data at rest (issue #20, finding 3): the SQLite database, its WAL and its backups are
owner-only (0600) from creation; one-time codes and CSRF tokens are kept only as HMACs under a
key in a 0600 file outside the database, so a copy of the database alone recovers neither."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from conftest import TODAY, furnish, last_code, make_id, trust_channel
from servers import running
from socialcredit.api.registry import Registry
from socialcredit.cli import app as cli
from socialcredit.settings import Settings
from socialcredit.store.private import keyed_digest, load_or_create_key
from socialcredit.store.tables import sessions, sign_in_codes

PERSON = make_id(region="420102", birth="19750808", seq=31)
PHONE = "+8613633334444"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Registry]]:
    reg = Registry(Settings(database_url=db_url, notices_dir=tmp_path / "notices",
                            keys_dir=tmp_path / "keys"), today=TODAY)
    reg.ensure_schema()
    furnish(reg, tmp_path, "court-wh", "court", [
        {"furnisher_record_id": "J-1", "kind": "court_judgment", "occurred_at": "2026-03-01",
         "national_id": PERSON, "phone": PHONE, "name": "吴刚", "case_number": "(2026)鄂01执1号",
         "amount_minor": 10_000, "currency": "CNY"}])
    trust_channel(reg, PERSON, PHONE)  # one furnisher's phone gives no channel (#20)
    with running(reg) as base:
        yield base, reg
    reg.close()


def test_codes_and_csrf_tokens_are_sealed_under_a_key_outside_the_database(
        served: tuple[str, Registry]) -> None:
    base, reg = served
    with httpx.Client(base_url=base, timeout=20) as c:
        assert c.post("/v1/me/sign-in", json={"national_id": PERSON, "phone": PHONE}
                      ).status_code == 202
        code = last_code(reg.settings.notices_dir)
        with reg.store.read() as conn:
            row = conn.execute(select(sign_in_codes.c.id, sign_in_codes.c.code_hash)).one()
        # a plain SHA-256 of the six digits would fall to 10^6 guesses: it is not that
        assert row.code_hash != hashlib.sha256(f"{row.id}:{code}".encode()).hexdigest()
        key_file = reg.settings.keys_dir / "codes.key"
        assert _mode(key_file) == 0o600
        assert row.code_hash == keyed_digest(load_or_create_key(key_file), f"{row.id}:{code}")
        r = c.post("/v1/me/session", json={"national_id": PERSON, "phone": PHONE,
                                           "code": code})
        assert r.status_code == 200, r.text
        csrf = r.json()["csrf"]
        with reg.store.read() as conn:
            kept = conn.execute(select(sessions.c.csrf)).scalar_one()
        assert csrf not in kept and kept != hashlib.sha256(csrf.encode()).hexdigest()
        # and the token still works for a form
        r = c.post("/v1/me/reviews", json={"decision_id": "D-none", "reason": "x"},
                   headers={"X-CSRF-Token": csrf})
        assert r.status_code != 403, r.text


def test_the_database_and_its_backups_are_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "fresh" / "registry.db"
    url = f"sqlite:///{db}"
    runner = CliRunner()
    assert runner.invoke(cli, ["--database-url", url, "init"]).exit_code == 0
    assert _mode(db) == 0o600
    assert _mode(db.parent) == 0o700  # the folder it made (a newcomer found var/demo 0755)
    wal = db.with_name(db.name + "-wal")
    if wal.exists():
        assert _mode(wal) == 0o600
    result = runner.invoke(cli, ["--database-url", url, "backup", str(tmp_path / "bk")])
    assert result.exit_code == 0, result.output
    assert _mode(tmp_path / "bk") == 0o700
    files = list((tmp_path / "bk").iterdir())
    assert files and {_mode(f) for f in files} == {0o600}
