"""Operational tables: state the registry keeps beside the ledger and never writes to it —
API key hashes, the intake's log and quarantine, gate decisions and their counters, sign-in
codes, sessions and wrong tries, contact-channel codes and operators' second factors.
``audit replay`` does not rebuild them (store/replay_tables.py says why for each).

``sign_in_failures.failed_at_s`` is Unix seconds: an operational counter never hashed.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from socialcredit.store.tables.ledger import ID, metadata

__all__ = [
    "api_keys", "contact_codes", "decision_counts", "decisions", "ingests", "operator_totp",
    "quarantine", "sessions", "sign_in_codes", "sign_in_failures",
]

# operational: only an argon2id hash of a key's secret is kept; the key is printed once.
api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("key_hash", String(255), nullable=False),  # argon2id PHC string (0002)
    Column("role", String(16), nullable=False),  # furnisher | gate | operator
    Column("principal_id", ID, nullable=True),
    Column("name", String(120), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32), nullable=True),
)

ingests = Table(
    "ingests",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("furnisher_id", ID, nullable=False),
    Column("source", String(500), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
)

# operational: rows that failed validation, with file, line, field and reason.
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("ingest_id", ID, nullable=False, index=True),
    Column("furnisher_id", ID, nullable=False),
    Column("source", String(500), nullable=False),
    Column("line", Integer, nullable=True),
    Column("field", String(80), nullable=True),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=True),
)

# operational: every deny and review with its reasons; allows are only counted.
decisions = Table(
    "decisions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("at", String(32), nullable=False),
    Column("service", String(40), nullable=False),
    Column("outcome", String(10), nullable=False),
    Column("subject_id", ID, nullable=True, index=True),
    Column("gate", String(120), nullable=False),
    Column("reasons", Text, nullable=False),
)

decision_counts = Table(
    "decision_counts",
    metadata,
    Column("service", String(40), primary_key=True),
    Column("outcome", String(10), primary_key=True),
    Column("count", ID, nullable=False),
)

# Operational: one-time sign-in codes (only a hash is kept) and subject sessions.
sign_in_codes = Table(
    "sign_in_codes",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("subject_id", ID, nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("used_at", String(32), nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("subject_id", ID, nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("ended_at", String(32), nullable=True),
)

# Operational: a code sent to a new phone a signed-in subject wants as their channel (0006).
contact_codes = Table(
    "contact_codes",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("subject_id", ID, nullable=False, index=True),
    Column("phone", String(80), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("used_at", String(32), nullable=True),
)

# Operators' optional second factor (socialcredit/api/totp.py): a TOTP secret per operator name.
# Readable on purpose (codes are checked against it); never written to the ledger.
operator_totp = Table(
    "operator_totp",
    metadata,
    Column("name", String(120), primary_key=True),
    Column("secret", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
)

# Wrong sign-in codes per (ID number, phone) pair, one row per wrong try, shared by every server
# process so that N processes do not allow N times the tries (issue #20, 0010). ``pair`` is a
# keyed digest (disclosure/signin.py), never the ID or phone; rows older than a day no longer
# count and are pruned. Operational: never in the ledger.
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pair", String(64), nullable=False),
    Column("failed_at_s", Float, nullable=False),  # Unix time, seconds
    Index("ix_sign_in_failures_pair_time", "pair", "failed_at_s"),
)
