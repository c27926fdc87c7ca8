"""The parties of the registry and what furnishers send: furnishers, gates, subjects with
their identifiers, names and trusted contact channel, and the records.

All are projections of the ledger (``audit replay`` rebuilds them: store/replay_tables.py).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from socialcredit.store.tables.ledger import ID, metadata

__all__ = [
    "contact_channels", "furnisher_aliases", "furnishers", "gates", "identifiers", "names",
    "records", "subjects",
]

furnishers = Table(
    "furnishers",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("name", String(120), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("created_at", String(32), nullable=False),
)

#: Other names of a furnisher (its legal name, a trading name) by which a collector's or debt
#: buyer's report may name it as the original creditor; ``key`` is the name's matching key
#: (``socialcredit.identity.organisation.organisation_name``), unique across every
#: furnisher (ledger event ``furnisher.alias_added``).
furnisher_aliases = Table(
    "furnisher_aliases",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("furnisher_id", ID, ForeignKey("furnishers.id"), nullable=False),
    Column("alias", String(200), nullable=False),
    Column("key", String(200), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
)

gates = Table(
    "gates",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("name", String(120), nullable=False, unique=True),
    Column("services", Text, nullable=False),  # comma-separated service names
    Column("platform", String(120), nullable=True),  # scope of platform-scoped sanctions
    Column("created_at", String(32), nullable=False),
)

subjects = Table(
    "subjects",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("national_id", String(64), nullable=True, unique=True),
    Column("name", String(200), nullable=True),
    Column("birth_date", String(10), nullable=True),
    Column("sex", String(1), nullable=True),
    Column("region_code", String(6), nullable=True),
    Column("source", String(40), nullable=False),  # registry | list:<name>
    Column("created_seq", ID, nullable=False),
    # set while this subject is merged into another (its records and identifiers moved there)
    Column("merged_into", ID, nullable=True),  # 0004
    # person | organisation (issue #13, 0011): an organisation is keyed by its
    # ``organisation_id`` (the unified social credit code in China), never by a national ID,
    # and linkage never joins the two kinds
    Column("kind", String(12), nullable=False, server_default="person"),
    Column("organisation_id", String(64), nullable=True, unique=True),
    Index("ix_subjects_birth_date", "birth_date"),  # 0004: name + birth date candidates
)

identifiers = Table(
    "identifiers",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("subject_id", ID, ForeignKey("subjects.id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),  # national_id | phone | passport | document
    Column("value", String(80), nullable=False),
    Column("valid_from", String(10), nullable=False),
    Column("valid_to", String(10), nullable=True),
    # a phone another subject was seen using at the same time (a family phone), from this date:
    # it then links records by itself no more (0004)
    Column("shared_since", String(10), nullable=True),
    UniqueConstraint("kind", "value", "valid_from"),
    Index("ix_identifiers_lookup", "kind", "value"),
)

# The trusted contact channel of each subject: where one-time codes and notices go. Written only
# with the ledger events ``contact.channel_set`` / ``contact.channel_changed`` /
# ``contact.channel_flagged`` (identity/channel.py); furnisher data never moves it (0006).
contact_channels = Table(
    "contact_channels",
    metadata,
    Column("subject_id", ID, primary_key=True, autoincrement=False),
    Column("phone", String(80), nullable=False),
    # corroborated | authoritative | operator | subject_proof | migration | first_sight (before
    # issue #20 closed trust on first use)
    Column("source", String(20), nullable=False),
    Column("set_seq", ID, nullable=True),
    Column("set_at", String(32), nullable=False),
    # furnisher rows suggest the number changed hands: an operator must look (never moves it)
    Column("flagged_reason", String(200), nullable=True),
    Column("flagged_at", String(32), nullable=True),
)

names = Table(
    "names",
    metadata,
    Column("subject_id", ID, ForeignKey("subjects.id"), nullable=False, index=True),
    Column("name", String(300), nullable=False),
    Column("name_key", String(300), nullable=False, index=True),  # normalised for matching
    # "family given" in pinyin / latin (identity.names.name_forms), for linkage (0004)
    Column("full_name", String(200), nullable=True, index=True),
)

records = Table(
    "records",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("furnisher_id", ID, ForeignKey("furnishers.id"), nullable=False),
    Column("furnisher_record_id", String(120), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("occurred_at", String(10), nullable=False),
    Column("subject_id", ID, nullable=True, index=True),
    Column("national_id", String(64), nullable=True),
    Column("phone", String(20), nullable=True),
    Column("name", String(200), nullable=True),
    Column("payload", Text, nullable=False),  # canonical JSON of the kind's fields
    Column("content_hash", String(64), nullable=False),
    Column("corrects_id", ID, nullable=True),
    Column("superseded_by", ID, nullable=True),
    Column("seq", ID, nullable=False),
    # active | suppressed (dispute unanswered or upheld) | deleted (furnisher) | retired
    # (past retention: payload gone); only active records are evaluated (0003)
    Column("status", String(16), nullable=False, server_default="active"),
    # identity as sent, for linkage (0004): a national ID that failed its check or contradicts
    # the record's birth date is kept here (never trusted as ``national_id``)
    Column("claimed_id", String(64), nullable=True),
    Column("birth_date", String(10), nullable=True),
    Column("address", String(300), nullable=True),
    Column("flags", String(100), nullable=True),  # comma-separated identity flags
    # the organisation a record is about, as sent and checked (0011); such a record has no
    # national ID or phone
    Column("organisation_id", String(64), nullable=True),
    UniqueConstraint("furnisher_id", "furnisher_record_id"),
)
