"""External lists in the gate: the persons of another authority's list as registry list entries.

Each listed person becomes a subject of source ``list:<list>`` with its document numbers
(identifiers ``passport`` / ``document``, normalised by
:func:`~socialcredit.screening.text.normalise_document_number`) and its names and aliases
(matching keys, used only for ``review``). Re-importing a newer copy is idempotent: unchanged
individuals change nothing, new ones are listed, and individuals no longer on the list are
removed with reason ``delisted``. Organisations, vessels and aircraft are never gate subjects:
they live in the screening index only (:mod:`socialcredit.screening.lists`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from socialcredit.errors import ConfigError, InputError
from socialcredit.identity.link import name_key
from socialcredit.policy.jurisdiction import local_today
from socialcredit.policy.model import Policy
from socialcredit.screening.delist_guard import check_delisting, would_delist
from socialcredit.screening.model import ListedParty
from socialcredit.screening.sdn import SdnFormatError, read_sdn_parties
from socialcredit.screening.text import normalise_document_number
from socialcredit.store import Store
from socialcredit.store.tables import identifiers, list_entries, names, subjects

__all__ = ["DOCUMENT_KINDS", "MIN_DOCUMENT_CHARS", "ExternalImportResult", "import_gate_entries",
           "import_ofac_sdn"]

#: Only these documents identify a traveller at a gate; tax numbers, birth certificates,
#: driving licences and the like are kept out of the index.
DOCUMENT_KINDS = frozenset({"passport", "national_id"})
#: A shorter number (e.g. "365") would match far too many unrelated documents.
MIN_DOCUMENT_CHARS = 5


@dataclass
class ExternalImportResult:
    list_name: str
    listed: int = 0
    unchanged: int = 0
    delisted: int = 0
    documents: int = 0
    document_conflicts: int = 0
    documents_too_short: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def import_ofac_sdn(store: Store, policy: Policy, directory: Path, *,
                    list_name: str = "ofac_sdn", as_of: dt.date | None = None,
                    allow_delist: bool = False) -> ExternalImportResult:
    """Import the individuals of an OFAC SDN legacy-CSV folder into ``list_name``.

    Raises:
        ConfigError: the policy has no external list ``list_name``.
        InputError: the folder or a required file is missing, or a file is cut short (from
            the reader); a mass delisting (:func:`import_gate_entries`).
    """
    external_spec(policy, list_name)
    try:
        read = read_sdn_parties(directory)
    except SdnFormatError as e:
        raise InputError(str(e), details={"file": str(e.file), "line": e.line,
                                          "reason": e.reason}) from e
    problems = [{"file": p.file, "line": p.line, "reason": p.reason} for p in read.skipped]
    return import_gate_entries(store, policy, [p for p in read.parties if p.kind == "person"],
                               list_name=list_name, source=str(directory), problems=problems,
                               as_of=as_of, allow_delist=allow_delist)


def external_spec(policy: Policy, list_name: str) -> Any:
    """The policy's external list ``list_name``.

    Raises:
        ConfigError: the policy has no external list of that name.
    """
    spec = policy.lists.get(list_name)
    if spec is None or not spec.external:
        raise ConfigError(f"the policy has no external list {list_name!r}; add one with "
                          "`external: true` under `lists:`")
    return spec


def import_gate_entries(store: Store, policy: Policy, persons: list[ListedParty], *,
                        list_name: str, source: str,
                        problems: list[dict[str, Any]] | None = None,
                        as_of: dt.date | None = None,
                        allow_delist: bool = False) -> ExternalImportResult:
    """Make ``persons`` (listed parties of kind person) the active entries of the policy's
    external list ``list_name``; those of its active entries not among them are delisted.

    Raises:
        ConfigError: the policy has no external list ``list_name``.
        InputError: the import would delist more than
            :data:`~socialcredit.screening.delist_guard.MAX_DELIST_SHARE` of the list's live
            entries, unless ``allow_delist`` (nothing is written).
    """
    spec = external_spec(policy, list_name)
    day = (as_of or local_today(policy.jurisdiction)).isoformat()
    result = ExternalImportResult(list_name, problems=list(problems or []))
    with store.batch(policy.version_hash) as b:
        live, delisted = would_delist(b.conn, list_entries, list_name, (p.key for p in persons))
        check_delisting(list_name=list_name, what="gate entries", live=live,
                        delisted=delisted, allow_delist=allow_delist)
        current = {r.key: r for r in b.conn.execute(
            select(list_entries).where(list_entries.c.list == list_name))}
        # one document number, one holder: a passport and another person's ID card with the
        # same number would be the same gate key
        held: set[str] = {
            r.value for r in b.conn.execute(
                select(identifiers.c.kind, identifiers.c.value).where(
                    identifiers.c.kind.in_(["passport", "document"])))}
        seen: set[str] = set()
        for person in persons:
            key = person.key
            seen.add(key)
            row = current.get(key)
            if row is not None and row.status == "active":
                result.unchanged += 1
                continue
            if row is not None:  # relisted after a delisting
                seq = b.emit("entry.listed", {"entry_id": row.id, "list": list_name,
                                              "key": key}, subject_id=row.subject_id)
                b.conn.execute(update(list_entries).where(list_entries.c.id == row.id).values(
                    status="active", ended_on=None, end_reason=None, seq=seq))
                result.listed += 1
                continue
            sid = b.next_id(subjects)
            aliases = sorted({person.name, *person.aliases})
            seq = b.emit("subject.created", {"subject_id": sid, "name": person.name,
                                             "source": f"list:{list_name}", "key": key,
                                             "aliases": aliases}, subject_id=sid)
            b.add(subjects, {"id": sid, "national_id": None, "name": person.name,
                             "birth_date": None, "sex": None, "region_code": None,
                             "source": f"list:{list_name}", "created_seq": seq,
                             "kind": "person", "organisation_id": None})
            for alias in aliases:
                b.add(names, {"subject_id": sid, "name": alias, "name_key": name_key(alias)})
            for doc in person.documents:
                if doc.kind not in DOCUMENT_KINDS:
                    continue
                kind = "passport" if doc.kind == "passport" else "document"
                value = normalise_document_number(doc.number)
                if len(value) < MIN_DOCUMENT_CHARS:
                    result.documents_too_short += 1
                    continue
                if value in held:
                    result.document_conflicts += 1
                    continue
                held.add(value)
                b.emit("identifier.added", {"subject_id": sid, "kind": kind, "value": value,
                                            "country": doc.country, "valid_from": day},
                       subject_id=sid)
                b.add(identifiers, {"id": b.next_id(identifiers), "subject_id": sid,
                                    "kind": kind, "value": value, "valid_from": day,
                                    "valid_to": None})
                result.documents += 1
            entry_id = b.next_id(list_entries)
            body = {"entry_id": entry_id, "list": list_name, "subject_id": sid, "key": key,
                    "since": day, "programs": list(person.programs), "public": spec.public}
            seq = b.emit("entry.listed", body, subject_id=sid)
            b.add(list_entries, {"id": entry_id, "list": list_name, "subject_id": sid,
                                 "key": key, "status": "active", "ground": None, "since": day,
                                 "until": None, "record_id": None, "furnisher_id": None,
                                 "platform": None, "public": spec.public, "ended_on": None,
                                 "end_reason": None, "end_record_id": None,
                                 "policy_version": policy.version_hash, "seq": seq})
            result.listed += 1
        for key, row in current.items():
            if key not in seen and row.status == "active":
                seq = b.emit("entry.removed", {"entry_id": row.id, "list": list_name,
                                               "key": key, "reason": "delisted",
                                               "ended_on": day},
                             subject_id=row.subject_id)
                b.conn.execute(update(list_entries).where(list_entries.c.id == row.id).values(
                    status="removed", ended_on=day, end_reason="delisted", seq=seq))
                result.delisted += 1
        b.emit("list.imported", {"list": list_name, "source": source,
                                 "listed": result.listed, "delisted": result.delisted,
                                 "unchanged": result.unchanged})
    return result
