"""wrong sign-in codes shared by every server process: sign_in_failures

Adds ``sign_in_failures`` (one row per wrong code, per keyed digest of the ID number and phone)
so that the per-person limit of wrong codes holds across server processes (issue #20). Nothing
to fill: the per-process counts of a running server are not carried over.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 15:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sign_in_failures',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('pair', sa.String(length=64), nullable=False),
    sa.Column('failed_at_s', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_sign_in_failures_pair_time', 'sign_in_failures',
                    ['pair', 'failed_at_s'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_sign_in_failures_pair_time', table_name='sign_in_failures')
    op.drop_table('sign_in_failures')
