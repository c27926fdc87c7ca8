"""Probabilistic linkage (migration 0004): how each record came to its subject, the review
queue of candidate pairs, merges of two subjects and the trained linkage models.

All are projections of the ledger (``linkage.*``, ``record.linked``, ``subject.merged``
events).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    String,
    Table,
    Text,
)

from socialcredit.store.tables.ledger import ID, metadata

__all__ = ["link_candidates", "linkage_models", "links", "merges"]

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
