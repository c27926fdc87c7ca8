"""Event handlers of ``audit replay``: each ledger event applied to in-memory projections.

A :class:`Projections` holds one ``dict`` per replayed table (row id → row, a row being a
``dict`` of column → value, as the live table stores it). :meth:`Projections.apply` takes one
event (its ``seq``, ``at``, ``type``, ``subject_id``, ``policy_version`` and decoded payload) and
changes the rows the way the stage that wrote the event changed the live tables: only from what
the event says, never from the live database.

Events written before a key was added to them fall back where the older payload allows it
(``subject.created`` without ``valid_from`` takes the first record's date, an entry event
without ``public`` takes ``list_public``); what cannot be recovered then shows as a difference.

Longer than 400 lines (407): the furnishers' aliases and the notices (issues #19, #15) joined
the handlers kept here; the subject and identifier handlers are the next facet to move to
:mod:`.replay_identity`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from socialcredit.store.replay_identity import IDENTITY_HANDLERS
from socialcredit.store.replay_links import LINK_HANDLERS
from socialcredit.store.replay_lists import LIST_HANDLERS
from socialcredit.store.replay_notices import NOTICE_EVENT_KINDS, NoticeReplay
from socialcredit.store.replay_people import PEOPLE_HANDLERS
from socialcredit.store.replay_queue import close_open

__all__ = ["Projections"]

#: ``records.payload`` as ingest writes it (``json.dumps(..., sort_keys=True,
#: ensure_ascii=False)``), with one encoder made once instead of one per record
_payload_text = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode

_ENTRY_FIELDS = ("list", "subject_id", "key", "since", "until", "ground", "record_id",
                 "furnisher_id", "platform", "ended_on", "end_reason", "end_record_id")
#: identity columns a retired record loses (retention)
_RETIRED_NULLS = ("national_id", "phone", "name", "claimed_id", "birth_date", "address",
                  "flags")
#: what a retired record's row becomes, but its subject
_RETIRED_ROW = {**dict.fromkeys(_RETIRED_NULLS), "status": "retired", "payload": "{}"}


class Projections:
    """Replayed rows of every table in :data:`~socialcredit.store.replay_tables.SPECS`.

    ``list_public``: list name → whether its entries are public, for entry events written
    before they carried ``public`` (None: such entries replay as not public).
    ``adverse_kinds``: record kinds whose acceptance owes the subject a notice
    (:class:`~socialcredit.store.replay_notices.NoticeReplay`).
    """

    def __init__(self, list_public: Mapping[str, bool] | None = None,
                 adverse_kinds: Collection[str] | None = None) -> None:
        self.list_public = dict(list_public or {})
        #: the notices owed and served (``notices`` is built from it at the end)
        self.notices = NoticeReplay(adverse_kinds)
        self.tables: dict[str, dict[Any, dict[str, Any]]] = {
            "furnishers": {}, "furnisher_aliases": {}, "gates": {}, "subjects": {},
            "identifiers": {}, "records": {},
            "list_entries": {}, "scores": {}, "disputes": {}, "contact_channels": {},
            "reviews": {}, "repairs": {}, "merges": {}, "linkage_models": {}, "links": {},
            "names": {}, "screen_entries": {}, "screen_clearances": {}, "link_candidates": {},
            "notices": {}}
        #: table → row key → columns the events cannot give back (older ledgers): the replay
        #: takes those cells from the live row (:meth:`from_live`)
        self.trusted: dict[str, dict[Any, set[str]]] = {}
        self._ident_id = 0
        self._score_id = 0
        self._ident_by_value: dict[tuple[str, str], list[int]] = {}
        self._pending_nid: dict[int, int] = {}  # subject → identifier lacking valid_from
        self.dispute_targets: dict[int, tuple[int | None, int | None]] = {}
        self._seeded: set[int] = set()
        self._seeded_repairs: list[dict[str, Any]] = []
        #: seq of each dispute or review outcome → its subject (what ended entries by due
        #: process before ``repair.recorded`` existed)
        self.due_process_seqs: dict[int, Any] = {}
        self.unknown_types: set[str] = set()

    # --- dispatch ----------------------------------------------------------------------------
    def apply_page(self, rows: list[tuple[Any, ...]], payloads: list[dict[str, Any]]) -> None:
        """:meth:`apply` every event of a page: ``rows`` of ``(seq, at, type, subject_id,
        policy_version, payload text)`` and their decoded ``payloads`` (the loop of
        :meth:`apply` with its lookups made once per page)."""
        handlers, entry, quiet = _HANDLERS, self._entry, _NO_PROJECTION
        noted, note = _NOTICE_TYPES, self.notices.event
        for (seq, at, type_, sid, pv, _), p in zip(rows, payloads, strict=True):
            if type_ in noted:
                note(seq, at, type_, sid, p)
            handler = handlers.get(type_)
            if handler is None or "_tombstone" in p:
                if "_tombstone" in p:
                    continue  # erased by retention: the record.retired that follows carries it
                if type_.startswith("entry."):
                    entry(seq, type_[6:], pv, p)
                elif type_ not in quiet:
                    self.unknown_types.add(type_)
                continue
            handler(self, seq, at, sid, pv, p)

    def apply(self, seq: int, at: str, type_: str, subject_id: int | None,
              policy_version: str | None, payload: dict[str, Any]) -> None:
        """Apply one event (:meth:`apply_page` of one row)."""
        self.apply_page([(seq, at, type_, subject_id, policy_version, None)], [payload])

    # --- registrations -----------------------------------------------------------------------
    def _furnisher(self, seq: int, at: str, sid: Any, pv: Any, p: dict[str, Any]) -> None:
        self.tables["furnishers"][p["furnisher_id"]] = {
            "id": p["furnisher_id"], "name": p["name"], "kind": p["kind"], "created_at": at}

    def _furnisher_alias(self, seq: int, at: str, sid: Any, pv: Any,
                         p: dict[str, Any]) -> None:
        self.tables["furnisher_aliases"][p["alias_id"]] = {
            "id": p["alias_id"], "furnisher_id": p["furnisher_id"], "alias": p["alias"],
            "key": p["key"], "created_at": at}

    def _gate(self, seq: int, at: str, sid: Any, pv: Any, p: dict[str, Any]) -> None:
        self.tables["gates"][p["gate_id"]] = {
            "id": p["gate_id"], "name": p["name"], "services": p["services"],
            "platform": p.get("platform"), "created_at": at}

    # --- subjects and identifiers ------------------------------------------------------------
    def _subject(self, seq: int, at: str, sid: Any, pv: Any, p: dict[str, Any]) -> None:
        s = p["subject_id"]
        nid = p.get("national_id")
        region = p.get("region_code")
        if "region_code" not in p and nid and nid[:6].isdigit():
            region = nid[:6]
        self.tables["subjects"][s] = {
            "id": s, "national_id": nid, "name": p.get("name"),
            "birth_date": p.get("birth_date"), "sex": p.get("sex"), "region_code": region,
            "source": p.get("source", "registry"), "created_seq": seq, "merged_into": None,
            "kind": p.get("kind", "person"), "organisation_id": p.get("organisation_id")}
        if p.get("organisation_id"):  # an organisation's ID, like a person's, has no event
            self._add_identifier(s, "organisation_id", p["organisation_id"], p["valid_from"])
        if nid:  # the national ID is the subject's first identifier, without an event
            iid = self._add_identifier(s, "national_id", nid, p.get("valid_from"))
            if p.get("valid_from") is None:
                self._pending_nid[s] = iid

    def _add_identifier(self, sid: int, kind: str, value: str, since: str | None,
                        until: str | None = None, shared: str | None = None) -> int:
        self._ident_id += 1
        self.tables["identifiers"][self._ident_id] = {
            "kind": kind, "value": value, "valid_from": since, "subject_id": sid,
            "valid_to": until, "shared_since": shared}
        self._ident_by_value.setdefault((kind, value), []).append(self._ident_id)
        return self._ident_id

    def _identifier_added(self, seq: int, at: str, sid: Any, pv: Any,
                          p: dict[str, Any]) -> None:
        self._add_identifier(p["subject_id"], p["kind"], p["value"], p["valid_from"],
                             p.get("valid_to"), p.get("shared_since"))

    def _holder(self, p: dict[str, Any], valid_from: str | None) -> dict[str, Any] | None:
        rows = self.tables["identifiers"]
        found = None
        for iid in self._ident_by_value.get((p["kind"], p["value"]), ()):
            row = rows[iid]
            if row["subject_id"] == p["subject_id"] and (
                    valid_from is None or row["valid_from"] == valid_from):
                found = row  # the newest interval of this subject
        return found

    def _identifier_ended(self, seq: int, at: str, sid: Any, pv: Any,
                          p: dict[str, Any]) -> None:
        row = self._holder(p, p.get("valid_from"))
        if row is not None:
            row["valid_to"] = p["valid_to"]

    def _identifier_shared(self, seq: int, at: str, sid: Any, pv: Any,
                           p: dict[str, Any]) -> None:
        row = self._holder(p, None)
        if row is not None:
            row["shared_since"] = p["shared_since"]

    # --- records -----------------------------------------------------------------------------
    def _record(self, seq: int, at: str, sid: int | None, pv: Any, p: dict[str, Any]) -> None:
        rows = self.tables["records"]
        rid, corrected = p["record_id"], p.get("corrects_record_id")
        status = "active"
        if corrected is not None and corrected in rows:
            rows[corrected]["superseded_by"] = rid
            close_open(self, corrected)  # a superseded record's review pairs close
            if rows[corrected]["status"] in ("suppressed", "deleted"):
                status = rows[corrected]["status"]
        get = p.get
        flags = get("flags")
        rows[rid] = {
            "id": rid, "furnisher_id": p["furnisher_id"],
            "furnisher_record_id": p["furnisher_record_id"], "kind": p["kind"],
            "occurred_at": p["occurred_at"], "subject_id": sid,
            "national_id": get("national_id"), "phone": get("phone"), "name": get("name"),
            "payload": _payload_text(p["payload"]),
            "content_hash": p["content_hash"], "corrects_id": corrected,
            "superseded_by": None, "seq": seq, "status": status,
            "claimed_id": get("claimed_id"), "address": get("address"),
            "flags": ",".join(flags) if flags else None,
            "organisation_id": get("organisation_id")}
        if sid is not None and sid in self._pending_nid:  # an older subject.created
            iid = self._pending_nid.pop(sid)
            self.tables["identifiers"][iid]["valid_from"] = p["occurred_at"]

    def _record_retired(self, seq: int, at: str, sid: int | None, pv: Any,
                        p: dict[str, Any]) -> None:
        rows = self.tables["records"]
        rid = p["record_id"]
        row = rows.get(rid)
        if row is None:  # its record.accepted was tombstoned: the retired event carries it
            row = rows[rid] = {"id": rid, "payload": "{}", "kind": p.get("kind")}
            for col in ("furnisher_id", "furnisher_record_id", "occurred_at", "content_hash",
                        "corrects_id", "superseded_by"):
                row[col] = p.get(col)
            row["seq"] = p.get("accepted_seq")
        row.update(_RETIRED_ROW)
        row["subject_id"] = sid
        if p.get("superseded_by") is not None:
            row["superseded_by"] = p["superseded_by"]

    def _linked(self, seq: int, at: str, sid: Any, pv: Any, p: dict[str, Any]) -> None:
        row = self.tables["records"].get(p["record_id"])
        if row is not None:
            row["subject_id"] = p["subject_id"]

    def _unlinked(self, seq: int, at: str, sid: Any, pv: Any, p: dict[str, Any]) -> None:
        row = self.tables["records"].get(p["record_id"])
        if row is not None:
            row["subject_id"] = None

    # --- merges ------------------------------------------------------------------------------
    def _merged(self, seq: int, at: str, sid: Any, pv: Any, p: dict[str, Any]) -> None:
        self._move(p, p["absorbed_id"], p["survivor_id"])

    def _absorbed(self, seq: int, at: str, sid: int, pv: Any, p: dict[str, Any]) -> None:
        self.tables["subjects"][sid]["merged_into"] = p["into"]

    def _restored(self, seq: int, at: str, sid: int, pv: Any, p: dict[str, Any]) -> None:
        self.tables["subjects"][sid]["merged_into"] = None

    def _split(self, seq: int, at: str, sid: Any, pv: Any, p: dict[str, Any]) -> None:
        moved = self._merges.get(p["merge_id"])
        if moved is not None:
            self._move(moved, p["survivor_id"], p["absorbed_id"])

    @property
    def _merges(self) -> dict[int, dict[str, Any]]:
        return self.__dict__.setdefault("_merge_moves", {})

    def _move(self, p: dict[str, Any], src: int, dst: int) -> None:
        if "merge_id" in p:
            self._merges[p["merge_id"]] = p
        for table, key in (("records", "records"), ("identifiers", "identifiers"),
                           ("list_entries", "entries")):
            rows = self.tables[table]
            for i in p.get(key, ()):
                row = rows.get(i)
                if row is not None and row["subject_id"] == src:
                    row["subject_id"] = dst
        links = self.tables["links"]
        for i in p.get("records", ()):
            row = links.get(i)
            if row is not None and row["subject_id"] == src:
                row["subject_id"] = dst
        pairs, moved = self.tables["link_candidates"], set(p.get("records", ()))
        for row in pairs.values() if moved else ():
            if row["subject_id"] == src and row["record_id"] in moved:
                row["subject_id"] = dst
        for i in p.get("candidates", ()):
            row = pairs.get(i)
            if row is not None and row["status"] == "open":
                row["subject_id"] = dst
        names = self.tables["names"]
        for name in p.get("names", ()):
            row = names.pop((src, name), None)
            if row is not None:
                names[(dst, name)] = {**row, "subject_id": dst}

    # --- what older ledgers cannot give back ------------------------------------------------
    def from_live(self, table: str, key: Any, *columns: str) -> None:
        """Mark cells of row ``key`` of ``table`` that no event carries (an older ledger): the
        replay copies them from the live row instead of comparing them."""
        self.trusted.setdefault(table, {}).setdefault(key, set()).update(columns)

    def seed_channels(self, rows: list[dict[str, Any]]) -> None:
        """Start ``contact_channels`` from the live rows migration 0006 bootstrapped (``source
        = "migration"``, no event); :meth:`finish` drops each whose subject the replayed
        identifiers do not give that phone."""
        for row in rows:
            self.tables["contact_channels"][row["subject_id"]] = dict(row)
            self._seeded.add(row["subject_id"])
            self.from_live("contact_channels", row["subject_id"], "set_at")

    def seed_repairs(self, rows: list[dict[str, Any]]) -> None:
        """Repairs that ended an entry by due process (``decided_by = "due process"``) as the
        live table holds them: older code wrote them without an event of their own.
        :meth:`finish` keeps each one only if no ``repair.recorded`` made it and its ``seq``
        is a dispute or review outcome about the same subject."""
        self._seeded_repairs = [dict(r) for r in rows]

    def finish(self) -> None:
        """Checks that need the whole ledger: a seeded channel must be one of its subject's
        phones; a seeded due-process repair must sit on an outcome event of its subject."""
        repairs = self.tables["repairs"]
        for row in self._seeded_repairs:
            if row["id"] not in repairs and (
                    self.due_process_seqs.get(row["seq"], object()) == row["subject_id"]):
                repairs[row["id"]] = row
                self.from_live("repairs", row["id"], "entry_id", "condition", "evidence",
                               "opened_at", "decided_on", "note")
        rows, idents = self.tables["contact_channels"], self.tables["identifiers"]
        phones = {(r["subject_id"], r["value"]) for r in idents.values() if r["kind"] == "phone"}
        for s in self._seeded:
            channel = rows.get(s)
            if channel is not None and channel["source"] == "migration" and (
                    (s, channel["phone"]) not in phones):
                del rows[s]
                self.trusted["contact_channels"].pop(s, None)

    # --- a dispute's effect on records -------------------------------------------------------
    def dispute_outcome(self, p: dict[str, Any], status: str, always: bool) -> None:
        record_id, entry_id = self.dispute_targets.get(p["dispute_id"], (None, None))
        if entry_id is not None and not always:
            return  # the entry ends by its own entry event
        rows, seen = self.tables["records"], set()
        while record_id is not None and record_id not in seen and record_id in rows:
            seen.add(record_id)
            row = rows[record_id]
            if row["status"] != "retired":
                row["status"] = status
            record_id = row["superseded_by"]

    # --- entries and scores ------------------------------------------------------------------
    def _entry(self, seq: int, kind: str, pv: str | None, p: dict[str, Any]) -> None:
        rows = self.tables["list_entries"]
        eid = p["entry_id"]
        row = rows.get(eid)
        if "status" in p:  # written by policy evaluation: the whole entry
            if row is None:  # ``public`` is set once, when the entry is made
                row = rows[eid] = {"id": eid, "public": p.get(
                    "public", self.list_public.get(p["list"], False))}
            row.update({k: p.get(k) for k in _ENTRY_FIELDS})
            row["status"] = p["status"]
            lifted = p.get("lifted")
            row["lifted"] = json.dumps([list(x) for x in lifted]) if lifted else None
            row.update(policy_version=pv, seq=seq)
            return
        # an external list (import): listed, relisted or delisted
        if row is None:
            rows[eid] = {
                "id": eid, "list": p["list"], "subject_id": p["subject_id"], "key": p["key"],
                "status": "active", "ground": None, "since": p["since"], "until": None,
                "record_id": None, "furnisher_id": None, "platform": None,
                "public": p.get("public", self.list_public.get(p["list"], False)),
                "ended_on": None, "end_reason": None, "end_record_id": None,
                "policy_version": pv, "seq": seq, "lifted": None}
        elif kind == "listed":
            row.update(status="active", ended_on=None, end_reason=None, seq=seq)
        else:
            row.update(status="removed", ended_on=p.get("ended_on"), end_reason=p.get("reason"),
                       seq=seq)

    def _score(self, seq: int, at: str, sid: int, pv: Any, p: dict[str, Any]) -> None:
        self._score_id += 1
        self.tables["scores"][self._score_id] = {
            "id": self._score_id, "subject_id": sid, "score": p["score"], "value": p["value"],
            "grade": p["grade"], "reasons": json.dumps(list(p["reasons"])),
            "as_of": p["as_of"], "policy_version": pv, "seq": seq}


_HANDLERS = {
    "furnisher.registered": Projections._furnisher,
    "furnisher.alias_added": Projections._furnisher_alias,
    "gate.registered": Projections._gate,
    "subject.created": Projections._subject,
    "identifier.added": Projections._identifier_added,
    "identifier.ended": Projections._identifier_ended,
    "identifier.shared": Projections._identifier_shared,
    "record.accepted": Projections._record,
    "record.retired": Projections._record_retired,
    "record.linked": Projections._linked,
    "record.unlinked": Projections._unlinked,
    "subject.merged": Projections._merged,
    "subject.absorbed": Projections._absorbed,
    "subject.split": Projections._split,
    "subject.restored": Projections._restored,
    "score.changed": Projections._score,
    **PEOPLE_HANDLERS,
    **IDENTITY_HANDLERS,  # subject.merged and subject.split also write ``merges``
    **LINK_HANDLERS,  # record.linked, record.unlinked and record.retired also write ``links``
    **LIST_HANDLERS,  # subject.created also writes ``names``
}

#: Events that owe or serve a notice (:mod:`socialcredit.store.replay_notices`).
_NOTICE_TYPES = frozenset({*NOTICE_EVENT_KINDS, "notice.served"})

#: Events that change none of the replayed tables but ``notices``, or none at all.
_NO_PROJECTION = frozenset({
    "ingest.completed", "file.read", "access.refused", "access.revoked", "notice.served",
    "subject.signed_in", "sign_in.code_issued", "list.imported",
    "tree.head_signed", "ledger.restored", "screen.imported",
    # a report's later date of first delinquency not taken: its record.accepted holds the kept
    # date, this event the reported one (policy/obligations.py)
    "record.first_delinquency_kept",
    # a transferred report of an obligation nothing held: its record.accepted is the record
    "record.transfer_unmatched"})
