"""An in-memory screening index over listed parties, and the screen itself.

One index per kind (person, organisation, vessel, aircraft): a person is only ever compared with
persons, an organisation with organisations (entities), so a person's name never matches a
company. Candidate names are found through trigrams of the phonetic keys of name tokens (each
token padded, and the tokens joined without spaces so that ``JSCARGUMENT`` finds
``JSC ARGUMENT``); trigrams held by more than :data:`STOP_SHARE` of a kind's names are not
used. The :data:`CANDIDATES` names sharing most trigrams are scored, and with them the names
of short words one letter from the query's (:func:`_near_keys`: ``Lu Yi`` finds ``LI, Yi``,
whose trigrams it barely shares), with
:func:`~socialcredit.screening.match.score_names`, then birth date, nationality and documents
adjust the score (:mod:`socialcredit.screening.features`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from socialcredit.screening.features import (
    birth_feature,
    document_feature,
    nationality_feature,
)
from socialcredit.screening.match import NameMatch, score_names
from socialcredit.screening.model import KINDS, ListedParty
from socialcredit.screening.text import (
    Kind,
    Token,
    consonants,
    normalise_document_number,
    tokens,
)

__all__ = ["ABJAD_FACTOR", "CANDIDATES", "DEFAULT_THRESHOLD", "LONE_WEAK_ALIAS_CAP", "STOP_SHARE",
           "WEAK_ALIAS_FACTOR", "Candidate", "ScreenIndex", "ScreenQuery"]

#: Default score from which a candidate is a match (``match: true``; a gate's review). Chosen
#: on ``name-pairs/dev.csv`` (bench/screening.py): F1 is flat between 0.65 and 0.75.
DEFAULT_THRESHOLD = 0.7
#: Names scored in full per query name.
CANDIDATES = 16
#: Names scored per query name read from an abjad, as a multiple of :data:`CANDIDATES`.
ABJAD_FACTOR = 4
#: A trigram held by more than this share of a kind's names is not used to find candidates.
STOP_SHARE = 0.05
#: A hit on a weak alias counts this much of its name score.
WEAK_ALIAS_FACTOR = 0.9
#: Highest name score of a one-word weak alias against a query of several words.
LONE_WEAK_ALIAS_CAP = 0.6
_BLOCKING = frozenset({"name", "number", "generic", "place"})
#: Words of a short name's one-edit keys: particles too (``Xu Bin``: ``bin`` is one).
_NEAR_WORDS = _BLOCKING | {"particle"}


@dataclass(frozen=True)
class ScreenQuery:
    """What is screened: ``kind`` (person or organisation; vessel, aircraft), ``names`` (any
    script), optional ``birth_date`` (``YYYY-MM-DD`` or ``YYYY``, checked by the faces),
    ``nationality`` (country name or ISO code), ``documents`` (numbers: passport, ID card,
    national ID; compared after normalisation)."""

    kind: Kind
    names: tuple[str, ...] = ()
    birth_date: str | None = None
    nationality: str | None = None
    documents: tuple[str, ...] = ()


@dataclass
class Candidate:
    """A listed party found by a screen: ``score`` 0..1, ``match`` (score ≥ threshold) and
    ``features``/``explanation`` per feature (name, birth_date, nationality, document)."""

    party: ListedParty
    score: float
    match: bool
    features: dict[str, float]
    explanation: dict[str, Any] = field(default_factory=dict)


def _strong(toks: tuple[Token, ...]) -> int:
    return sum(t.category in ("name", "number") and t.weight >= 1 for t in toks)


def _trigrams(words: list[str], keys: set[str], mark: str = "") -> None:
    for w in words:
        padded = f"^{w}$"
        keys.update(mark + padded[i:i + 3] for i in range(len(padded) - 2))
    joined = "".join(words)
    keys.update(mark + joined[i:i + 3] for i in range(len(joined) - 2))


def _keys(toks: tuple[Token, ...], *, indexed: bool = False) -> set[str]:
    """Trigrams of the phonetic keys; and (``#``-marked) of the consonant skeletons, held by
    every indexed name and used by a query read from an abjad (Arabic, Hebrew), whose
    transliteration has few vowels to share trigrams with."""
    blocking = [t for t in toks if t.category in _BLOCKING and t.phon]
    keys: set[str] = set()
    _trigrams([t.phon for t in blocking], keys)
    if indexed or any(t.abjad for t in blocking):
        _trigrams([k for t in blocking if (k := consonants(t.text))], keys, "#")
    return keys


#: Tokens of at most this many letters are short: a name made of them gets one-edit keys.
SHORT_TOKEN = 4
#: Most blocking tokens of a name that gets one-edit keys (``LI, Yi``; ``Xu Bin``).
SHORT_NAME_TOKENS = 3


def _near_keys(toks: tuple[Token, ...]) -> set[str]:
    """One-edit keys of a name of short tokens (``=``-marked): its words' phonetic keys
    (particles included), sorted, with one short word in turn replaced by each of its
    one-letter deletions (and the words as they are). Two names one letter apart in one
    short word share a key (``lu yi`` and ``li yi``: ``l yi``) where their few trigrams
    often do not: ``^lu$`` and ``^li$`` differ, and ``^yi$`` alone is too common to find
    them (symmetric deletion, as in Wolf Garbe's SymSpell)."""
    words = [t.phon for t in toks if t.category in _NEAR_WORDS and t.phon]
    if not 2 <= len(words) <= SHORT_NAME_TOKENS or not any(
            len(w) <= SHORT_TOKEN for w in words) or not _strong(toks):
        return set()
    keys = {"=" + " ".join(sorted(words))}
    for k, w in enumerate(words):
        if len(w) > SHORT_TOKEN:
            continue
        for d in {w[:i] + w[i + 1:] for i in range(len(w))}:
            keys.add("=" + " ".join(sorted([*words[:k], d, *words[k + 1:]])))
    return keys


class _KindIndex:
    def __init__(self) -> None:
        self.names: list[tuple[int, tuple[Token, ...], bool, str]] = []  # party, toks, weak, raw
        self.postings: dict[str, np.ndarray] = {}
        # one-edit keys of short names (_near_keys): tuples, far smaller than tiny arrays
        self.near: dict[str, tuple[int, ...]] = {}

    def add(self, party_id: int, name: str, kind: Kind, weak: bool) -> None:
        toks = tokens(name, kind)
        if toks:
            self.names.append((party_id, toks, weak, name))

    def freeze(self) -> None:
        lists: dict[str, list[int]] = defaultdict(list)
        for i, (_, toks, _, _) in enumerate(self.names):
            for key in _keys(toks, indexed=True):
                lists[key].append(i)
        limit = max(50, int(STOP_SHARE * len(self.names)))
        self.postings = {k: np.asarray(v, dtype=np.int32) for k, v in lists.items()
                         if len(v) <= limit}
        near: dict[str, list[int]] = defaultdict(list)
        for i, (_, toks, _, _) in enumerate(self.names):
            for key in _near_keys(toks):
                near[key].append(i)
        self.near = {k: tuple(v) for k, v in near.items() if len(v) <= limit}

    def candidates(self, toks: tuple[Token, ...]) -> np.ndarray:
        top = self._by_trigrams(toks)
        near = [p for k in _near_keys(toks) if (p := self.near.get(k)) is not None]
        if near:  # a short name one letter from a listed one is always scored
            found = sorted({i for p in near for i in p})[:CANDIDATES]
            top = np.union1d(top, np.asarray(found, dtype=np.int32))
        return top

    def _by_trigrams(self, toks: tuple[Token, ...]) -> np.ndarray:
        found = [p for k in _keys(toks) if (p := self.postings.get(k)) is not None]
        if not found:
            return np.empty(0, dtype=np.int32)
        counts = np.bincount(np.concatenate(found), minlength=len(self.names))
        # names sharing less than half the best one's trigrams are not scored
        top = np.flatnonzero(counts >= max(1, counts.max() // 2))
        # consonant skeletons are shared by many names (hasan, hussein, hassan: hsn)
        limit = CANDIDATES * (ABJAD_FACTOR if any(t.abjad for t in toks) else 1)
        if len(top) > limit:
            top = top[np.argpartition(counts[top], -limit)[-limit:]]
        return top


class ScreenIndex:
    """Listed parties indexed for screening. Build with :meth:`build`; immutable afterwards
    (a re-import builds a new one)."""

    def __init__(self, parties: Iterable[ListedParty]) -> None:
        self.parties: list[ListedParty] = list(parties)
        self.by_kind: dict[str, _KindIndex] = {k: _KindIndex() for k in KINDS}
        self.documents: dict[str, list[int]] = defaultdict(list)
        for pid, party in enumerate(self.parties):
            index = self.by_kind[party.kind]
            for name in dict.fromkeys((party.name, *party.aliases)):
                index.add(pid, name, party.kind, False)
            for name in party.weak_aliases:
                index.add(pid, name, party.kind, True)
            for doc in party.documents:
                number = normalise_document_number(doc.number)
                if len(number) >= 5:
                    self.documents[number].append(pid)
        for index in self.by_kind.values():
            index.freeze()

    @classmethod
    def build(cls, parties: Iterable[ListedParty]) -> ScreenIndex:
        return cls(parties)

    def __len__(self) -> int:
        return len(self.parties)

    def counts(self) -> dict[str, int]:
        """Listed parties per kind and names indexed (``names``)."""
        out = {k: 0 for k in KINDS}
        for p in self.parties:
            out[p.kind] += 1
        return out | {"names": sum(len(i.names) for i in self.by_kind.values())}

    def screen(self, query: ScreenQuery, *, threshold: float = DEFAULT_THRESHOLD,
               limit: int = 10, min_score: float = 0.5,
               thresholds: dict[str, float] | None = None) -> list[Candidate]:
        """Ranked candidates of ``query`` (best first, at most ``limit``, score ≥
        ``min_score`` or a document hit). ``thresholds`` per list override ``threshold``.
        A query without names and documents finds nothing. Never raises on any query."""
        index = self.by_kind[query.kind]
        best: dict[int, tuple[NameMatch, str, bool]] = {}
        for name in query.names:
            qt = tokens(name, query.kind)
            if not qt:
                continue
            for i in index.candidates(qt):
                pid, toks, weak, raw = index.names[int(i)]
                m = score_names(qt, toks)
                if weak and _strong(toks) == 1 and _strong(qt) > 1:
                    # a one-word weak alias ("VLADIMIR") says nothing of "Vladimir Putin"
                    m = NameMatch(min(m.score, LONE_WEAK_ALIAS_CAP), m.pairs, m.unmatched_query,
                                  m.unmatched_candidate)
                eff = m.score * (WEAK_ALIAS_FACTOR if weak else 1.0)
                old = best.get(pid)
                if old is None or eff > old[0].score * (WEAK_ALIAS_FACTOR if old[2] else 1.0):
                    best[pid] = (m, raw, weak)
        numbers = [normalise_document_number(d) for d in query.documents if d.strip()]
        doc_hits = {pid for n in numbers for pid in self.documents.get(n, ())
                    if self.parties[pid].kind == query.kind}
        out: list[Candidate] = []
        for pid in set(best) | doc_hits:
            cand = self._candidate(pid, query, best.get(pid), numbers, threshold, thresholds)
            if cand.score >= min_score or "document" in cand.explanation:
                out.append(cand)
        out.sort(key=lambda c: (-c.score, c.party.list, c.party.key))
        return out[:limit]

    def _candidate(self, pid: int, query: ScreenQuery, named: tuple[NameMatch, str, bool] | None,
                   numbers: list[str], threshold: float,
                   thresholds: dict[str, float] | None) -> Candidate:
        party = self.parties[pid]
        features: dict[str, float] = {}
        explanation: dict[str, Any] = {}
        score = 0.0
        if named is not None:
            m, raw, weak = named
            score = m.score * (WEAK_ALIAS_FACTOR if weak else 1.0)
            features["name"] = round(score, 4)
            explanation["name"] = {
                "matched_name": raw, "weak_alias": weak, "score": m.score,
                "tokens": [{"query": p.query, "candidate": p.candidate, "how": p.how,
                            "similarity": p.similarity} for p in m.pairs],
                "unmatched_query": list(m.unmatched_query),
                "unmatched_candidate": list(m.unmatched_candidate)}
        if named is not None:
            adj, why = birth_feature(query.birth_date, party)
            features["birth_date"] = adj
            explanation["birth_date"] = why
            adj2, why2 = nationality_feature(query.nationality, party)
            features["nationality"] = adj2
            explanation["nationality"] = why2
            score = score + adj + adj2 if score > 0 else 0.0
        doc = document_feature(numbers, party) if numbers else None
        if doc is not None:
            features["document"] = 1.0
            explanation["document"] = doc | {"hit": True}
            score = 1.0
        score = round(min(max(score, 0.0), 1.0), 4)
        limit = (thresholds or {}).get(party.list, threshold)
        return Candidate(party, score, score >= limit, features, explanation)
