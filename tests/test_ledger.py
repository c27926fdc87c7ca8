"""The ledger: gap-free, hash-chained; `audit verify` names the first broken event."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from socialcredit.api.registry import Registry
from socialcredit.errors import LedgerBroken
from socialcredit.store.ledger import GENESIS_HASH, event_hash
from socialcredit.store.tables import events

#: A policy version as the registry writes them (``Policy.version_hash``): far longer than
#: 8 characters, so a hash that kept only its start would miss a change further on.
POLICY_VERSION = "sha256:" + hashlib.sha256(b"policies/default.yaml").hexdigest()
OTHER_VERSION = POLICY_VERSION[:-1] + ("0" if POLICY_VERSION[-1] != "0" else "1")


def _fill(reg: Registry, n: int = 5) -> None:
    """Events 1..n; the first has no subject, event k > 1 is of subject k - 1."""
    for i in range(n):
        with reg.store.batch(POLICY_VERSION) as b:
            b.emit("test.event", {"i": i, "text": "中文"}, subject_id=i or None)


def test_chain_is_gap_free_and_recomputable(registry: Registry) -> None:
    _fill(registry)
    with registry.store.read() as conn:
        rows = conn.execute(select(events).order_by(events.c.seq)).all()
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    prev = GENESIS_HASH
    for r in rows:
        assert r.prev_hash == prev
        prev = event_hash(prev, r.seq, r.at, r.type, r.subject_id, r.policy_version, r.payload)
        assert r.hash == prev
    result = registry.store.verify()
    assert (result.ok, result.events, result.head_hash) == (True, 5, prev)
    assert registry.store.head() == (5, prev)


def test_a_failed_batch_leaves_no_trace(registry: Registry) -> None:
    _fill(registry, 2)
    with pytest.raises(RuntimeError), registry.store.batch() as b:
        b.emit("test.event", {"i": 99})
        raise RuntimeError("boom")
    _fill(registry, 1)
    assert registry.store.verify().ok and registry.store.head()[0] == 3


@pytest.mark.parametrize(("tamper", "broken", "reason"), [
    ("payload", 3, "hash does not match"),
    ("delete", 3, "sequence gap"),
    ("prev", 4, "prev_hash"),
    ("tail", 5, "head does not match"),
])
def test_verify_names_the_first_broken_event(registry: Registry, tamper: str, broken: int,
                                             reason: str) -> None:
    _fill(registry)
    with registry.store.engine.begin() as conn:
        if tamper == "payload":
            conn.execute(update(events).where(events.c.seq == 3).values(payload='{"i":42}'))
        elif tamper == "delete":
            conn.execute(delete(events).where(events.c.seq == 3))
        elif tamper == "prev":
            conn.execute(update(events).where(events.c.seq == 4).values(prev_hash="0" * 64))
        else:
            conn.execute(delete(events).where(events.c.seq == 5))
    result = registry.store.verify()
    assert not result.ok and result.broken_seq == broken and reason in (result.reason or "")
    with pytest.raises(LedgerBroken) as err:
        result.raise_if_broken()
    assert err.value.details["seq"] == broken


#: Event 3 of :func:`_fill`, changed in one column each: every column of ``events`` is here
#: (a test below pins that), so a field the hash left out would go unseen by ``verify``.
TAMPERS: dict[str, tuple[dict[str, object], str]] = {
    "seq": ({"seq": 30}, "sequence gap"),
    "at": ({"at": "2020-01-01T00:00:00.000000+00:00"}, "hash does not match"),
    "type": ({"type": "test.other"}, "hash does not match"),
    "subject_id": ({"subject_id": 99}, "hash does not match"),  # re-attributed to another person
    "policy_version": ({"policy_version": OTHER_VERSION}, "hash does not match"),  # past [:8]
    "payload": ({"payload": '{"i":2,"text":"中字"}'}, "hash does not match"),  # one 汉字 only
    "prev_hash": ({"prev_hash": "0" * 64}, "prev_hash does not match"),
    "hash": ({"hash": "f" * 64}, "hash does not match"),
}


def test_every_column_of_an_event_has_a_tamper_case() -> None:
    assert set(TAMPERS) == {c.name for c in events.columns}


@pytest.mark.parametrize("column", sorted(TAMPERS))
def test_changing_any_one_column_of_an_event_breaks_the_chain_there(registry: Registry,
                                                                    column: str) -> None:
    _fill(registry)
    values, reason = TAMPERS[column]
    with registry.store.engine.begin() as conn:
        conn.execute(update(events).where(events.c.seq == 3).values(**values))
    result = registry.store.verify()
    assert not result.ok and result.broken_seq == 3, (column, result)
    assert reason in (result.reason or "")


@pytest.mark.parametrize("column", ["at", "type", "policy_version", "payload", "hash"])
def test_a_changed_event_without_subject_is_named_exactly(registry: Registry,
                                                          column: str) -> None:
    """Event 1 of :func:`_fill` has no subject (a system event): a change to it breaks the
    chain at event 1 itself, not later at the next event's link."""
    _fill(registry)
    values, _ = TAMPERS[column]
    if column == "payload":
        values = {"payload": '{"i":0,"text":"中字"}'}
    with registry.store.engine.begin() as conn:
        conn.execute(update(events).where(events.c.seq == 1).values(**values))
    result = registry.store.verify()
    assert (result.ok, result.broken_seq) == (False, 1), (column, result)
    assert "hash does not match" in (result.reason or "")


