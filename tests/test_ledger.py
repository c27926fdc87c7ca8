"""The ledger: gap-free, hash-chained; `audit verify` names the first broken event."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from socialcredit.errors import LedgerBroken
from socialcredit.registry import Registry
from socialcredit.store.ledger import GENESIS_HASH, event_hash
from socialcredit.store.tables import events


def _fill(reg: Registry, n: int = 5) -> None:
    for i in range(n):
        with reg.store.batch() as b:
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
