"""SQLAlchemy Core tables of the store: the one place the rest of the package imports them
from, and the one ``metadata`` the Alembic migrations (store/migrations/env.py) are compared
against.

``events`` is the ledger (append-only, gap-free ``seq``, SHA-256 chain); ``ledger_head`` holds
the last ``seq``/``hash`` and is the single write lock of the registry. Every other table is a
projection of the ledger, written in the same transaction as the events that cause it, except
the operational tables (API keys, quarantine, decision counters, ...).

Dates are ISO ``YYYY-MM-DD`` and instants ISO-8601 UTC strings in ``*_at`` text columns, so that
the hash chain is byte-identical on SQLite and PostgreSQL (``sign_in_failures.failed_at_s``, an
operational counter never hashed, is Unix seconds).

The tables are defined by facet, each beside the comment saying which events write it:

* :mod:`.ledger` — ``metadata``, the ledger and its Merkle tree;
* :mod:`.parties` — furnishers, gates, subjects (identifiers, names, contact channel), records;
* :mod:`.lists` — list entries and scores, and the external lists screened against;
* :mod:`.linkage` — links, the review queue of candidate pairs, merges, linkage models;
* :mod:`.due_process` — notices, disputes, review requests, repair applications;
* :mod:`.operational` — state kept beside the ledger: keys, intake log and quarantine, gate
  decisions, sign-in codes, sessions.
"""

from __future__ import annotations

from socialcredit.store.tables.due_process import (
    cursors,
    disputes,
    notices,
    repairs,
    reviews,
)
from socialcredit.store.tables.ledger import (
    events,
    ledger_head,
    metadata,
    tree_heads,
    tree_nodes,
)
from socialcredit.store.tables.linkage import (
    link_candidates,
    linkage_models,
    links,
    merges,
)
from socialcredit.store.tables.lists import (
    list_entries,
    scores,
    screen_clearances,
    screen_entries,
)
from socialcredit.store.tables.operational import (
    api_keys,
    contact_codes,
    decision_counts,
    decisions,
    ingests,
    operator_totp,
    quarantine,
    sessions,
    sign_in_codes,
    sign_in_failures,
)
from socialcredit.store.tables.parties import (
    contact_channels,
    furnisher_aliases,
    furnishers,
    gates,
    identifiers,
    names,
    records,
    subjects,
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
    "furnisher_aliases",
    "furnishers",
    "gates",
    "identifiers",
    "ingests",
    "ledger_head",
    "link_candidates",
    "linkage_models",
    "links",
    "list_entries",
    "merges",
    "metadata",
    "names",
    "notices",
    "operator_totp",
    "quarantine",
    "records",
    "repairs",
    "reviews",
    "scores",
    "screen_clearances",
    "screen_entries",
    "sessions",
    "sign_in_codes",
    "sign_in_failures",
    "subjects",
    "tree_heads",
    "tree_nodes",
]
