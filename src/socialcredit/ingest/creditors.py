"""Furnisher aliases: the other names by which a report names a furnisher as its creditor.

A collector's or debt buyer's report names the original creditor (the obligation spec's
``creditor_field``, Metro 2's K1 original creditor or K2 "purchased from" name) as the seller
writes it: often its legal name ("Industrial and Commercial Bank of China Limited"), not the
registry's furnisher name (``bank-icbc``). One obligation is then keyed under two creditors and
counted twice. An operator registers a furnisher's legal name and other names
(:func:`add_alias`, ledger event ``furnisher.alias_added`` ``{alias_id, furnisher_id, alias,
key}``; ``socialcredit furnishers alias NAME ALIAS``); at ingest, a creditor named by a
furnisher's name or alias is kept as the furnisher's name (:class:`CreditorNames`), so every
engine keys the obligation alike.

Names are matched by :func:`socialcredit.identity.organisation.organisation_name`'s key: NFKC,
traditional characters to simplified, case-folded, without spaces and punctuation, and without
a legal form at the end (``Co., Ltd.``, ``Limited``, ``Inc.``, ``有限公司`` …), the form the
registry uses for organisation names. A key names at most one furnisher.

An alias applies to reports that arrive after it is registered; reports held before keep the
creditor as they named it (register aliases with the furnisher, before its accounts are sold).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from socialcredit.errors import Conflict, InputError, NotFound
from socialcredit.identity.organisation import organisation_name
from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.tables import furnisher_aliases, furnishers

__all__ = ["CreditorNames", "add_alias", "alias_key", "list_aliases"]


def alias_key(name: str) -> str:
    """The matching key of a furnisher's name or alias (module docstring); ``""`` for a name
    with no letter or digit."""
    return organisation_name(name).key


def _keys(conn: Connection) -> dict[str, tuple[int, str]]:
    """key → (furnisher id, furnisher name), for every furnisher's name and alias."""
    out: dict[str, tuple[int, str]] = {}
    names = dict(conn.execute(select(furnishers.c.id, furnishers.c.name)).all())
    for fid, name in names.items():
        out.setdefault(alias_key(name), (int(fid), str(name)))
    for fid, key in conn.execute(select(furnisher_aliases.c.furnisher_id,
                                        furnisher_aliases.c.key)):
        out[key] = (int(fid), str(names[fid]))
    return out


def add_alias(store: Store, *, furnisher: str, alias: str) -> dict[str, Any]:
    """Register ``alias`` as another name of the furnisher named ``furnisher``; returns
    ``{alias_id, furnisher, alias, key}``. Registering an alias the furnisher already has
    changes nothing (the same answer, no new event).

    Raises:
        NotFound: no furnisher of that name.
        InputError: the alias is blank, longer than 200 characters, or has no letter or digit.
        Conflict: the alias's key already names another furnisher (by its name or an alias).
    """
    alias = " ".join(alias.split())
    if not alias or len(alias) > 200:
        raise InputError("an alias is 1 to 200 characters (a furnisher's legal or other name)")
    key = alias_key(alias)
    if not key:
        raise InputError(f"alias {alias!r} has no letter or digit to match on")
    with store.batch() as b:
        fid = b.conn.execute(select(furnishers.c.id).where(
            furnishers.c.name == furnisher)).scalar()
        if fid is None:
            raise NotFound(f"no furnisher named {furnisher!r}")
        held = _keys(b.conn).get(key)
        if held is not None and held[0] != fid:
            raise Conflict(f"alias {alias!r} already names furnisher {held[1]!r} (matched as "
                           f"{key!r}, case, spaces, punctuation and legal form aside)")
        same = b.conn.execute(select(furnisher_aliases.c.id).where(
            furnisher_aliases.c.key == key)).scalar()
        if same is not None or held is not None:
            return {"alias_id": same, "furnisher": furnisher, "alias": alias, "key": key}
        aid = b.next_id(furnisher_aliases)
        b.add(furnisher_aliases, {"id": aid, "furnisher_id": fid, "alias": alias, "key": key,
                                  "created_at": b.at})
        b.emit("furnisher.alias_added", {"alias_id": aid, "furnisher_id": int(fid),
                                         "alias": alias, "key": key})
    return {"alias_id": aid, "furnisher": furnisher, "alias": alias, "key": key}


def list_aliases(store: Store) -> list[dict[str, Any]]:
    """``[{furnisher, alias, key, created_at}]``, by furnisher name then alias."""
    with store.read() as conn:
        rows = conn.execute(select(furnishers.c.name, furnisher_aliases.c.alias,
                                   furnisher_aliases.c.key, furnisher_aliases.c.created_at)
                            .join(furnishers, furnishers.c.id == furnisher_aliases.c.furnisher_id)
                            .order_by(furnishers.c.name, furnisher_aliases.c.alias)).all()
    return [{"furnisher": r.name, "alias": r.alias, "key": r.key, "created_at": r.created_at}
            for r in rows]


class CreditorNames:
    """The creditor a report names, as the furnisher's registry name (module docstring); the
    names and aliases are read once, on first need (one query per ingest chunk)."""

    def __init__(self, conn: Connection, policy: Policy) -> None:
        self.conn, self.policy = conn, policy
        self._keys: dict[str, tuple[int, str]] | None = None

    def payload(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """``payload`` with its creditor field (of the kind's obligation spec) replaced by the
        name of the furnisher it names by name or alias; unchanged when it names none."""
        spec = self.policy.catalogue.get(kind)
        field = spec.obligation.creditor_field if spec and spec.obligation else None
        named = payload.get(field) if field is not None else None
        if named is None:
            return payload
        if self._keys is None:
            self._keys = _keys(self.conn)
        held = self._keys.get(alias_key(str(named)))
        if held is None or str(named).lower().replace(" ", "") == held[1].lower():
            return payload  # named by none, or by its name (compared so: obligations._text)
        return {**payload, field: held[1]}  # type: ignore[dict-item]
