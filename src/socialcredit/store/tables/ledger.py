"""The one ``MetaData`` of the store, the ledger and the Merkle tree over it.

``events`` is the ledger (append-only, gap-free ``seq``, SHA-256 chain); ``ledger_head`` holds
the last ``seq``/``hash`` and is the single write lock of the registry. ``tree_nodes`` and
``tree_heads`` (issue #15, migration 0007) are the Merkle tree over the events' hashes and its
signed heads; neither is a projection.

``metadata`` is the one ``MetaData`` every table module of the store registers in, and the one
the Alembic migrations are compared against; ``ID`` is the type of every row id and ``seq``
(BIGINT, INTEGER on SQLite).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = ["ID", "events", "ledger_head", "metadata", "tree_heads", "tree_nodes"]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = BigInteger().with_variant(Integer(), "sqlite")

ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", ID, nullable=False),
    Column("hash", String(64), nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("seq", ID, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
    Column("type", String(64), nullable=False),
    Column("subject_id", ID, nullable=True, index=True),
    Column("policy_version", String(80), nullable=True),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# Derived from the events' hashes (RFC 9162 §2.1): the hash of every perfect subtree
# ``(level, idx)``, i.e. leaves [idx * 2**level, (idx + 1) * 2**level), level 0 the leaves, keyed
# by ``node = level << 40 | idx`` (one integer key: a proof's nodes are one ``IN`` on the
# primary key). Not a projection: rebuilt from ``events.hash`` alone (store/tree_store.py).
tree_nodes = Table(
    "tree_nodes",
    metadata,
    Column("node", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

# Signed tree heads: size, root, time, Ed25519 signature by the registry key (store/tree_head.py).
tree_heads = Table(
    "tree_heads",
    metadata,
    Column("tree_size", ID, primary_key=True, autoincrement=False),
    Column("root_hash", String(64), nullable=False),
    Column("timestamp", String(32), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
)
