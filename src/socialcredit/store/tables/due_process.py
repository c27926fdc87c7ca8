"""Due process (migration 0003): the notices owed to people, disputes, review requests and
repair applications.

``disputes``, ``reviews`` and ``repairs`` are projections of the ledger. ``notices`` is the
outbox and ``cursors`` where each ledger follower (the notice projector) has got to: both
operational (store/replay_tables.py says why).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from socialcredit.store.tables.ledger import ID, metadata

__all__ = ["cursors", "disputes", "notices", "repairs", "reviews"]

# Notices: the outbox. A row is written in the same transaction as the event that causes it (or
# by the notice projector from the ledger); ``served_at`` is set when an adapter delivered it.
notices = Table(
    "notices",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("subject_id", ID, nullable=False, index=True),
    Column("kind", String(32), nullable=False),  # see socialcredit.disclosure.notices.KINDS
    Column("ref", String(80), nullable=False),  # what it is about: entry:12, dispute:3, ...
    Column("created_at", String(32), nullable=False),
    Column("due_at", String(32), nullable=False),  # the promise: served by then
    Column("served_at", String(32), nullable=True),
    Column("channel", String(16), nullable=True),  # file | smtp
    Column("attempts", Integer, nullable=False),
    Column("last_error", String(200), nullable=True),
    Column("body", Text, nullable=False),  # JSON {title, text, ...}; a code is wiped once served
    Column("event_seq", ID, nullable=True),
    UniqueConstraint("kind", "ref"),
    Index("ix_notices_pending", "served_at", "id"),
)

# Where each ledger follower of the store (the notice projector) has got to. Operational.
cursors = Table(
    "cursors",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("seq", ID, nullable=False),
)

disputes = Table(
    "disputes",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("subject_id", ID, nullable=False, index=True),
    Column("record_id", ID, nullable=True),
    Column("entry_id", ID, nullable=True),
    Column("furnisher_id", ID, nullable=True, index=True),
    Column("reason", Text, nullable=False),
    Column("opened_at", String(32), nullable=False),
    Column("due_on", String(10), nullable=False),
    # open | verified | corrected | deleted | suppressed | appealed | upheld | overturned
    Column("status", String(16), nullable=False),
    Column("answered_at", String(32), nullable=True),
    Column("answer_note", Text, nullable=True),
    Column("appeal_reason", Text, nullable=True),
    Column("decided_by", String(120), nullable=True),
    Column("seq", ID, nullable=False),
    Index("ix_disputes_open", "status", "due_on"),
)

# Requests for human review of an automated refusal (GDPR Art. 22(3)); an operator decides.
reviews = Table(
    "reviews",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("subject_id", ID, nullable=False, index=True),
    Column("decision_id", String(36), nullable=False),
    Column("reason", Text, nullable=False),
    Column("opened_at", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # open | upheld | overturned
    Column("decided_at", String(32), nullable=True),
    Column("decided_by", String(120), nullable=True),
    Column("note", Text, nullable=True),
    Column("seq", ID, nullable=False),
)

# Applications for early removal of a listing (credit repair), decided by an operator or
# granted automatically when the evidence record arrives.
repairs = Table(
    "repairs",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("subject_id", ID, nullable=False, index=True),
    Column("entry_id", ID, nullable=False, index=True),
    Column("condition", String(24), nullable=False),  # performance | settlement | consent
    Column("evidence", Text, nullable=False),
    Column("opened_at", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # open | granted | refused
    Column("decided_at", String(32), nullable=True),
    Column("decided_on", String(10), nullable=True),
    Column("decided_by", String(120), nullable=True),
    Column("note", Text, nullable=True),
    Column("seq", ID, nullable=False),
)
