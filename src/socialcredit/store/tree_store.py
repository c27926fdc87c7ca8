"""The Merkle tree's storage: every perfect subtree's hash in ``tree_nodes`` (issue #15).

:func:`extend_tree` appends the events past the stored tree (leaves first, then each parent
whose two children exist), reading only the right edge of the stored tree (at most one node
per level). :func:`node_source` serves proofs (:mod:`socialcredit.store.merkle`) with one
``SELECT`` per proof of the O(log n) nodes it needs, through the primary key
``node = level << 40 | idx``.

The tree trails the ledger: it is extended when a head is signed
(:func:`socialcredit.store.tree_head.sign_head`), not in the write path, so ingest pays nothing
per event for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, func, select

from socialcredit.store.merkle import NodeSource, leaf_hash, node_hash
from socialcredit.store.tables import events, tree_nodes

__all__ = ["extend_tree", "node_source", "tree_size"]

_CHUNK = 20_000


#: ``node = level << _SHIFT | idx``: room for 2**40 leaves.
_SHIFT = 40


def tree_size(conn: Connection) -> int:
    """Leaves stored (events folded into the tree so far)."""
    last = conn.execute(select(func.max(tree_nodes.c.node)).where(
        tree_nodes.c.node < (1 << _SHIFT))).scalar()
    return 0 if last is None else int(last) + 1


def _fetch(conn: Connection, wanted: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    keys = sorted({lv << _SHIFT | ix for lv, ix in wanted})
    out: dict[tuple[int, int], bytes] = {}
    for i in range(0, len(keys), 500):
        rows = conn.execute(select(tree_nodes).where(tree_nodes.c.node.in_(keys[i:i + 500])))
        out.update({(r.node >> _SHIFT, r.node & ((1 << _SHIFT) - 1)): bytes(r.hash)
                    for r in rows})
    return out


def node_source(conn: Connection) -> NodeSource:
    """A :data:`~socialcredit.store.merkle.NodeSource` reading ``tree_nodes`` on ``conn``.

    Raises:
        LookupError: a requested node is not stored (the tree trails the ledger: ask for a
            size at most the stored tree's).
    """
    def source(wanted: Iterable[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        wanted = set(wanted)
        got = _fetch(conn, wanted)
        if len(got) != len(wanted):
            raise LookupError(f"Merkle tree nodes not stored: {sorted(wanted - set(got))[:3]}")
        return got
    return source


def extend_tree(conn: Connection, upto: int) -> int:
    """Fold events ``tree_size + 1 .. upto`` into ``tree_nodes`` (inside the caller's
    transaction); return the new size."""
    size = tree_size(conn)
    if upto <= size:
        return size
    # the right edge: the pending left siblings of the stored tree, one per level at most
    edge_keys = [(lv, (size >> lv) - 1) for lv in range(size.bit_length()) if (size >> lv) & 1]
    edge = _fetch(conn, edge_keys)
    marks = ", ".join(["?" if conn.dialect.paramstyle == "qmark" else "%s"] * 2)
    done = size
    while done < upto:
        rows = conn.execute(select(events.c.seq, events.c.hash).where(
            events.c.seq > done, events.c.seq <= upto).order_by(events.c.seq).limit(_CHUNK)
        ).all()
        if not rows:
            break
        new: list[tuple[int, bytes]] = []
        for r in rows:
            i = int(r.seq) - 1
            if i != done:
                raise LookupError(f"ledger gap at event {done + 1}: run `audit verify`")
            h, lv, ix = leaf_hash(r.hash), 0, i
            new.append((ix, h))
            while ix & 1:  # a right child: its parent is complete now
                h = node_hash(edge.pop((lv, ix - 1)), h)
                lv, ix = lv + 1, ix >> 1
                new.append((lv << _SHIFT | ix, h))
            edge[(lv, ix)] = h
            done += 1
        # the driver's executemany on tuples (SQLAlchemy's per-row work would dominate)
        conn.exec_driver_sql(f"INSERT INTO tree_nodes (node, hash) VALUES ({marks})", new)
    return done
