"""Event handlers of ``audit replay`` for names and screening lists: ``names``,
``screen_entries`` and ``screen_clearances`` (a facet of
:mod:`socialcredit.store.replay_events`).

* ``subject.created`` gives a subject its names: the registry's subject its one name
  (:mod:`socialcredit.identity.link`), a subject of an external list its name and every alias
  (``aliases``, :mod:`socialcredit.screening.gate_lists`). Merges and splits move them
  (:meth:`~socialcredit.store.replay_events.Projections._move`).
* ``screen.listed`` / ``screen.updated`` / ``screen.delisted`` write an entry of a screening
  list as :func:`socialcredit.screening.lists.import_list` does: the listed ``party`` (its
  canonical JSON) and the import day (``on``). Entry ids follow the order entries were first
  listed, as the store's id counter gave them.
* ``screen.cleared`` writes an operator's clearance (:mod:`socialcredit.screening.cleared`):
  its time (``at``) and the content hash of the entry as it then stood.

Older ledgers: a list subject's ``subject.created`` without ``aliases`` gives its names from
the live rows of that subject (:attr:`names_from_live`); ``screen.*`` events without ``party``
or ``on``, and ``screen.cleared`` without ``at``, give those cells from the live row
(:meth:`~socialcredit.store.replay_events.Projections.from_live`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from socialcredit.store.replay_events import Projections

__all__ = ["LIST_HANDLERS", "party_text"]

#: ``screen_entries.party`` as ``ListedParty.to_json`` writes it
party_text = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode


def _state(proj: Projections) -> dict[str, Any]:
    """Replay bookkeeping of this facet: ``(list, key)`` → entry id, clearance keys → id,
    the subjects whose names come from the live rows."""
    st: dict[str, Any] = proj.__dict__.setdefault("_lists", {
        "entries": {}, "clearances": {}, "names_from_live": set()})
    return st


def names_from_live(proj: Projections) -> set[int]:
    """Subjects of an external list created before ``subject.created`` carried ``aliases``:
    their names are taken from the live rows."""
    out: set[int] = _state(proj)["names_from_live"]
    return out


def _created(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
             p: dict[str, Any]) -> None:
    proj._subject(seq, at, sid, pv, p)
    s, names = p["subject_id"], proj.tables["names"]
    if str(p.get("source", "registry")).startswith("list:"):
        if "aliases" not in p:
            names_from_live(proj).add(s)
        for alias in p.get("aliases", ()):
            names[(s, alias)] = {"subject_id": s, "name": alias}
    elif p.get("name") and p.get("kind") != "organisation":
        # an organisation's name is never a linkage name (identity/legal_person.py)
        names[(s, p["name"])] = {"subject_id": s, "name": p["name"]}


def _entry_row(proj: Projections, p: dict[str, Any]) -> tuple[dict[str, Any] | None, int]:
    ids = _state(proj)["entries"]
    eid = ids.get((p["list"], p["key"]))
    if eid is None:
        eid = ids[(p["list"], p["key"])] = len(ids) + 1
        return None, eid
    return proj.tables["screen_entries"].get(eid), eid


def _listed(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
            p: dict[str, Any], *, updated: bool = False) -> None:
    row, eid = _entry_row(proj, p)
    if row is None:
        row = proj.tables["screen_entries"][eid] = {"id": eid, "list": p["list"],
                                                    "key": p["key"]}
        updated = False  # an entry seen first by an update: listed on that day
    row.update(kind=p["kind"], name=p["name"][:500], status="active",
               party=party_text(p["party"]) if "party" in p else None,
               content_hash=p["content_hash"], ended_on=None, seq=seq)
    if not updated:
        row["since"] = p.get("on")
    if "party" not in p:
        proj.from_live("screen_entries", eid, "party")
    if "on" not in p and not updated:
        proj.from_live("screen_entries", eid, "since")


def _updated(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
             p: dict[str, Any]) -> None:
    _listed(proj, seq, at, sid, pv, p, updated=True)


def _delisted(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
              p: dict[str, Any]) -> None:
    row, eid = _entry_row(proj, p)
    if row is None:
        return
    row.update(status="removed", ended_on=p.get("on"), seq=seq)
    if "on" not in p:
        proj.from_live("screen_entries", eid, "ended_on")


def _cleared(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
             p: dict[str, Any]) -> None:
    ids = _state(proj)["clearances"]
    k = (p["list"], p["key"], p["query_hash"])
    cid = ids.get(k)
    if cid is None:
        cid = ids[k] = len(ids) + 1
    eid = _state(proj)["entries"].get((p["list"], p["key"]))
    entry = proj.tables["screen_entries"].get(eid)
    # the entry as it read when cleared: in the event since it carries it, else its state here
    content = p.get("content_hash") or (None if entry is None else entry["content_hash"])
    proj.tables["screen_clearances"][cid] = {
        "id": cid, "list": p["list"], "key": p["key"], "query_hash": p["query_hash"],
        "content_hash": content,
        "reason": p["reason"], "by": p["by"], "at": p.get("at"), "seq": seq}
    if "at" not in p:  # written before screen.cleared carried its time
        proj.from_live("screen_clearances", cid, "at")


LIST_HANDLERS = {
    "subject.created": _created,
    "screen.listed": _listed,
    "screen.updated": _updated,
    "screen.delisted": _delisted,
    "screen.cleared": _cleared,
}
