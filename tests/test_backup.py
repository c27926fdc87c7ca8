"""``socialcredit backup`` / ``restore``: a restored registry verifies and decides as the
original did, a backup taken while the ledger grows is consistent with its manifest, and a
missing, altered or foreign backup or a non-empty target is refused with a clear message.

The round trip runs the console script in subprocesses, on a SQLite file and on PostgreSQL (a
fresh schema, restored into a fresh database under the same schema name, as one restores onto
a new server); the refusals call :mod:`socialcredit.store.backup` directly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from conftest import PG_ENV, TODAY, _pg_schema_url, make_id, write_csv
from socialcredit.api.keys import add_furnisher, add_gate, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.errors import ConfigError, Conflict, InputError
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.settings import Settings
from socialcredit.store import Store
from socialcredit.store.backup import backup, restore, schema_of

PEOPLE = [make_id(birth=f"19{60 + i}0101", seq=100 + i) for i in range(24)]
SERVICES = ("air", "rail_hsr", "hotel_star", "credit")


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOCIALCREDIT_DATABASE_URL": db_url, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "socialcredit", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def _build(reg: Registry, folder: Path) -> None:
    """Two furnishers and a gate; every other person has a dishonesty finding (listed)."""
    add_furnisher(reg.store, name="court", kind="court")
    add_gate(reg.store, reg.policy, name="airline", services=["air"])
    rows: list[dict[str, Any]] = [
        {"furnisher_record_id": f"f{i}", "kind": "dishonesty_finding",
         "occurred_at": "2026-02-01", "national_id": nid, "name": "王芳",
         "case_number": f"(2026)K{i}", "ground": 1 + i % 6, "amount_minor": 10_000 * (i + 1),
         "currency": "CNY"}
        for i, nid in enumerate(PEOPLE) if i % 2 == 0]
    result = ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, "court"),
                         path=write_csv(folder / "court.csv", rows), as_of=TODAY)
    assert result.accepted == len(rows)


def _decisions(url: str) -> list[tuple[str, list[dict[str, Any]]]]:
    reg = Registry(Settings(database_url=url), today=TODAY)
    try:
        return [(d.decision, d.reasons) for d in (
            reg.decisions.decide(service=svc, national_id=nid)
            for nid in PEOPLE for svc in SERVICES)]
    finally:
        reg.close()


@contextmanager
def _ticking(store: Store) -> Iterator[None]:
    """Keep appending ledger events (a registry in use) until the block ends."""
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.005):
            with store.batch() as b:
                b.emit("test.tick", {})

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


@contextmanager
def _fresh_target(db_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database to restore into: a new SQLite file, or a new PostgreSQL database
    whose search_path is the source's schema."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'registry.db'}"
        return
    name = "restore_" + uuid.uuid4().hex[:10]
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(db_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def test_a_restored_registry_verifies_and_decides_the_same(
        registry: Registry, db_url: str, tmp_path: Path) -> None:
    _build(registry, tmp_path)
    before = _decisions(db_url)
    assert {d for d, _ in before} == {"allow", "deny"}
    folder = tmp_path / "backup"
    with _ticking(registry.store):  # backed up while the ledger keeps growing
        r = _cli(db_url, "backup", str(folder), "--json")
    assert r.returncode == 0, r.stderr
    manifest = json.loads(r.stdout)
    with registry.store.read() as conn:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert (manifest["dialect"], manifest["schema_revision"]) == (
        registry.store.dialect, revision)
    assert manifest["policy_version"] == registry.policy.version_hash
    assert manifest["schema"] == (None if db_url.startswith("sqlite") else schema_of(db_url))
    assert 0 < manifest["ledger_seq"] < registry.store.head()[0]  # ticks came after it
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f["name"] for f in manifest["files"]] + ["manifest.json"])
    with _fresh_target(db_url, tmp_path) as target:
        r = _cli(target, "restore", str(folder), "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["events_verified"] == manifest["ledger_seq"]
        r = _cli(target, "audit", "verify", "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["ok"], r.stderr
        store = Store(target)
        # the backup's ledger, then the event that says it was restored
        seq, _ = store.head()
        assert seq == manifest["ledger_seq"] + 1
        with store.read() as conn:
            at = dict(conn.execute(text("SELECT seq, hash FROM events WHERE seq >= :s"),
                                   {"s": manifest["ledger_seq"]}).all())
            kind = conn.execute(text("SELECT type FROM events WHERE seq = :s"),
                                {"s": seq}).scalar()
        assert at[manifest["ledger_seq"]] == manifest["head_hash"]
        assert kind == "ledger.restored"
        store.dispose()
        assert _decisions(target) == before


def _small_backup(tmp_path: Path) -> tuple[str, Path]:
    url = f"sqlite:///{tmp_path / 'source.db'}"
    store = Store(url)
    store.ensure_schema()
    add_furnisher(store, name="court", kind="court")
    folder = tmp_path / "backup"
    backup(store, folder)
    store.dispose()
    return url, folder


def test_restore_refuses_what_it_cannot_trust(tmp_path: Path) -> None:
    source, folder = _small_backup(tmp_path)
    with pytest.raises(InputError, match="not an empty folder"):
        backup(Store(source), folder)
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    with pytest.raises(InputError, match="no such backup folder"):
        restore(target, tmp_path / "nowhere")
    with pytest.raises(InputError, match="has no manifest.json"):
        restore(target, tmp_path)
    with pytest.raises(Conflict, match="not empty.*--force"):
        restore(Store(source), folder)
    assert restore(Store(source), folder, force=True).events == 1
    manifest = (folder / "manifest.json").read_text()
    (folder / "manifest.json").write_text(manifest[:-20])
    with pytest.raises(InputError, match="not a valid backup manifest"):
        restore(target, folder)
    (folder / "manifest.json").write_text(manifest)
    dump = folder / "registry.db"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    with pytest.raises(InputError, match="does not match its checksum"):
        restore(target, folder)
    assert not target.initialised()  # nothing was written to the target
    r = _cli(target.url, "restore", str(folder))
    assert r.returncode == 2 and "the backup is corrupt" in r.stderr
    assert "Traceback" not in r.stderr
    target.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema (skipped without the test server)."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (CI sets it)")
    yield from _pg_schema_url(base)


@pytest.mark.postgres
def test_postgresql_needs_pg_dump_and_a_backup_of_its_dialect(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, folder = _small_backup(tmp_path)
    store = Store(pg_url)
    with pytest.raises(InputError, match="is a sqlite backup.*is postgresql"):
        restore(store, folder)
    store.ensure_schema()
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump here
    with pytest.raises(ConfigError, match="pg_dump is not on PATH"):
        backup(store, tmp_path / "pg-backup")
    store.dispose()


def test_a_gate_follows_a_restore_under_it_and_never_allows_what_the_database_denies(
        sqlite_url: str, tmp_path: Path) -> None:
    """Found by a newcomer's pass: ``restore --force`` under a running server left the gate
    index ahead of the restored ledger, so it ignored new listings (a silent allow). The index
    notices that the ledger went back and rebuilds from it."""
    from conftest import TODAY, make_id, write_csv
    from socialcredit.api.keys import add_furnisher, furnisher_id
    from socialcredit.ingest.pipeline import ingest_file
    from socialcredit.store.backup import backup, restore

    reg = Registry(Settings(database_url=sqlite_url), today=TODAY)
    reg.ensure_schema()
    add_furnisher(reg.store, name="court", kind="court")
    court = furnisher_id(reg.store, "court")

    def listing(n: int) -> str:
        nid = make_id(region="110101", birth="19700101", seq=n)
        row = {"furnisher_record_id": f"R-{n}", "kind": "dishonesty_finding",
               "occurred_at": "2026-03-01", "national_id": nid, "case_number": f"C-{n}",
               "ground": 1, "amount_minor": 100, "currency": "CNY"}
        ingest_file(reg.store, reg.policy, furnisher_id=court, as_of=TODAY,
                    path=write_csv(tmp_path / f"r{n}.csv", [row]))
        return nid

    def decide(nid: str) -> str:
        reg.gate_index.refresh()
        return reg.decisions.decide(service="air", national_id=nid).decision

    try:
        first = listing(11)
        backup(reg.store, tmp_path / "bk")
        for n in range(13, 40, 2):  # the live registry moves on, well past the backup
            listing(n)
        assert decide(first) == "deny"
        restore(reg.store, tmp_path / "bk", force=True)
        newcomer = listing(41)  # listed after the restore, at a seq the index has seen
        assert decide(newcomer) == "deny"
        assert decide(make_id(region="110101", birth="19700101", seq=13)) == "allow"
    finally:
        reg.close()


@pytest.mark.parametrize("how", ["cut", "rewritten", "cut-to-an-older-restore"])
def test_a_gate_refuses_a_ledger_that_went_back_without_a_restore_event(
        db_url: str, tmp_path: Path, how: str) -> None:
    """Someone with database access cuts the ledger's tail (unlisting a person with it) or
    rewrites the event the gate last applied: no ``ledger.restored`` event written since says
    why (one from an earlier restore, left in the cut ledger, does not), so the gate refuses
    to follow, names the event it had followed, and keeps denying."""
    from sqlalchemy import delete, select, update

    from socialcredit.store.monitor import LedgerForked
    from socialcredit.store.tables import events, ledger_head

    reg = Registry(Settings(database_url=db_url), today=TODAY)
    reg.ensure_schema()
    try:
        add_furnisher(reg.store, name="court", kind="court")
        court = furnisher_id(reg.store, "court")
        older = how == "cut-to-an-older-restore"
        if older:  # an earlier restore of this registry
            with reg.store.batch() as b:
                b.emit("ledger.restored", {"ledger_seq": 1})
        nid = make_id(region="110101", birth="19700101", seq=21)
        ingest_file(reg.store, reg.policy, furnisher_id=court, as_of=TODAY,
                    path=write_csv(tmp_path / "r.csv", [{
                        "furnisher_record_id": "R-21", "kind": "dishonesty_finding",
                        "occurred_at": "2026-03-01", "national_id": nid, "case_number": "C-21",
                        "ground": 1, "amount_minor": 100, "currency": "CNY"}]))
        if older:  # and a later one
            with reg.store.batch() as b:
                b.emit("ledger.restored", {"ledger_seq": 5})
        reg.gate_index.build()
        assert reg.decisions.decide(service="air", national_id=nid).decision == "deny"
        seq, _ = reg.store.head()
        with reg.store.engine.begin() as conn:
            if how != "rewritten":
                listed = conn.execute(select(events.c.seq).where(
                    events.c.type == "entry.listed")).scalar_one()
                conn.execute(delete(events).where(events.c.seq >= listed))
                prev = conn.execute(select(events.c.hash).where(
                    events.c.seq == listed - 1)).scalar_one()
                conn.execute(update(ledger_head).values(seq=listed - 1, hash=prev))
            else:
                conn.execute(update(events).where(events.c.seq == seq).values(hash="ab" * 32))
        with pytest.raises(LedgerForked, match="went back without a restore event") as e:
            reg.gate_index.refresh()
        assert e.value.details["followed_seq"] == seq
        assert reg.decisions.decide(service="air", national_id=nid).decision == "deny"
    finally:
        reg.close()
