"""organisations as subjects: subjects.kind, subjects.organisation_id, records.organisation_id

Adds the kind of a subject (``person`` | ``organisation``; every existing subject is a person)
and the organisation's identifier (the unified social credit code in China, unique), and the
organisation a record is about (issue #13). Nothing to fill: no organisation was held before.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 18:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subjects') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=12), nullable=False,
                                   server_default='person'))
        batch.add_column(sa.Column('organisation_id', sa.String(length=64), nullable=True))
        batch.create_unique_constraint('uq_subjects_organisation_id', ['organisation_id'])
    with op.batch_alter_table('records') as batch:
        batch.add_column(sa.Column('organisation_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('records') as batch:
        batch.drop_column('organisation_id')
    with op.batch_alter_table('subjects') as batch:
        batch.drop_constraint('uq_subjects_organisation_id', type_='unique')
        batch.drop_column('organisation_id')
        batch.drop_column('kind')
