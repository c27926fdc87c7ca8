"""The gate index: identifier → active restrictions, in memory, following the ledger.

Built from the projections (active list entries and the identifiers of their subjects), then
kept current by :meth:`GateIndex.refresh`, which reads ledger events after the last applied
``seq`` and reloads only the subjects they touch — no full rebuild per change.

Keys are ``"<kind>:<value>"`` with kind ``national_id`` (canonical form), ``phone`` (E.164,
current holder only) or ``document`` (passport or other document number, upper-case, no spaces
or hyphens). Names (``name_key``) are indexed only for subjects on external lists, and a name
alone never denies (DESIGN §3.2).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, func, or_, select

from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.tables import events, furnishers, identifiers, list_entries, names

__all__ = ["GateIndex", "Restriction"]

_TRACKED = ("entry.", "identifier.", "subject.")


@dataclass(frozen=True, slots=True)
class Restriction:
    """One active list entry as a gate sees it; ``services`` maps each sanctioned service to
    the legal basis of its sanction."""

    entry_id: int
    subject_id: int
    list: str
    services: tuple[tuple[str, str], ...]
    platform: str | None
    scoped_to_platform: bool
    ground: int | None
    since: str
    until: str | None
    furnisher: str | None


class GateIndex:
    """See the module docstring. Thread-safe for one writer (refresh) and many readers."""

    def __init__(self, store: Store, policy: Policy) -> None:
        self.store, self.policy = store, policy
        self.keys: dict[str, int] = {}
        self.restrictions: dict[int, tuple[Restriction, ...]] = {}
        self.subject_keys: dict[int, tuple[str, ...]] = {}
        self.names: dict[str, set[int]] = defaultdict(set)
        self.subject_names: dict[int, tuple[str, ...]] = {}
        self.last_seq = 0
        self._lock = threading.Lock()
        self._furnishers: dict[int, str] = {}
        self._sanctions = {
            name: tuple((svc, s.legal_basis) for s in policy.sanctions_for(name)
                        for svc in s.services)
            for name in policy.lists
        }
        self._scoped = {name: any(s.scope == "platform" for s in policy.sanctions_for(name))
                        for name in policy.lists}

    def build(self) -> None:
        """Load every subject with an active entry."""
        with self.store.read() as conn:
            head = conn.execute(select(func.coalesce(func.max(events.c.seq), 0))).scalar_one()
            ids = conn.execute(select(list_entries.c.subject_id).where(
                list_entries.c.status == "active").distinct()).scalars().all()
            self._load(conn, ids)
        self.last_seq = int(head)

    def refresh(self) -> int:
        """Apply ledger events after ``last_seq``; return how many subjects were reloaded."""
        with self.store.read() as conn:
            rows = conn.execute(
                select(events.c.seq, events.c.subject_id).where(
                    events.c.seq > self.last_seq,
                    or_(*(events.c.type.startswith(p) for p in _TRACKED)))
                .order_by(events.c.seq)
            ).all()
            head = conn.execute(select(func.coalesce(func.max(events.c.seq), 0))).scalar_one()
            touched = {r.subject_id for r in rows if r.subject_id is not None}
            if touched:
                self._load(conn, sorted(touched))
        self.last_seq = max(int(head), self.last_seq)
        return len(touched)

    def _load(self, conn: Connection, subject_ids: Iterable[int]) -> None:
        self._furnishers = dict(conn.execute(
            select(furnishers.c.id, furnishers.c.name)).all())
        ids = list(subject_ids)
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            found: dict[int, list[Restriction]] = defaultdict(list)
            for e in conn.execute(select(list_entries).where(
                    list_entries.c.subject_id.in_(part), list_entries.c.status == "active")):
                if e.list not in self._sanctions:
                    continue
                found[e.subject_id].append(Restriction(
                    e.id, e.subject_id, e.list, self._sanctions[e.list], e.platform,
                    self._scoped[e.list], e.ground, e.since, e.until,
                    self._furnishers.get(e.furnisher_id) if e.furnisher_id else None))
            keys: dict[int, list[str]] = defaultdict(list)
            for r in conn.execute(select(identifiers.c.subject_id, identifiers.c.kind,
                                         identifiers.c.value).where(
                    identifiers.c.subject_id.in_(list(found)),
                    identifiers.c.valid_to.is_(None))):
                kind = "document" if r.kind in ("passport", "document") else r.kind
                keys[r.subject_id].append(f"{kind}:{r.value}")
            external = [sid for sid, rs in found.items()
                        if any(self.policy.lists[x.list].external for x in rs)]
            subject_names: dict[int, list[str]] = defaultdict(list)
            for n in conn.execute(select(names.c.subject_id, names.c.name_key).where(
                    names.c.subject_id.in_(external))):
                subject_names[n.subject_id].append(n.name_key)
            with self._lock:
                for sid in part:
                    self._drop(sid)
                    if sid not in found:
                        continue
                    self.restrictions[sid] = tuple(found[sid])
                    self.subject_keys[sid] = tuple(keys[sid])
                    for k in keys[sid]:
                        self.keys[k] = sid
                    self.subject_names[sid] = tuple(subject_names[sid])
                    for nk in subject_names[sid]:
                        self.names[nk].add(sid)

    def _drop(self, sid: int) -> None:
        for k in self.subject_keys.pop(sid, ()):
            if self.keys.get(k) == sid:
                del self.keys[k]
        for nk in self.subject_names.pop(sid, ()):
            self.names[nk].discard(sid)
        self.restrictions.pop(sid, None)

    def lookup(self, key: str) -> tuple[Restriction, ...]:
        sid = self.keys.get(key)
        return self.restrictions.get(sid, ()) if sid is not None else ()

    def lookup_name(self, name_key: str) -> tuple[Restriction, ...]:
        out: list[Restriction] = []
        for sid in self.names.get(name_key, ()):
            out.extend(self.restrictions.get(sid, ()))
        return tuple(out)

    @property
    def size(self) -> int:
        return len(self.keys)
