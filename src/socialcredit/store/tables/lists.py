"""What the policy decides and the external lists screened against.

``list_entries`` are the registry's own list entries (black and red lists) and ``scores`` the
score history (issue #4); ``screen_entries`` and ``screen_clearances`` (migration 0008) are
the imported external lists (OFAC, UN) and the operators' rulings that a screened party is not
a listed one. All are projections of the ledger.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from socialcredit.store.tables.ledger import ID, metadata

__all__ = ["list_entries", "scores", "screen_clearances", "screen_entries"]

list_entries = Table(
    "list_entries",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("list", String(64), nullable=False),
    Column("subject_id", ID, nullable=False, index=True),
    Column("key", String(200), nullable=False),
    Column("status", String(16), nullable=False),  # active | removed | expired | pending_review
    Column("ground", Integer, nullable=True),
    Column("since", String(10), nullable=False),
    Column("until", String(10), nullable=True),
    Column("record_id", ID, nullable=True),
    Column("furnisher_id", ID, nullable=True),
    Column("platform", String(120), nullable=True),
    Column("public", Boolean, nullable=False),
    Column("ended_on", String(10), nullable=True),
    Column("end_reason", String(40), nullable=True),
    Column("end_record_id", ID, nullable=True),
    Column("policy_version", String(80), nullable=False),
    Column("seq", ID, nullable=False),
    # JSON [[service, until or null], ...]: sanctions a court lifted for this entry (SPC 2015,
    # Art. 9); the gate refuses none of them while ``until`` has not come
    Column("lifted", String(400), nullable=True),
    UniqueConstraint("list", "subject_id", "key"),
    Index("ix_list_entries_status", "list", "status"),
)

# Score history (issue #4): one row per change of a subject's score, grade or reason codes, as
# evaluated on ``as_of`` under ``policy_version``; the newest row per (subject, score) is current.
scores = Table(
    "scores",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("subject_id", ID, nullable=False),
    Column("score", String(64), nullable=False),
    Column("value", Integer, nullable=False),
    Column("grade", String(8), nullable=False),
    Column("reasons", String(200), nullable=False),  # JSON list of factor codes, costliest first
    Column("as_of", String(10), nullable=False),
    Column("policy_version", String(80), nullable=False),
    Column("seq", ID, nullable=False),
    Index("ix_scores_subject", "subject_id", "score", "id"),
)

# Every entry of an imported external list, of every kind (person, organisation, vessel,
# aircraft): a projection of the ``screen.listed`` / ``screen.updated`` / ``screen.delisted``
# events. ``party`` is the canonical JSON of a screening.model.ListedParty.
screen_entries = Table(
    "screen_entries",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("list", String(64), nullable=False),
    Column("key", String(64), nullable=False),  # the list's own id (SDN ent_num, UN DATAID)
    Column("kind", String(16), nullable=False),  # person | organisation | vessel | aircraft
    Column("name", String(500), nullable=False),
    Column("status", String(16), nullable=False),  # active | removed
    Column("party", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("since", String(10), nullable=False),
    Column("ended_on", String(10), nullable=True),
    Column("seq", ID, nullable=False),
    UniqueConstraint("list", "key"),
    Index("ix_screen_entries_status", "status", "list"),
)

# An operator's ruling that a screened person or organisation (``query_hash``: the details as
# sent) is not the listed entry ``list``/``key`` as it stood (``content_hash``): later screens
# of the same details show the entry as cleared while it reads as it did (content_hash).
screen_clearances = Table(
    "screen_clearances",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("list", String(64), nullable=False),
    Column("key", String(64), nullable=False),
    Column("query_hash", String(64), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("by", String(160), nullable=False),
    Column("at", String(32), nullable=False),
    Column("seq", ID, nullable=False),
    UniqueConstraint("list", "key", "query_hash"),
)
