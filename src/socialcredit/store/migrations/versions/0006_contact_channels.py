"""contact channels: where a subject's codes and notices go, apart from linkage

Adds ``contact_channels`` (the trusted phone of each subject, moved only by the person's
proof, an operator after an identity check, or an authoritative source the policy names) and
``contact_codes`` (codes sent to a phone a signed-in subject wants as their channel).

Bootstrap of existing data: each subject's channel is the phone the registry used until now
(of the subject's current phones, the one attached first), so nobody loses sign-in. Where an
earlier phone of that subject was *ended* by furnisher data (a recycling inferred from rows,
which is how the takeover of issue #20 worked), the channel is flagged for an operator to
confirm with the person. These rows carry ``source = "migration"`` and no ledger event (a
migration does not write the hash chain); every later change is a ledger event.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 06:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('contact_channels',
    sa.Column('subject_id', ID, autoincrement=False, nullable=False),
    sa.Column('phone', sa.String(length=80), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('set_seq', ID, nullable=True),
    sa.Column('set_at', sa.String(length=32), nullable=False),
    sa.Column('flagged_reason', sa.String(length=200), nullable=True),
    sa.Column('flagged_at', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('subject_id', name=op.f('pk_contact_channels'))
    )
    op.create_table('contact_codes',
    sa.Column('id', ID, autoincrement=False, nullable=False),
    sa.Column('subject_id', ID, nullable=False),
    sa.Column('phone', sa.String(length=80), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.Column('expires_at', sa.String(length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('used_at', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_codes'))
    )
    op.create_index(op.f('ix_contact_codes_subject_id'), 'contact_codes', ['subject_id'],
                    unique=False)
    conn = op.get_bind()
    now = conn.execute(sa.text("SELECT CURRENT_TIMESTAMP")).scalar()
    at = str(now).replace(" ", "T")
    first = conn.execute(sa.text(
        "SELECT i.subject_id, i.id, i.value FROM identifiers i WHERE i.kind = 'phone' AND "
        "i.valid_to IS NULL AND i.id = (SELECT MIN(j.id) FROM identifiers j WHERE "
        "j.subject_id = i.subject_id AND j.kind = 'phone' AND j.valid_to IS NULL)")).all()
    for sid, iid, phone in first:
        ended_before = conn.execute(sa.text(
            "SELECT COUNT(*) FROM identifiers WHERE subject_id = :s AND kind = 'phone' AND "
            "valid_to IS NOT NULL AND id < :i"), {"s": sid, "i": iid}).scalar()
        conn.execute(sa.text(
            "INSERT INTO contact_channels (subject_id, phone, source, set_seq, set_at, "
            "flagged_reason, flagged_at) VALUES (:s, :p, 'migration', NULL, :at, :r, :fa)"),
            {"s": sid, "p": phone, "at": at,
             "r": "migration: an earlier phone was ended by furnisher data" if ended_before
             else None, "fa": at if ended_before else None})


def downgrade() -> None:
    op.drop_index(op.f('ix_contact_codes_subject_id'), table_name='contact_codes')
    op.drop_table('contact_codes')
    op.drop_table('contact_channels')
