"""Records that arrived before their subject, waiting inside one ingest (issue #12).

A record left to probabilistic linkage (a typo'd ID, a phone and a name) is compared with the
subjects that exist when its chunk is linked. When the person it belongs to first appears
later in the same file, the outcome must not depend on where the chunk boundaries fall: one
transaction per row or the whole file in one must give the same links. So an ingest keeps the
records it left unlinked, in review, or linked by the model (a namesake or twin arriving later
sends such a link back to review, as one chunk holding both would have) in a
:class:`Waiting` index, by the keys on which
:meth:`~socialcredit.identity.probabilistic.ProbabilisticLinker.candidates` finds subjects
(the claimed ID and its one-typo neighbours, the phone, the name with the birth date), and each
later chunk links again, with its own records, those its rows bring evidence for
(:func:`link_with_waiting`): a national ID, a phone, a name and birth date. The evidence keys
are a superset of what a chunk adds to its subjects, so no record that could now find its
subject is missed; linking one again with nothing new writes nothing.

Bounded: an ingest keeps at most :data:`MAX_WAITING` records (about 2 KB each, most of it the
one-typo neighbours of a claimed ID). Records past the bound, and records of earlier ingests
(another file, an earlier API call, an ingest killed and sent again), wait for
``socialcredit link`` (:func:`~socialcredit.identity.relink.relink_unlinked`), as before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from socialcredit.identity.frames import LinkInput, LinkOutcome, _embedded_birth
from socialcredit.identity.names import name_forms
from socialcredit.identity.national_id import one_edit_neighbours
from socialcredit.identity.relink import link_chunk
from socialcredit.policy.model import Policy
from socialcredit.store.ledger import Batch

__all__ = ["MAX_WAITING", "Evidence", "Waiting", "link_with_waiting"]

#: Records one ingest keeps waiting at most (the rest wait for ``socialcredit link``).
MAX_WAITING = 200_000

Key = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Evidence:
    """What one accepted row can give its subject: a checksum-valid national ID, a phone (E.164),
    a name and a birth date (ISO; else the one the ID embeds) — each None when the row has
    none."""

    national_id: str | None
    phone: str | None
    name: str | None
    birth_date: str | None


def _name_key(name: str | None, birth: str | None) -> Key | None:
    full = name_forms(name).full_name if name and birth else None
    return ("name", full, birth) if full and birth else None


def _keys(r: LinkInput) -> set[Key]:
    """The keys on which the linker looks for ``r``'s candidates."""
    keys: set[Key] = set()
    if r.claimed_id:
        keys.update(("id", nid) for nid in (r.claimed_id, *one_edit_neighbours(r.claimed_id)))
    if r.phone:
        keys.add(("phone", r.phone))
    named = _name_key(r.name, r.birth_date or _embedded_birth(r.claimed_id))
    if named:
        keys.add(named)
    return keys


class Waiting:
    """The records one ingest's linkage model decided, by candidate key (module docstring).

    ``status`` maps each record id held to ``"unlinked"``, ``"pending"`` or ``"confirmed"``."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = MAX_WAITING if limit is None else limit  # read when made (bench/nation.py)
        self.status: dict[int, str] = {}
        self._held: dict[int, tuple[LinkInput, set[Key]]] = {}
        self._by_key: dict[Key, set[int]] = defaultdict(set)
        #: birth dates of the name keys held: a row's name is normalised only when one matches
        self._births: dict[str, int] = defaultdict(int)

    def __len__(self) -> int:
        return len(self._held)

    def keep(self, recs: Iterable[LinkInput], outcome: dict[int, str]) -> None:
        """Hold the records of ``recs`` that ``outcome`` (record id → status) says still wait,
        up to the bound."""
        for r in recs:
            status = outcome.get(r.record_id)
            if status is None or r.record_id in self._held:
                continue
            if len(self._held) >= self.limit:
                return
            keys = _keys(r)
            self._held[r.record_id] = (r, keys)
            self.status[r.record_id] = status
            for k in keys:
                self._by_key[k].add(r.record_id)
                if k[0] == "name":
                    self._births[k[2]] += 1

    def take(self, evidence: Iterable[Evidence]) -> list[tuple[LinkInput, str]]:
        """Remove and return (by record id, with their status) the records some of
        ``evidence`` could now link."""
        if not self._held:
            return []
        found: set[int] = set()
        for e in evidence:
            for kind, value in (("id", e.national_id), ("phone", e.phone)):
                if value and (kind, value) in self._by_key:
                    found |= self._by_key[(kind, value)]
            birth = e.birth_date or _embedded_birth(e.national_id)
            if birth in self._births:
                named = _name_key(e.name, birth)
                if named in self._by_key:
                    found |= self._by_key[named]
        out = []
        for rid in sorted(found):
            r, keys = self._held.pop(rid)
            k: Key
            for k in keys:
                holders = self._by_key[k]
                holders.discard(rid)
                if not holders:
                    del self._by_key[k]
                if k[0] == "name":
                    self._births[k[2]] -= 1
                    if not self._births[k[2]]:
                        del self._births[k[2]]
            out.append((r, self.status.pop(rid)))
        return out


def link_with_waiting(batch: Batch, policy: Policy, fresh: Sequence[LinkInput],
                      evidence: Iterable[Evidence], waiting: Waiting,
                      ) -> tuple[LinkOutcome, int, int]:
    """Link a chunk's ``fresh`` records together with the waiting records its ``evidence``
    wakes, inside ``batch``; keep every record the model decided waiting.

    Returns the outcome and the changes of this ingest's counts of unlinked and pending records
    (a woken record was counted by the chunk that first left it waiting)."""
    taken = waiting.take(evidence)
    woken = [r for r, _ in taken]
    before = [status for _, status in taken]
    outcome = link_chunk(batch, policy, [*fresh, *woken])
    waiting.keep([*fresh, *woken], outcome.waiting)
    unlinked = outcome.unlinked - before.count("unlinked")
    pending = outcome.pending - before.count("pending")
    return outcome, unlinked, pending
