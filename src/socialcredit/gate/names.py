"""The gate's name check, scored by the screening service itself (issue 14).

A person who shows no listed identifier but gives a name, or an organisation that gives its
name with its code, is screened by :meth:`socialcredit.screening.service.ScreenService.candidates`:
the same index, candidates, scorer and per-list thresholds (``review_threshold`` of the policy;
default :data:`~socialcredit.screening.index.DEFAULT_THRESHOLD`) as ``/v1/screen``, so the gate
and the screen never answer one name differently. A candidate at or above its list's threshold
gives ``review`` (a name never gives ``deny``: DESIGN §3.2) unless an operator cleared these
details against that entry as it reads now (:mod:`socialcredit.screening.cleared`). A person is
compared only with persons, an organisation only with organisations.

A listed person found is mapped to its gate subject by the list entry's ``(list, key)``. Gate
subjects of an external list imported without screening entries
(:func:`socialcredit.ingest.external.import_ofac_sdn`) have no party in the screening index:
their names (the ``names`` table) are scored by a :class:`ScreenIndex` of their own, rebuilt
when the index's external names changed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from socialcredit.policy.model import Policy
from socialcredit.screening.index import Candidate, ScreenIndex, ScreenQuery
from socialcredit.screening.model import ListedParty
from socialcredit.screening.service import ScreenService
from socialcredit.store import Store
from socialcredit.store.tables import list_entries, names

__all__ = ["NameScreen", "ScreenedName"]

_CHUNK = 900


@dataclass(frozen=True)
class ScreenedName:
    """What the screen says of one name: ``persons`` ``(subject id, score)`` at or above the
    list's threshold; ``cleared`` the subjects an operator cleared for this name (an exact
    name hit on them is no review either); ``organisations`` the listed organisations
    matched and not cleared."""

    persons: tuple[tuple[int, float], ...] = ()
    cleared: frozenset[int] = frozenset()
    organisations: tuple[Candidate, ...] = ()


class NameScreen:
    """Screens a name for the gate. Thread-safe."""

    def __init__(self, store: Store, policy: Policy,
                 screening: ScreenService | None = None) -> None:
        self.store = store
        self.policy = policy
        self.screening = screening or ScreenService(store, policy)
        self._lock = threading.Lock()
        self._built_for: object = None
        self._sid_of: dict[tuple[str, str], int] = {}
        self._own: ScreenIndex | None = None

    def _refresh(self, subject_names: dict[int, tuple[str, ...]], version: object,
                 screen: ScreenIndex) -> None:
        with self._lock:
            if self._built_for == (version, id(screen)):
                return
            with self.store.read() as conn:
                sid_of = {(r.list, r.key): r.subject_id for r in conn.execute(
                    select(list_entries.c.list, list_entries.c.key, list_entries.c.subject_id)
                    .where(list_entries.c.status == "active"))}
            covered = {sid_of[(p.list, p.key)] for p in screen.parties
                       if (p.list, p.key) in sid_of}
            self._sid_of = sid_of
            self._own = self._build_own([s for s in subject_names if s not in covered])
            self._built_for = (version, id(screen))

    def _build_own(self, sids: list[int]) -> ScreenIndex | None:
        if not sids:
            return None
        sids.sort()
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

    def organisation(self, name: str) -> ScreenedName:
        """The listed organisations ``name`` matches (not cleared), best first."""
        found = self.screening.candidates(ScreenQuery(kind="organisation", names=(name,)))
        return ScreenedName(organisations=tuple(
            c for c, ruling in found
            if c.match and not (ruling and ruling["content_hash"] == c.party.content_hash)))

    def person(self, name: str, subject_names: dict[int, tuple[str, ...]],
               version: object) -> ScreenedName:
        """The gate subjects ``name`` matches; ``version`` names the state of
        ``subject_names`` (the external-list subjects of the gate index)."""
        screen = self.screening.index()
        if subject_names:
            self._refresh(subject_names, version, screen)
        persons: list[tuple[int, float]] = []
        cleared: set[int] = set()
        for c, ruling in self.screening.candidates(ScreenQuery(kind="person", names=(name,))):
            sid = self._sid_of.get((c.party.list, c.party.key))
            if sid is None:
                continue
            if ruling and ruling["content_hash"] == c.party.content_hash:
                cleared.add(sid)
            elif c.match:
                persons.append((sid, c.score))
        own = self._own
        if own is not None and subject_names:
            found = own.screen(ScreenQuery(kind="person", names=(name,)), limit=5,
                               min_score=0.0)
            persons.extend((int(c.party.key), c.score) for c in found)
        return ScreenedName(tuple(persons), frozenset(cleared))

    def organisation_reasons(self, name: str, service: str) -> list[dict[str, Any]]:
        """A decision's reasons for the listed organisations ``name`` matches, on the lists
        sanctioned for ``service`` (not platform-scoped): list, ``entry_id`` (``list:key``, as
        a screen's result ``id``), legal basis, how to contest, and ``screened`` (listed name,
        name matched, score, programmes)."""
        out: list[dict[str, Any]] = []
        for c in self.organisation(name).organisations:
            spec = self.policy.lists.get(c.party.list)
            basis = [s for s in self.policy.sanctions_for(c.party.list)
                     if service in s.services and s.scope != "platform"]
            if spec is None or not basis:
                continue
            out.append({
                "severity": max(s.severity for s in basis), "shared_under": None,
                "list": c.party.list, "entry_id": f"{c.party.list}:{c.party.key}",
                "ground": None, "ground_text": None, "legal_basis": basis[0].legal_basis,
                "list_legal_basis": spec.legal_basis, "since": None, "until": None,
                "furnisher": spec.source,
                "how_to_contest": spec.how_to_contest or self.policy.how_to_contest,
                "screened": {"name": c.party.name, "score": c.score,
                             "matched_name": c.explanation.get("name", {}).get("matched_name"),
                             "programs": list(c.party.programs)}})
        return out
