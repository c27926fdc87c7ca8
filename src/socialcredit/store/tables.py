"""SQLAlchemy Core tables of the store.

``events`` is the ledger (append-only, gap-free ``seq``, SHA-256 chain); ``ledger_head`` holds
the last ``seq``/``hash`` and is the single write lock of the registry. Every other table is a
projection of the ledger, written in the same transaction as the events that cause it, except
the operational tables marked *operational* (API keys, quarantine, decision counters).

Dates are ISO ``YYYY-MM-DD`` and instants ISO-8601 UTC strings in ``*_at`` text columns, so that
the hash chain is byte-identical on SQLite and PostgreSQL (``sign_in_failures.failed_at_s``, an
operational counter never hashed, is Unix seconds).

Longer than the 400 lines of STYLE.md: it is the one ``MetaData`` the Alembic migrations are
compared against, and each table keeps beside it the comment saying which events write it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "api_keys",
    "contact_channels",
    "contact_codes",
    "cursors",
    "decision_counts",
    "decisions",
    "disputes",
    "events",
    "furnishers",
    "gates",
    "identifiers",
    "ingests",
    "link_candidates",
    "linkage_models",
    "links",
    "ledger_head",
    "list_entries",
    "merges",
    "metadata",
    "names",
    "notices",
    "quarantine",
    "records",
    "repairs",
    "scores",
    "screen_clearances",
    "screen_entries",
    "reviews",
    "sessions",
    "sign_in_codes",
    "sign_in_failures",
    "subjects",
    "tree_heads",
    "tree_nodes",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = BigInteger().with_variant(Integer(), "sqlite")

ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", ID, nullable=False),
    Column("hash", String(64), nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("seq", ID, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
    Column("type", String(64), nullable=False),
    Column("subject_id", ID, nullable=True, index=True),
    Column("policy_version", String(80), nullable=True),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

furnishers = Table(
    "furnishers",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("name", String(120), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
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

# --- due process (migration 0003) -------------------------------------------------------------
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


# --- probabilistic linkage (migration 0004) ----------------------------------------------------
# How a record came to its subject, for every record not linked by a checksum-valid national ID
# (those need no row): rule phone | probabilistic | manual; status confirmed | pending (in the
# review queue: list entries resting on it are ``pending_review``) | rejected (left unlinked).
links = Table(
    "links",
    metadata,
    Column("record_id", ID, primary_key=True, autoincrement=False),
    Column("subject_id", ID, nullable=True, index=True),
    Column("rule", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("match_weight", Float, nullable=True),
    Column("match_probability", Float, nullable=True),
    Column("explanation", Text, nullable=False),  # JSON {comparison: {level, weight}}, flags
    Column("model_version", String(32), nullable=True),
    Column("decided_by", String(120), nullable=True),
    Column("seq", ID, nullable=False),
    Index("ix_links_status", "status"),
)

# The review queue: pairs (record, candidate subject) scored between the review and the
# auto-link thresholds, or above auto-link without corroboration or with a rival.
link_candidates = Table(
    "link_candidates",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("record_id", ID, nullable=False, index=True),
    Column("subject_id", ID, nullable=False, index=True),
    Column("match_weight", Float, nullable=False),
    Column("match_probability", Float, nullable=False),
    Column("explanation", Text, nullable=False),
    Column("model_version", String(32), nullable=True),
    Column("status", String(16), nullable=False),  # open | accepted | rejected | closed
    Column("created_seq", ID, nullable=False),
    Column("decided_at", String(32), nullable=True),
    Column("decided_by", String(120), nullable=True),
    Column("note", Text, nullable=True),
    Index("ix_link_candidates_open", "status", "match_weight"),
)

# Merges of two subjects (an operator's decision); a split undoes one.
merges = Table(
    "merges",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("survivor_id", ID, nullable=False, index=True),
    Column("absorbed_id", ID, nullable=False, index=True),
    Column("status", String(16), nullable=False),  # merged | split
    Column("reason", Text, nullable=False),
    Column("merged_by", String(120), nullable=False),
    Column("merged_seq", ID, nullable=False),
    Column("moved", Text, nullable=False),  # JSON {records, identifiers, names, entries}
    Column("split_by", String(120), nullable=True),
    Column("split_reason", Text, nullable=True),
    Column("split_seq", ID, nullable=True),
)

# Trained linkage models (``socialcredit link --retrain``): the newest is used by every ingest
# of every server; the training event ``linkage.model_trained`` carries its version.
linkage_models = Table(
    "linkage_models",
    metadata,
    Column("version", String(32), primary_key=True),
    Column("trained_at", String(32), nullable=False),
    Column("seq", ID, nullable=False),
    Column("model", Text, nullable=False),  # the model JSON (LinkageModel.to_json)
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

# Operators' optional second factor (socialcredit/totp.py): a TOTP secret per operator name.
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

# --- Merkle tree over the ledger (issue #15, migration 0007) -----------------------------------
# Derived from the events' hashes (RFC 9162 §2.1): the hash of every perfect subtree
# ``(level, idx)``, i.e. leaves [idx * 2**level, (idx + 1) * 2**level), level 0 the leaves, keyed
# by ``node = level << 40 | idx`` (one integer key: a proof's nodes are one ``IN`` on the
# primary key). Not a projection: rebuilt from ``events.hash`` alone (store/tree_store.py).
tree_nodes = Table(
    "tree_nodes",
    metadata,
    Column("node", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

# Signed tree heads: size, root, time, Ed25519 signature by the registry key (store/tree_head.py).
tree_heads = Table(
    "tree_heads",
    metadata,
    Column("tree_size", ID, primary_key=True, autoincrement=False),
    Column("root_hash", String(64), nullable=False),
    Column("timestamp", String(32), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
)

# --- screening (migration 0008) ---------------------------------------------------------------
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
# of the same details show the entry as cleared until the entry or the details change.
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
