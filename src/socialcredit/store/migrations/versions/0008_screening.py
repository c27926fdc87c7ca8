"""screening: every entry of the external lists, of every kind

Adds ``screen_entries`` (one row per entry of an imported external list — persons,
organisations, vessels, aircraft — with the canonical JSON of its names, aliases, birth dates,
nationalities and documents), the projection the screening index is built from, and
``screen_clearances`` (an operator's ruling that screened details are not a listed entry).

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-07 06:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('screen_entries',
    sa.Column('id', ID, autoincrement=False, nullable=False),
    sa.Column('list', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('party', sa.Text(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('since', sa.String(length=10), nullable=False),
    sa.Column('ended_on', sa.String(length=10), nullable=True),
    sa.Column('seq', ID, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_screen_entries')),
    sa.UniqueConstraint('list', 'key', name=op.f('uq_screen_entries_list'))
    )
    op.create_index('ix_screen_entries_status', 'screen_entries', ['status', 'list'],
                    unique=False)
    op.create_table('screen_clearances',
    sa.Column('id', ID, autoincrement=False, nullable=False),
    sa.Column('list', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('query_hash', sa.String(length=64), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('by', sa.String(length=160), nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.Column('seq', ID, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_screen_clearances')),
    sa.UniqueConstraint('list', 'key', 'query_hash', name=op.f('uq_screen_clearances_list'))
    )


def downgrade() -> None:
    op.drop_table('screen_clearances')
    op.drop_index('ix_screen_entries_status', table_name='screen_entries')
    op.drop_table('screen_entries')
