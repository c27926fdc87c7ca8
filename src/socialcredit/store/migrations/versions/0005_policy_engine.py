"""policy engine: score history, per-sanction lifting of list entries

Adds ``scores`` (each subject's score history: one row per change of value, grade or reason
codes, with the evaluation date and policy version) and ``list_entries.lifted`` (JSON list of
``[service, until]`` sanctions a court lifted for that entry, SPC 2015 Art. 9).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 16:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('scores',
    sa.Column('id', ID, autoincrement=False, nullable=False),
    sa.Column('subject_id', ID, nullable=False),
    sa.Column('score', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('grade', sa.String(length=8), nullable=False),
    sa.Column('reasons', sa.String(length=200), nullable=False),
    sa.Column('as_of', sa.String(length=10), nullable=False),
    sa.Column('policy_version', sa.String(length=80), nullable=False),
    sa.Column('seq', ID, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scores'))
    )
    op.create_index('ix_scores_subject', 'scores', ['subject_id', 'score', 'id'], unique=False)
    with op.batch_alter_table('list_entries') as batch:
        batch.add_column(sa.Column('lifted', sa.String(length=400), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('list_entries') as batch:
        batch.drop_column('lifted')
    op.drop_index('ix_scores_subject', table_name='scores')
    op.drop_table('scores')
