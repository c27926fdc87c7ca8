"""The gate's name-only check, scored by the screening matcher (issue 14).

A person who shows no listed identifier but gives a name is compared with the names of the
subjects on external lists (the gate index's ``subject_names``) by
:class:`socialcredit.screening.index.ScreenIndex`: misspellings, another script, initials,
concatenation and word order are forgiven, and a score at or above the list's
``review_threshold`` (policy; default
:data:`~socialcredit.screening.index.DEFAULT_THRESHOLD`) gives ``review``. A name never gives
``deny`` (DESIGN §3.2). The matcher is rebuilt, from the ``names`` table, when the index's
external names changed (an import or delisting); with no external subject it costs nothing.
"""

from __future__ import annotations

import threading
from functools import lru_cache

from sqlalchemy import select

from socialcredit.screening.index import ScreenIndex, ScreenQuery
from socialcredit.screening.model import ListedParty
from socialcredit.store import Store
from socialcredit.store.tables import names

__all__ = ["NameScreen"]

_CHUNK = 900


class NameScreen:
    """Scores a name against the external-list subjects of a gate index. Thread-safe."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._built_for: object = None
        self._index: ScreenIndex | None = None
        self._memo = lru_cache(maxsize=4096)(self._score)

    def _rebuild(self, subject_names: dict[int, tuple[str, ...]]) -> ScreenIndex:
        sids = sorted(subject_names)
        raw: dict[int, list[str]] = {sid: [] for sid in sids}
        with self.store.read() as conn:
            for i in range(0, len(sids), _CHUNK):
                for r in conn.execute(select(names.c.subject_id, names.c.name).where(
                        names.c.subject_id.in_(sids[i:i + _CHUNK]))):
                    raw[r.subject_id].append(r.name)
        return ScreenIndex(
            ListedParty(list="gate", key=str(sid), kind="person", name=ns[0],
                        aliases=tuple(ns[1:]))
            for sid, ns in raw.items() if ns)

    def _current(self, subject_names: dict[int, tuple[str, ...]],
                 version: object) -> ScreenIndex | None:
        if not subject_names:
            return None
        with self._lock:
            if self._built_for != version or self._index is None:
                self._index = self._rebuild(dict(subject_names))
                self._built_for = version
                self._memo.cache_clear()
            return self._index

    def _score(self, name: str, version: object) -> tuple[tuple[int, float], ...]:
        index = self._index
        if index is None:
            return ()
        found = index.screen(ScreenQuery(kind="person", names=(name,)), limit=5,
                             min_score=0.0)
        return tuple((int(c.party.key), c.score) for c in found)

    def matches(self, name: str, subject_names: dict[int, tuple[str, ...]],
                version: object) -> tuple[tuple[int, float], ...]:
        """``(subject id, score)`` of the external-list subjects whose names match ``name``
        best (at most 5, best first); ``version`` names the state of ``subject_names``."""
        if self._current(subject_names, version) is None:
            return ()
        return self._memo(name, version)
