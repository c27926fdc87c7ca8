"""argon2id API key hashes

Widens ``api_keys.key_hash`` to 255 characters (an argon2id PHC string is ~97) and rewrites
every hash of revision 0001 (64 hex digits: the SHA-256 of the key's secret) as ``sha256$`` +
argon2id(that hex string), so no fast hash stays in the database and every existing key keeps
working (``socialcredit.api.keys`` checks such a hash against the SHA-256 of the secret). The
argon2 parameters are frozen here (OWASP: m=19 MiB, t=2, p=1); each hash records its own, so a
later change of parameters in ``access`` still verifies these.

Irreversible: a downgrade cannot recover the SHA-256 hashes (restore a backup instead).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 11:30:00
"""
import re

from alembic import op
import sqlalchemy as sa
from argon2 import PasswordHasher


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_LEGACY = re.compile(r"^[0-9a-f]{64}$")


def upgrade() -> None:
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.alter_column('key_hash', existing_type=sa.String(length=64),
                              type_=sa.String(length=255), existing_nullable=False)
    keys = sa.table('api_keys', sa.column('key_id', sa.String), sa.column('key_hash', sa.String))
    conn = op.get_bind()
    hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
    for key_id, key_hash in conn.execute(sa.select(keys.c.key_id, keys.c.key_hash)).all():
        if _LEGACY.match(key_hash):
            conn.execute(keys.update().where(keys.c.key_id == key_id)
                         .values(key_hash='sha256$' + hasher.hash(key_hash)))


def downgrade() -> None:
    raise NotImplementedError(
        "revision 0002 is irreversible: argon2id key hashes cannot be turned back into "
        "SHA-256; restore a backup taken before the upgrade (socialcredit restore)")
