"""What ``audit replay`` compares: each projection table rebuilt from the ledger, by which key
and which columns, and every table that is deliberately not rebuilt, with the reason.

A :class:`TableSpec` names the table, the columns that identify a row (the ``key``, in the
order rows are walked) and the columns compared. A column left out of ``columns`` is one the
ledger does not carry yet; :data:`NOT_COMPARED` says why, so the output can show it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FROM_LIVE", "NOT_COMPARED", "NOT_PROJECTIONS", "NOT_YET_REPLAYED", "SPECS", "TableSpec"]


@dataclass(frozen=True)
class TableSpec:
    """One replayed table: ``key`` columns (unique, the walk order) and ``columns`` compared
    (the key included)."""

    name: str
    key: tuple[str, ...]
    columns: tuple[str, ...]


SPECS: tuple[TableSpec, ...] = (
    TableSpec("furnishers", ("id",), ("id", "name", "kind", "created_at")),
    TableSpec("furnisher_aliases", ("id",), ("id", "furnisher_id", "alias", "key",
                                             "created_at")),
    TableSpec("gates", ("id",), ("id", "name", "services", "platform", "created_at")),
    TableSpec("subjects", ("id",), ("id", "national_id", "name", "birth_date", "sex",
                                    "region_code", "source", "created_seq", "merged_into",
                                    "kind", "organisation_id")),
    # identifiers get their ids from a counter the ledger does not carry: compared by their
    # natural key (one holder per number and start day)
    TableSpec("identifiers", ("kind", "value", "valid_from"),
              ("kind", "value", "valid_from", "subject_id", "valid_to", "shared_since")),
    TableSpec("records", ("id",), (
        "id", "furnisher_id", "furnisher_record_id", "kind", "occurred_at", "subject_id",
        "national_id", "phone", "name", "payload", "content_hash", "corrects_id",
        "superseded_by", "seq", "status", "claimed_id", "address", "flags",
        "organisation_id")),
    TableSpec("list_entries", ("id",), (
        "id", "list", "subject_id", "key", "status", "ground", "since", "until", "record_id",
        "furnisher_id", "platform", "public", "ended_on", "end_reason", "end_record_id",
        "policy_version", "seq", "lifted")),
    TableSpec("scores", ("id",), ("id", "subject_id", "score", "value", "grade", "reasons",
                                  "as_of", "policy_version", "seq")),
    TableSpec("disputes", ("id",), (
        "id", "subject_id", "record_id", "entry_id", "furnisher_id", "reason", "opened_at",
        "due_on", "status", "answered_at", "answer_note", "appeal_reason", "decided_by",
        "seq")),
    TableSpec("reviews", ("id",), (
        "id", "subject_id", "decision_id", "reason", "opened_at", "status", "decided_at",
        "decided_by", "note", "seq")),
    TableSpec("repairs", ("id",), (
        "id", "subject_id", "entry_id", "condition", "evidence", "opened_at", "status",
        "decided_at", "decided_on", "decided_by", "note", "seq")),
    TableSpec("merges", ("id",), (
        "id", "survivor_id", "absorbed_id", "status", "reason", "merged_by", "merged_seq",
        "moved", "split_by", "split_reason", "split_seq")),
    TableSpec("linkage_models", ("version",), ("version", "trained_at", "seq", "model")),
    TableSpec("contact_channels", ("subject_id",), (
        "subject_id", "phone", "source", "set_seq", "set_at", "flagged_reason", "flagged_at")),
    TableSpec("links", ("record_id",), (
        "record_id", "subject_id", "rule", "status", "match_weight", "match_probability",
        "explanation", "model_version", "decided_by", "seq")),
    # names have no id: compared by subject and name (one row each)
    TableSpec("names", ("subject_id", "name"), ("subject_id", "name")),
    TableSpec("screen_entries", ("id",), (
        "id", "list", "key", "kind", "name", "status", "party", "content_hash", "since",
        "ended_on", "seq")),
    TableSpec("link_candidates", ("id",), (
        "id", "record_id", "subject_id", "match_weight", "match_probability", "explanation",
        "model_version", "status", "created_seq", "decided_at", "decided_by", "note")),
    TableSpec("screen_clearances", ("id",), (
        "id", "list", "key", "query_hash", "content_hash", "reason", "by", "at", "seq")),
    # the outbox by its natural key, so a finding names the notice's kind
    # (store/replay_notices.py says which rows are owed, served, or taken from live)
    TableSpec("notices", ("kind", "ref"), ("kind", "ref", "subject_id", "event_seq",
                                           "created_at", "served_at", "channel")),
)

#: Columns of replayed tables that are not compared, and why.
NOT_COMPARED: dict[str, str] = {
    "records.birth_date": "a record with a valid national ID keeps the birth date the ID "
                          "embeds, which record.accepted does not repeat",
    "notices.id, due_at, attempts, last_error, body": "a counter; the promise made from the "
        "policy's notice_within_hours when the row was made; delivery state and wording",
    "names.name_key, names.full_name": "derived from the compared name by the identity "
                                       "stage's normalisation (and full_name backfilled for "
                                       "registries older than migration 0004)",
}

#: Tables that are not projections of the ledger at all: operational state.
NOT_PROJECTIONS: dict[str, str] = {
    "events": "the ledger itself (checked by `audit verify`)",
    "ledger_head": "the ledger's head and write lock (checked by `audit verify`)",
    "api_keys": "operational: key hashes are secrets and never enter the ledger",
    "sign_in_codes": "operational: one-time code hashes, never in the ledger",
    "sessions": "operational: subject session tokens, never in the ledger",
    "quarantine": "operational: rejected rows are never ledger events (bad input is not a "
                  "fact about anyone)",
    "decisions": "operational: gate decisions are answers to reads, logged but not events",
    "decision_counts": "operational: counters of gate decisions",
    "cursors": "operational: where each ledger follower has got to",
    "tree_nodes": "derived from the events' hashes (checked by `audit verify-proof`)",
    "tree_heads": "signed by the registry key; checked by signature and consistency proofs",
    "operator_totp": "operational: operators' second-factor secrets, never in the ledger",
    "contact_codes": "operational: one-time code hashes for a new phone, never in the ledger",
    "sign_in_failures": "operational: wrong sign-in codes per keyed ID/phone digest, shared by "
                        "the server processes, never in the ledger",
    "ingests": "operational: one row per ingest attempt (a killed attempt keeps zero counts "
               "and its re-run gets its own row; an identical re-send writes no event); what "
               "a completed ingest accepted is its ingest.completed event, each record its "
               "record.accepted",
}

#: Cells an older ledger cannot give back, taken from the live row instead of compared.
FROM_LIVE: dict[str, str] = {
    "disputes.reason, opened_at, answered_at, appeal_reason; reviews.reason, opened_at, "
    "decided_at; repairs.evidence, opened_at, decided_at, decided_on":
        "dispute.*, review.* and repair.* events written before they carried the text and "
        "times",
    "merges.moved; linkage_models.model":
        "subject.merged written before it carried the moved review pairs; "
        "linkage.model_trained written before it carried the model",
    "repairs (decided_by = due process)":
        "an entry ended by an upheld dispute or an overturned review: older code wrote the "
        "row without an event; kept only where its seq is an outcome event of its subject",
    "contact_channels (source = migration)":
        "channels bootstrapped by migration 0006 carry no event: kept only where the replayed "
        "identifiers give the subject that phone; their set_at is taken from the live row",
    "links.explanation, decided_by, match_weight, match_probability":
        "record.linked of the phone rule or the model written before it carried the "
        "explanation and decided_by (the row then held unrounded weights)",
    "names (subjects of an external list)":
        "subject.created of a list's subject written before it carried the aliases: the "
        "names still on that subject are taken from the live rows",
    "link_candidates (created up to the last event of such code)":
        "code that wrote record.linked without the explanation, or a shared phone's without "
        "the pairs it queued, also rejected and queued pairs without events: the pairs made "
        "up to its last event are taken from the live rows whole",
    "notices (refusals, sign-in codes, locked sign-ins; erased or non-adverse records)":
        "made without an event of their own, or for an event whose payload retention erased "
        "or whose record kind the policy no longer calls adverse: taken from the live rows, "
        "their served_at still from notice.served (but a sign-in code's and a merged "
        "refusal's, which no event records)",
    "screen_entries.party, since, ended_on; screen_clearances.at":
        "screen.* events written before they carried the party and the import day, and "
        "screen.cleared before it carried its time",
}

#: Projections the replay does not rebuild yet, and why (their events lack what they need).
NOT_YET_REPLAYED: dict[str, str] = {
}
