"""operators' optional second factor: operator_totp

Adds ``operator_totp`` (one TOTP secret per operator name, socialcredit/api/totp.py). Nothing to
fill for existing operators: without a row, the console asks for the key only.

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-07 06:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('operator_totp',
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('operator_totp')
