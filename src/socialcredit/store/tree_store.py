"""The Merkle tree's storage: every perfect subtree's hash in ``tree_nodes`` (issue #15).

:func:`extend_tree` appends the events past the stored tree in pages, one level at a time (a
list comprehension over pairs per level, :func:`_fold`), reading only the right edge of the
stored tree (at most one node per level). :func:`node_source` serves proofs
(:mod:`socialcredit.store.merkle`) with one
``SELECT`` per proof of the O(log n) nodes it needs, through the primary key
``node = level << 40 | idx``.

The tree trails the ledger: it is extended when a head is signed
(:func:`socialcredit.store.tree_head.sign_head`), not in the write path, so ingest pays nothing
per event for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from socialcredit.store.bulk import driver_pages
from socialcredit.store.merkle import NodeSource
from socialcredit.store.tables import tree_nodes

__all__ = ["Prepared", "extend_tree", "node_source", "prepare_nodes", "tree_size"]

_CHUNK = 20_000
#: Events hashed ahead of a head's write transaction at most (about 2 nodes of 40 bytes each).
PREPARE_MOST = 500_000


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


def _fold(level_nodes: list[bytes], first: int, edge: dict[int, bytes],
          ) -> list[tuple[int, bytes]]:
    """Fold new leaf hashes ``level_nodes`` (leaf index ``first`` onwards) into the tree whose
    pending left siblings are ``edge`` (level → hash; updated in place); return the new nodes
    as ``(level << 40 | index, hash)``, level by level.

    Each level is one list comprehension over pairs: a level's first node, if it is a right
    child (odd index), is paired with the pending left sibling of that level; a last node
    without a right sibling becomes the level's pending one."""
    sha = hashlib.sha256
    out: list[tuple[int, bytes]] = []
    lv, cur, i0 = 0, level_nodes, first
    while cur:
        base = lv << _SHIFT
        out.extend(zip(range(base | i0, base | (i0 + len(cur))), cur, strict=True))
        if i0 & 1:  # a right child first: its left sibling waits on the edge
            cur, i0 = [edge.pop(lv), *cur], i0 - 1
        if len(cur) & 1:
            edge[lv] = cur[-1]
        else:
            edge.pop(lv, None)
        cur = [sha(b"\x01" + cur[k] + cur[k + 1]).digest() for k in range(0, len(cur) - 1, 2)]
        lv, i0 = lv + 1, i0 >> 1
    return out


def _new_nodes(conn: Connection, size: int, upto: int,
               ) -> Iterator[tuple[int, list[tuple[int, bytes]]]]:
    """The nodes that fold events ``size + 1 .. upto`` into a stored tree of ``size`` leaves,
    a page of events at a time: ``(leaves folded so far, that page's new nodes)``.

    Raises:
        LookupError: an event is missing below ``upto`` (a gap: run ``audit verify``).
    """
    # the right edge: the pending left siblings of the stored tree, one per level at most
    edge_keys = [(lv, (size >> lv) - 1) for lv in range(size.bit_length()) if (size >> lv) & 1]
    edge = {lv: h for (lv, _), h in _fetch(conn, edge_keys).items()}
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    done, sha, fromhex = size, hashlib.sha256, bytes.fromhex
    for rows in driver_pages(conn, f"SELECT seq, hash FROM events WHERE seq > {mark} AND "
                             f"seq <= {mark} ORDER BY seq", (size, upto), page=_CHUNK,
                             name="tree_events"):
        if rows[0][0] != done + 1 or rows[-1][0] != done + len(rows):
            raise LookupError(f"ledger gap after event {done}: run `audit verify`")
        leaves = [sha(b"\x00" + fromhex(h)).digest() for _, h in rows]
        nodes = _fold(leaves, done, edge)
        done += len(rows)
        yield done, nodes


def _insert(conn: Connection, nodes: list[tuple[int, bytes]]) -> None:
    # the driver's executemany on tuples (SQLAlchemy's per-row work would dominate)
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(f"INSERT INTO tree_nodes (node, hash) VALUES ({mark}, {mark})", nodes)


@dataclass(frozen=True)
class Prepared:
    """Nodes hashed ahead of a write (:func:`prepare_nodes`): they extend a tree of exactly
    ``size`` leaves to ``upto``."""

    size: int
    upto: int
    nodes: list[tuple[int, bytes]]


def prepare_nodes(conn: Connection, upto: int, *, most: int = PREPARE_MOST) -> Prepared:
    """Read and hash, on a read connection, the nodes that extend the stored tree towards
    ``upto`` (at most ``most`` events, so memory stays bounded), for :func:`extend_tree` to
    write under the ledger lock without hashing there.

    Raises:
        LookupError: an event is missing below ``upto``.
    """
    size = tree_size(conn)
    nodes: list[tuple[int, bytes]] = []
    done = size
    for folded, page in _new_nodes(conn, size, min(upto, size + most)):
        nodes.extend(page)
        done = folded
    return Prepared(size, done, nodes)


def extend_tree(conn: Connection, upto: int, prepared: Prepared | None = None) -> int:
    """Fold events ``tree_size + 1 .. upto`` into ``tree_nodes`` (inside the caller's
    transaction); return the new size. ``prepared`` nodes are written first when they start
    at the stored tree's size (another writer may have moved it since: then they are
    dropped and hashed again).

    Raises:
        LookupError: an event is missing below ``upto`` (a gap: run ``audit verify``).
    """
    size = tree_size(conn)
    if upto <= size:
        return size
    if prepared is not None and prepared.size == size and size < prepared.upto <= upto:
        _insert(conn, prepared.nodes)
        size = prepared.upto
    done = size
    for folded, nodes in _new_nodes(conn, size, upto):
        _insert(conn, nodes)
        done = folded
    return done
