"""A gate follows the registry's signed tree heads as ``audit monitor`` does (issue #15): each
newer head must carry the registry's signature and extend the one the gate followed (a
consistency proof from the stored tree); a forged head, or a ledger rewritten and signed again,
is refused with both heads as evidence, and the gate keeps answering from what it holds until
a ``ledger.restored`` event explains the change — on a real SQLite file and PostgreSQL."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, update

from conftest import furnish
from socialcredit.api.registry import Registry
from socialcredit.gate.index import GateIndex
from socialcredit.gate.offline import public_key_path
from socialcredit.store.monitor import LedgerForked
from socialcredit.store.tables import events, tree_heads, tree_nodes
from socialcredit.store.tree_head import sign_latest
from test_transparency import _finding, _key, reg  # noqa: F401 (a fixture)


def _size(index: GateIndex) -> int | None:
    return None if index.heads.head is None else int(index.heads.head["tree_size"])


def test_a_gate_follows_consistent_heads_and_refuses_a_forged_one(
        reg: Registry, tmp_path: Path) -> None:  # noqa: F811
    first = sign_latest(reg.store, _key(reg))
    assert first is not None
    index = reg.gate_index
    assert _size(index) == first["tree_size"]
    furnish(reg, tmp_path, "court-bj", "court", [_finding("c2", "(2026)京01执2号")])
    second = sign_latest(reg.store, _key(reg))
    assert second is not None and second["tree_size"] > first["tree_size"]
    index.refresh()
    assert _size(index) == second["tree_size"]
    furnish(reg, tmp_path, "court-bj", "court", [_finding("c3", "(2026)京01执3号")])
    third = sign_latest(reg.store, _key(reg))
    assert third is not None
    forged = base64.b64encode(b"\0" * 64).decode("ascii")
    with reg.store.engine.begin() as conn:  # someone with database access signs a head
        conn.execute(update(tree_heads).where(tree_heads.c.tree_size == third["tree_size"])
                     .values(signature=forged))
    seq = index.last_seq
    with pytest.raises(LedgerForked, match="signature does not verify") as e:
        index.refresh()
    assert e.value.details["older"]["tree_size"] == second["tree_size"]
    assert index.last_seq == seq and _size(index) == second["tree_size"]  # not followed
    with reg.store.engine.begin() as conn:
        conn.execute(update(tree_heads).where(tree_heads.c.tree_size == third["tree_size"])
                     .values(signature=third["signature"]))
    index.refresh()
    assert _size(index) == third["tree_size"] and index.last_seq > seq


def test_a_gate_refuses_a_rewritten_ledger_signed_again_until_a_restore_event(
        reg: Registry, tmp_path: Path) -> None:  # noqa: F811
    first = sign_latest(reg.store, _key(reg))
    assert first is not None
    index = reg.gate_index
    # event 1 rewritten, the tree and heads rebuilt and signed again: the newest event, the
    # one the gate checks by hash, is untouched
    with reg.store.engine.begin() as conn:
        conn.execute(update(events).where(events.c.seq == 1).values(hash="ab" * 32))
        conn.execute(delete(tree_nodes))
        conn.execute(delete(tree_heads))
    furnish(reg, tmp_path, "court-bj", "court", [_finding("c2", "(2026)京01执2号")])
    forked = sign_latest(reg.store, _key(reg))
    assert forked is not None
    with pytest.raises(LedgerForked, match="refuses the registry's newest tree head") as e:
        index.refresh()
    evidence: dict[str, Any] = e.value.details
    assert evidence["older"]["root_hash"] == first["root_hash"]
    assert evidence["newer"]["root_hash"] == forked["root_hash"]
    assert _size(index) == first["tree_size"]
    with reg.store.batch() as b:  # what `socialcredit restore` appends to a restored ledger
        b.emit("ledger.restored", {"backup_created_at": "2026-06-01T00:00:00+00:00",
                                   "ledger_seq": b.seq, "head_hash": b.hash})
    restored = sign_latest(reg.store, _key(reg))
    assert restored is not None
    index.refresh()
    assert _size(index) == restored["tree_size"]


def test_a_gate_without_the_registry_key_checks_no_head(reg: Registry) -> None:  # noqa: F811
    sign_latest(reg.store, _key(reg))
    public_key_path(reg.settings.keys_dir).unlink()
    index = GateIndex(reg.store, reg.policy, head_key=public_key_path(reg.settings.keys_dir))
    index.build()
    assert index.heads.head is None
    index.refresh()
    assert index.heads.head is None
