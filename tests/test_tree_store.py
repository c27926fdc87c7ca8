"""The stored Merkle tree (issue #15): events folded in uneven steps and across page boundaries
give every node and root that RFC 9162 hashing of the leaves gives, on a real SQLite file and
PostgreSQL; a gap in the ledger is refused by name."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, delete, select, update

from socialcredit.store import Store, tree_store
from socialcredit.store.merkle import inclusion_proof, root_hash, root_of_leaves, verify_inclusion
from socialcredit.store.tables import events, ledger_head, tree_nodes
from socialcredit.store.tree_store import extend_tree, node_source, tree_size

N = 300


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A registry database whose ledger holds ``N`` events with made-up hashes (the tree reads
    only ``seq`` and ``hash``)."""
    s = Store(db_url)
    s.ensure_schema()
    hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(1, N + 1)]
    with s.engine.begin() as conn:
        conn.execute(events.insert(), [
            {"seq": i, "at": "2026-12-07T00:00:00+00:00", "type": "test", "subject_id": None,
             "policy_version": None, "payload": "{}", "prev_hash": "0" * 64, "hash": h}
            for i, h in enumerate(hashes, start=1)])
        conn.execute(update(ledger_head).values(seq=N, hash=hashes[-1]))
    yield s
    s.dispose()


def _leaves(conn: Connection) -> list[bytes]:
    rows = conn.execute(select(events.c.hash).order_by(events.c.seq)).scalars()
    return [hashlib.sha256(b"\x00" + bytes.fromhex(h)).digest() for h in rows]


def test_uneven_steps_and_small_pages_give_the_rfc_9162_tree(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tree_store, "_CHUNK", 7)  # many page boundaries, odd and even
    size = 0
    with store.engine.begin() as conn:
        leaves = _leaves(conn)
        for step in (1, 1, 2, 3, 5, 8, 13, 16, 31, 64, 1, 55, 100):
            size = extend_tree(conn, min(N, size + step))
            assert tree_size(conn) == size
            assert root_hash(size, node_source(conn)) == root_of_leaves(leaves[:size])
        assert size == N
        # every stored node is the hash of its perfect subtree, and nothing else is stored
        stored = conn.execute(select(tree_nodes.c.node, tree_nodes.c.hash)).all()
        for node, h in stored:
            lv, ix = node >> 40, node & ((1 << 40) - 1)
            assert bytes(h) == root_of_leaves(leaves[ix << lv:(ix + 1) << lv])
        assert len(stored) == sum(N >> lv for lv in range(N.bit_length()))
        for m in (0, 150, N - 1):
            path = inclusion_proof(m, N, node_source(conn))
            verify_inclusion(leaves[m], m, N, path, root_of_leaves(leaves))


def test_a_gap_in_the_ledger_is_refused(store: Store) -> None:
    with store.engine.begin() as conn:
        extend_tree(conn, 10)
        conn.execute(delete(events).where(events.c.seq == 12))
        with pytest.raises(LookupError, match="ledger gap after event 10"):
            extend_tree(conn, 20)


def test_nodes_hashed_ahead_are_written_only_where_they_still_fit(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """``prepare_nodes`` (read, outside the ledger lock) then ``extend_tree`` (the write): the
    same tree as folding in place, when the prepared part is capped, and when another writer
    moved the tree in between (the stale nodes are dropped, not written twice)."""
    monkeypatch.setattr(tree_store, "_CHUNK", 7)
    with store.read() as conn:
        leaves = _leaves(conn)
        ahead = tree_store.prepare_nodes(conn, 100, most=40)  # capped: 0 .. 40
    assert (ahead.size, ahead.upto) == (0, 40)
    with store.engine.begin() as conn:
        assert extend_tree(conn, 100, ahead) == 100
        assert root_hash(100, node_source(conn)) == root_of_leaves(leaves[:100])
    with store.read() as conn:
        stale = tree_store.prepare_nodes(conn, 200)
    with store.engine.begin() as conn:
        extend_tree(conn, 150)  # another signer got there first
        assert extend_tree(conn, 200, stale) == 200
        assert root_hash(200, node_source(conn)) == root_of_leaves(leaves[:200])
        stored = conn.execute(select(tree_nodes.c.node)).scalars().all()
        assert len(stored) == len(set(stored)) == sum(200 >> lv for lv in range(8))