def test_an_event_without_subject_is_not_one_of_subject_zero(registry: Registry) -> None:
    """Re-attributing a subject-less event (the first of :func:`_fill`) is seen too."""
    _fill(registry)
    with registry.store.engine.begin() as conn:
        conn.execute(update(events).where(events.c.seq == 1).values(subject_id=0))
    assert registry.store.verify().broken_seq == 1


EVENT = {"prev_hash": "ab" * 32, "seq": 7, "at": "2026-01-05T10:00:00.000000+00:00",
         "type_": "record.added", "subject_id": 12, "policy_version": POLICY_VERSION,
         "payload": '{"amount_minor":1,"name":"张伟"}'}


@pytest.mark.parametrize(("field", "other"), [
    ("prev_hash", "cd" * 32), ("seq", 8), ("at", "2026-01-05T10:00:00.000001+00:00"),
    ("type_", "record.removed"), ("subject_id", 13), ("subject_id", None),
    ("policy_version", OTHER_VERSION), ("policy_version", None),
    ("payload", '{"amount_minor":2,"name":"张伟"}'),
    ("payload", '{"amount_minor":1,"name":"张卫"}'),  # one 汉字 only
])
def test_the_hash_covers_every_field(field: str, other: object) -> None:
    """A pure check of the formula: changing any one input changes the hash (the chain checks
    above could also catch some of these through seq gaps or prev_hash links)."""
    assert event_hash(**{**EVENT, field: other}) != event_hash(**EVENT)  # type: ignore[arg-type]


def test_migration_0003_keeps_a_frozen_copy_equal_to_the_live_formula() -> None:
    """0003 re-hashed existing chains with its own copy of the formula (a migration must not
    change when the live code does). The copy must give the live hash; if the live formula is
    changed on purpose, that takes a new migration that re-hashes the chain, not an edit of
    0003."""
    import importlib.util

    from socialcredit.store.ledger import payload_digest

    path = (Path(__file__).resolve().parents[1] / "src/socialcredit/store/migrations/versions"
            / "0003_due_process.py")
    spec = importlib.util.spec_from_file_location("migration_0003", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for change in ({}, {"subject_id": None, "policy_version": None}, {"subject_id": 0},
                   {"seq": 1, "type_": "x"},
                   {"payload": '{"_tombstone":"' + "e" * 64 + '","reason":"r","on":"d"}'}):
        ev = {**EVENT, **change}
        frozen = module._hash(ev["prev_hash"], ev["seq"], ev["at"], ev["type_"],
                              ev["subject_id"], ev["policy_version"],
                              payload_digest(str(ev["payload"])))
        assert frozen == event_hash(**ev), change  # type: ignore[arg-type]
