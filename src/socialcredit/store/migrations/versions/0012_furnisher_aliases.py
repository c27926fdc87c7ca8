"""furnisher aliases: furnisher_aliases

Adds ``furnisher_aliases`` (a furnisher's legal name and other names, by which a collector's or
debt buyer's report names it as the original creditor; issue #19). Nothing to fill: no alias
was held before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 01:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('furnisher_aliases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False,
              nullable=False),
    sa.Column('furnisher_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
              nullable=False),
    sa.Column('alias', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['furnisher_id'], ['furnishers.id'],
                            name=op.f('fk_furnisher_aliases_furnisher_id_furnishers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_furnisher_aliases')),
    sa.UniqueConstraint('key', name=op.f('uq_furnisher_aliases_key'))
    )


def downgrade() -> None:
    op.drop_table('furnisher_aliases')
