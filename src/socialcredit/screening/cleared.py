"""Cleared pairs: an operator rules that screened details are not a listed entry.

A clearance ties the *details as screened* (:func:`query_hash`: kind, names, birth date,
nationality and documents, normalised) to one listed entry *as it read* (its content hash:
names, aliases, birth dates, nationalities, documents, programmes). It is a ruling on that
evidence, so it holds exactly when both are what the operator saw: later screens of the same
details return that entry with ``cleared`` (who, when, why) and ``match: false`` while the
entry reads as it did. When the entry changes (a re-import with another name, date or
document) or the details do (another birth date, one more alias …), the entry is a candidate
again, and the result carries ``earlier_clearance`` (who, when, why, and ``entry_changed``)
for the operator to review the change. An entry that changes and then reads again exactly as
it did when cleared (a list correction undone) is cleared again by the same ruling: it is the
evidence the operator ruled on. One ruling per (details, entry): clearing again, e.g. against
the changed entry, replaces the earlier one, which then no longer covers the old reading.
Each clearance is a ledger event ``screen.cleared`` (``list``, ``key``, ``query_hash``,
``content_hash``, ``by``, ``reason``, ``at``).
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import Any

from sqlalchemy import func, select, update

from socialcredit.errors import InputError, NotFound
from socialcredit.screening.features import country_code
from socialcredit.screening.index import ScreenQuery
from socialcredit.screening.model import ListedParty
from socialcredit.screening.text import normalise_document_number, tokens
from socialcredit.store import Store
from socialcredit.store.ledger import utc_now
from socialcredit.store.tables import screen_clearances, screen_entries

__all__ = ["clear_pair", "clearances_version", "load_clearances", "query_hash"]


def query_hash(query: ScreenQuery) -> str:
    """SHA-256 of the normalised details of ``query``: each name as the matcher reads it, its
    tokens sorted (``Wei Zhao``, ``ZHAO, Wei`` and ``赵伟`` are one name; a name without tokens
    NFKC, case-folded, spaces collapsed), names sorted; documents normalised and sorted;
    nationality as ISO code."""
    names = sorted({" ".join(sorted(t.text for t in tokens(n, query.kind)))
                    or " ".join(unicodedata.normalize("NFKC", n).casefold().split())
                    for n in query.names})
    docs = sorted({normalise_document_number(d) for d in query.documents})
    nationality = (country_code(query.nationality) or query.nationality.casefold()
                   if query.nationality else None)
    body = json.dumps([query.kind, names, query.birth_date, nationality, docs],
                      ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def clear_pair(store: Store, *, query: ScreenQuery, entry_id: str, reason: str,
               by: str) -> dict[str, Any]:
    """Record that the details of ``query`` are not the listed entry ``entry_id``
    (``list:key``, as in a screen's result ``id``). Clearing again replaces the ruling.

    Returns ``{"id", "query_hash", "by", "at", "reason"}``.

    Raises:
        InputError: an empty reason, a query without names or documents, or one holding a
            document number of the entry (a document hit is never cleared: the gate denies
            on it).
        NotFound: no active listed entry ``entry_id``.
    """
    if not reason.strip():
        raise InputError("a clearance needs a reason", details={"field": "reason"})
    if not query.names and not query.documents:
        raise InputError("a clearance needs the screened names or documents",
                         details={"field": "query"})
    list_name, _, key = entry_id.partition(":")
    digest = query_hash(query)
    with store.batch() as b:
        entry = b.conn.execute(select(screen_entries).where(
            screen_entries.c.list == list_name, screen_entries.c.key == key,
            screen_entries.c.status == "active")).first()
        if entry is None:
            raise NotFound(f"no active listed entry {entry_id!r}",
                           details={"id": entry_id})
        listed = {normalise_document_number(d.number)
                  for d in ListedParty.from_json(entry.party).documents}
        if listed & {normalise_document_number(d) for d in query.documents}:
            # the gate denies on a document number alone: a clearance would make the screen
            # and the gate disagree, and the listed party's own number is no namesake
            raise InputError(f"{entry_id!r} holds one of the screened document numbers: a "
                             "document hit cannot be cleared", details={"field": "documents"})
        at = utc_now()
        seq = b.emit("screen.cleared", {"list": list_name, "key": key, "query_hash": digest,
                                        "content_hash": entry.content_hash, "by": by,
                                        "reason": reason, "at": at})
        row = {"content_hash": entry.content_hash, "reason": reason, "by": by, "at": at,
               "seq": seq}
        done = b.conn.execute(update(screen_clearances).where(
            screen_clearances.c.list == list_name, screen_clearances.c.key == key,
            screen_clearances.c.query_hash == digest).values(**row))
        if not done.rowcount:
            b.add(screen_clearances, {"id": b.next_id(screen_clearances), "list": list_name,
                                      "key": key, "query_hash": digest, **row})
    return {"id": entry_id, "query_hash": digest, "by": by, "at": at, "reason": reason}


def clearances_version(store: Store) -> tuple[int, int]:
    """``(highest seq, rows)`` of the clearances: changes with every new ruling."""
    with store.read() as conn:
        row = conn.execute(select(func.max(screen_clearances.c.seq),
                                  func.count(screen_clearances.c.id))).one()
    return int(row[0] or 0), int(row[1])


def load_clearances(store: Store) -> dict[str, dict[tuple[str, str], dict[str, str]]]:
    """query hash → (list, key) → ``{"content_hash", "by", "at", "reason"}``."""
    out: dict[str, dict[tuple[str, str], dict[str, str]]] = {}
    with store.read() as conn:
        for r in conn.execute(select(screen_clearances)):
            out.setdefault(r.query_hash, {})[(r.list, r.key)] = {
                "content_hash": r.content_hash, "by": r.by, "at": r.at, "reason": r.reason}
    return out
