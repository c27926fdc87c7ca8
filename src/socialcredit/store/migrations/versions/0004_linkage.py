"""probabilistic linkage: links, review queue, merges; identity columns of records

Adds ``links`` (how a record not linked by a checksum-valid national ID came to its subject),
``link_candidates`` (the review queue), ``merges``, ``linkage_models``; ``records.claimed_id`` / ``birth_date`` /
``address`` / ``flags`` (identity as sent), ``names.full_name`` (pinyin / latin "family given"), ``identifiers.shared_since``,
``subjects.merged_into`` and an index on ``subjects.birth_date``. Existing rows keep NULLs:
``socialcredit link --retrain`` fills ``names.full_name``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 14:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('links',
    sa.Column('record_id', ID, autoincrement=False, nullable=False),
    sa.Column('subject_id', ID, nullable=True),
    sa.Column('rule', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('match_weight', sa.Float(), nullable=True),
    sa.Column('match_probability', sa.Float(), nullable=True),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('model_version', sa.String(length=32), nullable=True),
    sa.Column('decided_by', sa.String(length=120), nullable=True),
    sa.Column('seq', ID, nullable=False),
    sa.PrimaryKeyConstraint('record_id', name=op.f('pk_links'))
    )
    op.create_index('ix_links_status', 'links', ['status'], unique=False)
    op.create_index(op.f('ix_links_subject_id'), 'links', ['subject_id'], unique=False)
    op.create_table('link_candidates',
    sa.Column('id', ID, autoincrement=False, nullable=False),
    sa.Column('record_id', ID, nullable=False),
    sa.Column('subject_id', ID, nullable=False),
    sa.Column('match_weight', sa.Float(), nullable=False),
    sa.Column('match_probability', sa.Float(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('model_version', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_seq', ID, nullable=False),
    sa.Column('decided_at', sa.String(length=32), nullable=True),
    sa.Column('decided_by', sa.String(length=120), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_candidates'))
    )
    op.create_index('ix_link_candidates_open', 'link_candidates', ['status', 'match_weight'],
                    unique=False)
    op.create_index(op.f('ix_link_candidates_record_id'), 'link_candidates', ['record_id'],
                    unique=False)
    op.create_index(op.f('ix_link_candidates_subject_id'), 'link_candidates', ['subject_id'],
                    unique=False)
    op.create_table('merges',
    sa.Column('id', ID, autoincrement=False, nullable=False),
    sa.Column('survivor_id', ID, nullable=False),
    sa.Column('absorbed_id', ID, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('merged_by', sa.String(length=120), nullable=False),
    sa.Column('merged_seq', ID, nullable=False),
    sa.Column('moved', sa.Text(), nullable=False),
    sa.Column('split_by', sa.String(length=120), nullable=True),
    sa.Column('split_reason', sa.Text(), nullable=True),
    sa.Column('split_seq', ID, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merges'))
    )
    op.create_index(op.f('ix_merges_absorbed_id'), 'merges', ['absorbed_id'], unique=False)
    op.create_index(op.f('ix_merges_survivor_id'), 'merges', ['survivor_id'], unique=False)
    op.create_table('linkage_models',
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('trained_at', sa.String(length=32), nullable=False),
    sa.Column('seq', ID, nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_linkage_models'))
    )
    with op.batch_alter_table('records') as batch:
        batch.add_column(sa.Column('claimed_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('birth_date', sa.String(length=10), nullable=True))
        batch.add_column(sa.Column('address', sa.String(length=300), nullable=True))
        batch.add_column(sa.Column('flags', sa.String(length=100), nullable=True))
    with op.batch_alter_table('identifiers') as batch:
        batch.add_column(sa.Column('shared_since', sa.String(length=10), nullable=True))
    with op.batch_alter_table('names') as batch:
        batch.add_column(sa.Column('full_name', sa.String(length=200), nullable=True))
        batch.create_index(batch.f('ix_names_full_name'), ['full_name'], unique=False)
    with op.batch_alter_table('subjects') as batch:
        batch.add_column(sa.Column('merged_into', ID, nullable=True))
        batch.create_index('ix_subjects_birth_date', ['birth_date'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('subjects') as batch:
        batch.drop_index('ix_subjects_birth_date')
        batch.drop_column('merged_into')
    with op.batch_alter_table('identifiers') as batch:
        batch.drop_column('shared_since')
    with op.batch_alter_table('names') as batch:
        batch.drop_index(batch.f('ix_names_full_name'))
        batch.drop_column('full_name')
    with op.batch_alter_table('records') as batch:
        batch.drop_column('flags')
        batch.drop_column('address')
        batch.drop_column('birth_date')
        batch.drop_column('claimed_id')
    op.drop_table('linkage_models')
    op.drop_table('merges')
    op.drop_table('link_candidates')
    op.drop_table('links')
