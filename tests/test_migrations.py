"""The Alembic migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select, update

from socialcredit.errors import LedgerBroken
from socialcredit.store.db import make_engine, migrate
from socialcredit.store.ledger import GENESIS_HASH, event_hash, verify
from socialcredit.store.tables import events, ledger_head, metadata


def test_migrations_match_the_declared_tables(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == [], "write a migration for: " + repr(diff)[:2000]


def _old_hash(prev: str, seq: int, at: str, type_: str, subject_id: int | None,
              policy_version: str | None, payload: str) -> str:
    """The 0001/0002 event hash: the payload itself, not its digest."""
    return hashlib.sha256("|".join((prev, str(seq), at, type_,
                                    "" if subject_id is None else str(subject_id),
                                    policy_version or "", payload))
                          .encode("utf-8")).hexdigest()


#: What the 0002 chain holds, one row per event: subject (none, person 0, a person) and
#: policy version (none, a real ``sha256:`` one) as the live code writes them, and payloads
#: whose only difference is a Chinese character.
OLD_EVENTS = [
    (None, None, '{"n":1}'),
    (0, "sha256:" + "3f" * 32, '{"n":2,"name":"张伟"}'),
    (7, "sha256:" + "3f" * 32, '{"n":3,"name":"张卫"}'),
]


def _registry_at_0002(url: str, *, break_at: int | None = None) -> Any:
    from alembic import command

    from socialcredit.store.db import _alembic_config

    engine = make_engine(url)
    cfg = _alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        prev = "0" * 64
        for seq, (subject, version, payload) in enumerate(OLD_EVENTS, start=1):
            at = f"2026-01-0{seq}T00:00:00.000000+00:00"
            digest = _old_hash(prev, seq, at, "test.event", subject, version, payload)
            if seq == break_at:
                payload = '{"n":99}'
            conn.execute(insert(events).values(seq=seq, at=at, type="test.event",
                                               subject_id=subject, policy_version=version,
                                               payload=payload, prev_hash=prev, hash=digest))
            prev = digest
        conn.execute(update(ledger_head).values(seq=3, hash=prev))
    return engine


def test_0003_rehashes_a_verified_chain_and_refuses_a_broken_one(db_url: str) -> None:
    """0003's whole formula, its payload digest included, gives the live hash: the chain it
    re-hashed verifies, hash by hash, for subject 0 and Chinese payloads alike."""
    engine = _registry_at_0002(db_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            result = verify(conn)
        assert result.ok and result.events == 3  # the live formula agrees with 0003's
        with engine.connect() as conn:
            rows = conn.execute(select(events).order_by(events.c.seq)).all()
    finally:
        engine.dispose()
    prev = GENESIS_HASH
    for r, (subject, version, payload) in zip(rows, OLD_EVENTS, strict=True):
        assert (r.subject_id, r.policy_version, r.payload) == (subject, version, payload)
        assert r.prev_hash == prev, r.seq
        prev = event_hash(prev, r.seq, r.at, r.type, subject, version, payload)
        assert r.hash == prev, r.seq


def test_0003_refuses_a_broken_chain(tmp_path: Path) -> None:
    engine = _registry_at_0002(f"sqlite:///{tmp_path / 'broken.db'}", break_at=2)
    try:
        with pytest.raises(LedgerBroken, match="ledger broken at event 2"):
            migrate(engine)
    finally:
        engine.dispose()
