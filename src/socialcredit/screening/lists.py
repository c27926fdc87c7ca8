"""Import an external list (OFAC SDN, UN consolidated) for screening, and load it back.

Every entry, of every kind, becomes a row of ``screen_entries`` through a ledger event:
``screen.listed`` (new), ``screen.updated`` (its names, dates or documents changed: content
hash differs), ``screen.delisted`` (no longer in the file: status ``removed``, ``ended_on`` the
import day; a later file that holds it again lists it again). Each payload carries
``list``, ``key``, ``kind``, ``name`` and ``content_hash``; listed and updated ones the
``party`` (as its canonical JSON states it) and all three the import day ``on``, so that
``audit replay`` rebuilds the row from the ledger alone.

When the policy defines an external list of the same name (``ofac_sdn``; ``un_sc`` if added),
the list's persons also become the gate's list entries
(:func:`~socialcredit.screening.gate_lists.import_gate_entries`): a document hit denies, a name
alone gives review.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from socialcredit.errors import InputError
from socialcredit.policy.jurisdiction import local_today
from socialcredit.policy.model import Policy
from socialcredit.screening.delist_guard import check_delisting, would_delist
from socialcredit.screening.gate_lists import import_gate_entries
from socialcredit.screening.model import ListedParty, ListRead
from socialcredit.screening.sdn import SdnFormatError, read_sdn_parties
from socialcredit.screening.un import UnFormatError, read_un
from socialcredit.store import Store
from socialcredit.store.tables import list_entries, screen_entries

__all__ = ["LIST_NAMES", "ListImportResult", "import_list", "lists_version", "load_parties",
           "read_list"]

#: Source format (CLI word) → list name.
LIST_NAMES = {"ofac-sdn": "ofac_sdn", "un": "un_sc"}


@dataclass
class ListImportResult:
    """What an import did. ``counts``: entries read per kind; ``listed`` / ``updated`` /
    ``unchanged`` / ``delisted``: screening entries; ``skipped``: ``{file, line, reason}`` of
    each part of the file left out; ``gate``: the gate's list entries
    (:class:`~socialcredit.screening.gate_lists.ExternalImportResult` as a dict) or None, with
    ``gate_note`` saying why not."""

    list_name: str
    source: str
    counts: dict[str, int]
    listed: int = 0
    updated: int = 0
    unchanged: int = 0
    delisted: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    gate: dict[str, Any] | None = None
    gate_note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def read_list(source: str, path: Path) -> ListRead:
    """Read a list file or folder in format ``source`` (``ofac-sdn`` folder, ``un`` XML file).

    Raises:
        InputError: unknown format, or a file missing, unreadable or in the wrong format
            (``details.file``).
    """
    if source not in LIST_NAMES:
        raise InputError(f"unknown list format {source!r}; supported: "
                         + ", ".join(LIST_NAMES), details={"format": source})
    try:
        return read_sdn_parties(path) if source == "ofac-sdn" else read_un(path)
    except (SdnFormatError, UnFormatError) as e:
        raise InputError(str(e), details={"file": str(e.file), "line": e.line,
                                          "reason": e.reason}) from e


def import_list(store: Store, policy: Policy, source: str, path: Path, *,
                as_of: dt.date | None = None, allow_delist: bool = False) -> ListImportResult:
    """Import the list file ``path`` of format ``source`` (see the module docstring).

    Nothing is written unless the whole import passes: the file is read first, then the
    delistings it would cause are counted in both tables it changes.

    Raises:
        InputError: from :func:`read_list` (a file cut short included); a file that holds no
            entry at all (nothing is delisted on the strength of an empty or foreign file); an
            import that would delist more than
            :data:`~socialcredit.screening.delist_guard.MAX_DELIST_SHARE` of the list's live
            entries or gate entries, unless ``allow_delist``.
    """
    read = read_list(source, path)
    list_name = LIST_NAMES[source]
    if not read.parties:
        raise InputError(f"{path}: no entries read; nothing imported (is this a "
                         f"{source} list?)", details={"file": str(path),
                                                      "skipped": len(read.skipped)})
    spec = policy.lists.get(list_name)
    gated = spec is not None and spec.external
    with store.read() as conn:
        checks = [("entries", would_delist(conn, screen_entries, list_name,
                                           (p.key for p in read.parties)))]
        if gated:
            checks.append(("gate entries", would_delist(
                conn, list_entries, list_name,
                (p.key for p in read.parties if p.kind == "person"))))
    for what, (live, delisted) in checks:
        check_delisting(list_name=list_name, what=what, live=live, delisted=delisted,
                        allow_delist=allow_delist)
    day = (as_of or local_today(policy.jurisdiction)).isoformat()
    result = ListImportResult(list_name, str(path), read.counts, skipped=[
        {"file": p.file, "line": p.line, "reason": p.reason} for p in read.skipped])
    with store.batch(policy.version_hash) as b:
        current = {r.key: r for r in b.conn.execute(
            select(screen_entries).where(screen_entries.c.list == list_name))}
        seen: set[str] = set()
        for party in read.parties:
            seen.add(party.key)
            digest = party.content_hash
            # the party and the day too: `audit replay` rebuilds the row from the event
            body = {"list": list_name, "key": party.key, "kind": party.kind,
                    "name": party.name, "content_hash": digest,
                    "party": json.loads(party.to_json()), "on": day}
            row = current.get(party.key)
            if row is None:
                seq = b.emit("screen.listed", body)
                b.add(screen_entries, {
                    "id": b.next_id(screen_entries), "list": list_name, "key": party.key,
                    "kind": party.kind, "name": party.name[:500], "status": "active",
                    "party": party.to_json(), "content_hash": digest, "since": day,
                    "ended_on": None, "seq": seq})
                result.listed += 1
            elif row.status == "active" and row.content_hash == digest:
                result.unchanged += 1
            else:
                relisted = row.status != "active"
                seq = b.emit("screen.listed" if relisted else "screen.updated", body)
                b.conn.execute(update(screen_entries).where(screen_entries.c.id == row.id).values(
                    kind=party.kind, name=party.name[:500], status="active",
                    party=party.to_json(), content_hash=digest, ended_on=None, seq=seq,
                    **({"since": day} if relisted else {})))
                if relisted:
                    result.listed += 1
                else:
                    result.updated += 1
        for key, row in current.items():
            if key not in seen and row.status == "active":
                seq = b.emit("screen.delisted", {"list": list_name, "key": key,
                                                 "kind": row.kind, "name": row.name,
                                                 "on": day})
                b.conn.execute(update(screen_entries).where(screen_entries.c.id == row.id)
                               .values(status="removed", ended_on=day, seq=seq))
                result.delisted += 1
        b.emit("screen.imported", {"list": list_name, "source": str(path),
                                   "counts": result.counts, "listed": result.listed,
                                   "updated": result.updated, "delisted": result.delisted,
                                   "skipped": len(result.skipped)})
    if gated:
        persons = [p for p in read.parties if p.kind == "person"]
        gate = import_gate_entries(store, policy, persons, list_name=list_name,
                                   source=str(path), as_of=as_of, allow_delist=allow_delist)
        result.gate = gate.as_dict()
    else:
        result.gate_note = (f"the policy has no external list {list_name!r}: screening only, "
                            "no gate entries")
    return result


def lists_version(store: Store) -> tuple[int, int]:
    """``(highest seq, rows)`` of ``screen_entries``: changes with every import that changes
    something (one indexed query, cheap enough to ask every second)."""
    with store.read() as conn:
        row = conn.execute(select(func.max(screen_entries.c.seq),
                                  func.count(screen_entries.c.id))).one()
    return int(row[0] or 0), int(row[1])


def load_parties(store: Store) -> tuple[list[ListedParty], int]:
    """The active listed parties of every list, and the highest ``seq`` among all rows (the
    version of what was loaded: it grows with every import that changes something)."""
    with store.read() as conn:
        rows = conn.execute(select(screen_entries.c.party, screen_entries.c.status,
                                   screen_entries.c.seq)).all()
    version = max((r.seq for r in rows), default=0)
    return [ListedParty.from_json(r.party) for r in rows if r.status == "active"], version
