"""Merkle tree over the ledger: stored perfect subtrees and signed tree heads (issue #15)

Adds ``tree_nodes`` (the hash of every perfect subtree of the RFC 9162 tree over the events,
keyed ``level << 40 | index``, so that a proof reads O(log n) rows by primary key) and ``tree_heads`` (signed tree heads).

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-07 06:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('tree_nodes',
    sa.Column('node', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('node', name=op.f('pk_tree_nodes'))
    )
    op.create_table('tree_heads',
    sa.Column('tree_size', ID, autoincrement=False, nullable=False),
    sa.Column('root_hash', sa.String(length=64), nullable=False),
    sa.Column('timestamp', sa.String(length=32), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('tree_size', name=op.f('pk_tree_heads'))
    )


def downgrade() -> None:
    op.drop_table('tree_heads')
    op.drop_table('tree_nodes')
