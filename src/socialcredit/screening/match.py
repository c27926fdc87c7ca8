"""Name scoring: align the tokens of two names and score the alignment from 0 to 1.

Token similarity (:func:`token_similarity`), best first:

============  =====  ==========================================================
how           value  when
============  =====  ==========================================================
exact         1.0    same text (after transliteration and spelling equivalents)
phonetic      0.9    same :func:`~socialcredit.screening.text.phonetic` key
initial       0.75   one side is one letter, the other starts with it
fuzzy         0..1   ``1 - 1.25·d/L`` (optimal-string-alignment distance ``d``, i.e.
                     Levenshtein plus transpositions, on the text or the phonetic key
                     (+0.5), ``L`` the longer length), kept at 0.55 or more
prefix        0.6    a token of 3+ letters starting a token of 5+ (``Ben``/``Benjamin``)
one_letter    0.5    tokens of at most 3 letters one edit apart (``Li``/``Lu``): a
                     partial hit, never a total miss nor a full match
============  =====  ==========================================================

A place word (category ``place``) agrees with another token only exactly, phonetically or by
its consonants (another script): never by ``fuzzy``, ``prefix`` or ``one_letter`` (``Tehran``
is not ``BEHRAN``, ``Cuba`` not ``CUBANACAN``).

Legal forms agree only with the same class, numbers only when equal. Single tokens are paired
first, greedily, best similarity first, each token used once, in any word order; then two to
four adjacent tokens of one side left unexplained (or explained below 0.9) are tried joined
against one token of the other (``JSCARGUMENT`` = ``JSC``+``ARGUMENT``, ``Jinping`` =
``jin``+``ping``, ``KIMJONGUN`` = ``Kim``+``Jong``+``Un``): how ``merged``.

Score. ``W`` is the weight of a side's tokens (:mod:`socialcredit.screening.text`), ``U`` the
weight of its tokens left unpaired; what an initial does not say of the whole name it stands
for, and what a one-letter difference in a short token loses, count as unpaired too (so
``Vladimir Putin`` against ``KONONOV, Vladimir P.`` is a disagreement, ``I. S. Petrov`` against
``PETROV, Ivan Sergeyevich`` a less detailed name). ``partial`` is what other imperfect pairs
leave unexplained, averaged over both sides. With ``conflict = min(Uq, Uc)`` (both names hold
something the other does not: they disagree) and ``extra = max(Uq, Uc) - conflict`` (one name
is only longer, e.g. a middle name left out)::

    score = 1 - CONFLICT_PENALTY·conflict/mean(Wq, Wc) - partial/mean(Wq, Wc)
              - EXTRA_PENALTY·extra/max(Wq, Wc)

less :data:`LEGAL_FORM_MISMATCH` when both names carry legal forms of no common class (an AG
is not a GmbH), floored at 0. When no name or number token is paired, legal forms alone give 0
and generic words or particles at most :data:`WEAK_ONLY_CAP`: they never match on their own.
A name of one name token against a name of several scores at most :data:`LONE_TOKEN_CAP`.
The constants were chosen on ``name-pairs/dev.csv`` (half of nomenklatura's name_bench; the
other half is kept aside to check that they generalise): see ``bench/screening.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import OSA

from socialcredit.screening.text import Token, consonants, phonetic

__all__ = ["CONFLICT_PENALTY", "EXTRA_PENALTY", "LEGAL_FORM_MISMATCH", "LONE_TOKEN_CAP",
           "PLACE_MISMATCH", "WEAK_ONLY_CAP",
           "NameMatch", "TokenPair", "score_names", "token_similarity"]

#: Weight of what both names leave unexplained (a token on each side that does not agree).
CONFLICT_PENALTY = 2.0
#: Weight of the tokens only one name has (a middle name the other leaves out).
EXTRA_PENALTY = 0.35
#: Taken off when both names carry legal forms and no class agrees (AG against GmbH).
LEGAL_FORM_MISMATCH = 0.1
#: Taken off when each name holds a place the other does not (Sweden against Finland): a
#: company's branch in another country is another legal person, listed apart.
PLACE_MISMATCH = 0.2
#: Highest score of two names that agree only on legal forms, generic words or particles.
WEAK_ONLY_CAP = 0.3
#: Highest score when one name has a single name, number or particle token and the other
#: several (legal forms and generic words aside), unless the one token is the others joined
#: (``AlisherUsmanov``): one word ("Kim", "Airlines", "Tehran") is a partial hit on a longer
#: name, never a match. Costs 0.006 of F1 on name-pairs/dev.csv (a one-word company name
#: against its longer form), and removes the Watchman#483 complaint (a common word matching
#: every listed name that holds it).
LONE_TOKEN_CAP = 0.6
_MIN_FUZZY = 0.55
_STRONG = frozenset({"name", "number"})
_COUNTED = frozenset({"name", "number", "particle", "place", "generic"})
_FORMS = frozenset({"legal_form"})


@dataclass(frozen=True, slots=True)
class TokenPair:
    """One aligned pair: ``query`` and ``candidate`` texts (a merged side is joined with ``+``),
    ``how`` (exact, phonetic, initial, fuzzy, one_letter, merged, legal_form) and
    ``similarity`` (0..1)."""

    query: str
    candidate: str
    how: str
    similarity: float


@dataclass(frozen=True, slots=True)
class NameMatch:
    """Score (0..1) of one name against another, the aligned ``pairs`` and the tokens of each
    side left over (``unmatched_query``, ``unmatched_candidate``)."""

    score: float
    pairs: tuple[TokenPair, ...]
    unmatched_query: tuple[str, ...]
    unmatched_candidate: tuple[str, ...]


@lru_cache(maxsize=1 << 14)
def _strings(a: str, b: str, pa: str, pb: str) -> tuple[float, str]:
    if a == b:
        return 1.0, "exact"
    if pa == pb:
        return 0.9, "phonetic"
    longest = max(len(a), len(b))
    if longest <= 3:
        near = OSA.distance(a, b) <= 1 or OSA.distance(pa, pb) <= 1
        return (0.5, "one_letter") if near and min(len(a), len(b)) >= 2 else (0.0, "")
    # each distance against its own strings' length: phonetic keys collapse repeated letters,
    # so a key's distance over the raw length would let "xxxxxxxx" (key "x") pass for "lee"
    sim = 1.0 - 1.25 * min(OSA.distance(a, b) / longest,
                           (OSA.distance(pa, pb) + 0.5) / max(len(pa), len(pb), 1))
    if sim >= _MIN_FUZZY:
        return round(sim, 3), "fuzzy"
    shorter, longer = sorted((a, b), key=len)
    if len(shorter) >= 3 and len(longer) >= 5 and longer.startswith(shorter):
        return 0.6, "prefix"
    return 0.0, ""


def token_similarity(q: Token, c: Token) -> tuple[float, str]:
    """Similarity (0..1) and how, for two tokens (table in the module docstring)."""
    if q.category == "legal_form" or c.category == "legal_form":
        same = q.category == c.category and q.text == c.text
        return (1.0, "legal_form") if same else (0.0, "")
    if q.category == "number" or c.category == "number":
        return (1.0, "exact") if q.text == c.text else (0.0, "")
    if len(q.text) == 1 or len(c.text) == 1:
        if q.text == c.text:
            return 1.0, "exact"
        short, long_ = (q, c) if len(q.text) == 1 else (c, q)
        return (0.75, "initial") if long_.text.startswith(short.text) else (0.0, "")
    sim, how = _strings(q.text, c.text, q.phon, c.phon)
    if q.abjad != c.abjad and sim < _ABJAD_SIM:
        sim, how = _abjad(q.text, c.text) or (sim, how)
    if how in _NEAR and (q.category == "place" or c.category == "place"):
        return 0.0, ""  # Tehran is not Behran, Cuba not Cubanacan, Iran not Iraq
    return sim, how


#: Ways two different words agree that say nothing when one of them is a place: a place's
#: name is spelt one way, and a name one letter from it, or starting with it, is another word.
_NEAR = frozenset({"fuzzy", "prefix", "one_letter"})


#: Similarity of a Latin token and an Arabic- or Hebrew-script one with the same consonants.
_ABJAD_SIM = 0.85


def _abjad(a: str, b: str) -> tuple[float, str] | None:
    """Two tokens, one read from an abjad, compared by their consonants (hassan/hsn): the same
    skeleton of 2+ letters (of one, for a token of at most 3 letters: ali/ly), or of 4+ letters
    one edit apart (a vowel written as a consonant)."""
    ka, kb = consonants(a), consonants(b)
    if ka == kb and (len(ka) >= 2 or ka and min(len(a), len(b)) <= 3):  # Ali/ly: short names
        return _ABJAD_SIM, "consonants"
    if min(len(ka), len(kb)) >= 4 and OSA.distance(ka, kb) <= 1:
        return 0.75, "consonants"
    return None


#: Most tokens joined into one (``ABUBAKRALBAGHDADI`` = ``Abu Bakr Al Baghdadi``).
MAX_JOINED = 4


@lru_cache(maxsize=1 << 15)
def _merged(toks: tuple[Token, ...]) -> tuple[tuple[tuple[int, ...], str], ...]:
    """Runs of 2 to :data:`MAX_JOINED` adjacent word tokens joined, as written and, for names,
    with the first or the last word moved to the other end (``JonSmith`` for ``SMITH, Jon``,
    ``KimJongUn`` for ``JONG UN, Kim``): (indices, text). Legal forms join as written
    (``JSC`` + ``ARGUMENT``)."""
    out: list[tuple[tuple[int, ...], str]] = []
    texts = [t.raw if t.category == "legal_form" else t.text for t in toks]
    for i in range(len(toks) - 1):
        for j in range(i + 2, min(i + MAX_JOINED, len(toks)) + 1):
            run = toks[i:j]
            if any(t.category == "number" for t in run):
                break
            if not any(t.weight for t in run):
                continue
            words = texts[i:j]
            orders = [words]
            if all(t.category == "name" for t in run):  # family name first or last
                orders += [words[1:] + words[:1], words[-1:] + words[:-1]]
            for joined in dict.fromkeys("".join(w) for w in orders):
                out.append((tuple(range(i, j)), joined))
    return tuple(out)


Option = tuple[float, float, tuple[int, ...], tuple[int, ...], str]


def _choose(options: list[Option], used_q: set[int], used_c: set[int],
            pairs: list[tuple[float, tuple[int, ...], tuple[int, ...], str]]) -> None:
    """Greedy one-to-one choice, best similarity (then heaviest) first."""
    options.sort(key=lambda o: (o[0], o[1]), reverse=True)
    for sim, _, qi, ci, how in options:
        if used_q.intersection(qi) or used_c.intersection(ci):
            continue
        used_q.update(qi)
        used_c.update(ci)
        pairs.append((sim, qi, ci, how))


def _merged_options(query: tuple[Token, ...], candidate: tuple[Token, ...], open_q: set[int],
                    open_c: set[int]) -> list[Option]:
    """Two to :data:`MAX_JOINED` adjacent tokens of one side, joined, against one token of the
    other."""
    return [*_joined_against(query, candidate, open_q, open_c, swapped=False),
            *_joined_against(candidate, query, open_c, open_q, swapped=True)]


def _joined_against(runs_of: tuple[Token, ...], one_of: tuple[Token, ...], open_runs: set[int],
                    open_one: set[int], *, swapped: bool) -> list[Option]:
    """Options of the runs of ``runs_of`` joined against single tokens of ``one_of`` (options
    are ``(query indices, candidate indices)`` ordered: ``swapped`` when ``runs_of`` is the
    candidate)."""
    options: list[Option] = []
    for idx, text in _merged(runs_of):
        if not set(idx) <= open_runs:
            continue
        for j in open_one:
            c = one_of[j]
            if c.category not in _STRONG or len(c.text) < 4:
                continue
            abjad = runs_of[idx[0]].abjad != c.abjad
            # 0.8 similar (fuzzy) needs lengths within 16 %: 20 % leaves room for the keys
            if not abjad and abs(len(text) - len(c.text)) > 0.2 * max(len(text), len(c.text)):
                continue
            sim, _ = _strings(text, c.text, phonetic(text), c.phon)
            if abjad:
                sim = max(sim, (_abjad(text, c.text) or (0.0, ""))[0])
            if sim >= 0.8:
                weight = sum(runs_of[k].weight for k in idx) + c.weight
                options.append((sim, weight, (j,), idx, "merged") if swapped
                               else (sim, weight, idx, (j,), "merged"))
    return options


@lru_cache(maxsize=1 << 15)
def _places(toks: tuple[Token, ...]) -> tuple[int, ...]:
    return tuple(k for k, t in enumerate(toks) if t.category == "place")


def score_names(query: tuple[Token, ...], candidate: tuple[Token, ...]) -> NameMatch:
    """Score two tokenised names (see the module docstring). Never raises; 0 when a side is
    empty or weighs nothing."""
    wq = sum(t.weight for t in query)
    wc = sum(t.weight for t in candidate)
    if not wq or not wc:
        return NameMatch(0.0, (), tuple(t.raw for t in query), tuple(t.raw for t in candidate))
    options: list[tuple[float, float, tuple[int, ...], tuple[int, ...], str]] = []
    for i, q in enumerate(query):
        for j, c in enumerate(candidate):
            sim, how = token_similarity(q, c)
            if sim:
                options.append((sim, q.weight + c.weight, (i,), (j,), how))
    used_q: set[int] = set()
    used_c: set[int] = set()
    pairs: list[tuple[float, tuple[int, ...], tuple[int, ...], str]] = []
    _choose(options, used_q, used_c, pairs)
    # concatenated or split tokens, among what single tokens left unexplained or explained
    # only in part
    weak_q = used_q - {k for sim, qi, _, _ in pairs if sim >= 0.9 for k in qi}
    weak_c = used_c - {k for sim, _, ci, _ in pairs if sim >= 0.9 for k in ci}
    open_q = weak_q | (set(range(len(query))) - used_q)
    open_c = weak_c | (set(range(len(candidate))) - used_c)
    if open_q and open_c and len(open_q) + len(open_c) >= 3:
        merged = _merged_options(query, candidate, open_q, open_c)
        if merged:
            kept = [o for o in pairs if not (set(o[1]) & weak_q or set(o[2]) & weak_c)]
            used_q = {k for o in kept for k in o[1]}
            used_c = {k for o in kept for k in o[2]}
            rest = [o for o in options if not (set(o[2]) & used_q or set(o[3]) & used_c)]
            pairs = kept
            _choose(sorted(merged + rest, key=lambda o: (o[0], o[1]), reverse=True),
                    used_q, used_c, pairs)
    mq = mc = 0.0
    strong = False
    out: list[TokenPair] = []
    detail_q = detail_c = 0.0  # what a whole name says beyond the initial it agrees with
    for sim, qi, ci, how in pairs:
        if how == "initial":  # an initial explains no more of a whole name than it weighs
            wq_, wc_ = query[qi[0]].weight, candidate[ci[0]].weight
            w = min(wq_, wc_)
            mq, mc = mq + sim * w, mc + sim * w
            detail_q += wq_ - w
            detail_c += wc_ - w
        elif how == "one_letter":  # Li/Lu: short tokens a letter apart are different names
            wq_, wc_ = query[qi[0]].weight, candidate[ci[0]].weight
            mq, mc = mq + sim * wq_, mc + sim * wc_
            detail_q += (1 - sim) * wq_
            detail_c += (1 - sim) * wc_
        else:
            mq += sim * sum(query[k].weight for k in qi)
            mc += sim * sum(candidate[k].weight for k in ci)
        strong = strong or any(query[k].category in _STRONG for k in qi) \
            or any(candidate[k].category in _STRONG for k in ci)
        out.append(TokenPair("+".join(query[k].raw for k in qi),
                             "+".join(candidate[k].raw for k in ci), how, sim))
    uq = sum(t.weight for k, t in enumerate(query) if k not in used_q)
    uc = sum(t.weight for k, t in enumerate(candidate) if k not in used_c)
    partial = ((wq - uq - mq - detail_q) + (wc - uc - mc - detail_c)) / 2
    uq, uc = uq + detail_q, uc + detail_c
    conflict = min(uq, uc)  # unmatched on both sides: the names disagree
    extra = max(uq, uc) - conflict  # unmatched on one side only: a name the other leaves out
    mean = (wq + wc) / 2
    score = max(0.0, 1.0 - CONFLICT_PENALTY * conflict / mean - partial / mean
                - EXTRA_PENALTY * extra / max(wq, wc))
    forms_q = {t.text for t in query if t.category == "legal_form"}
    forms_c = {t.text for t in candidate if t.category == "legal_form"}
    if forms_q and forms_c and not forms_q & forms_c:  # an AG is not a GmbH
        score = max(0.0, score - LEGAL_FORM_MISMATCH)
    places_q, places_c = _places(query), _places(candidate)
    if places_q and places_c and not (set(places_q) <= used_q or set(places_c) <= used_c):
        score = max(0.0, score - PLACE_MISMATCH)  # of Sweden, of Finland
    n_q = sum(1 for t in query if t.category in _COUNTED)
    n_c = sum(1 for t in candidate if t.category in _COUNTED)
    joined = any(how == "merged" for *_, how in pairs)
    if min(n_q, n_c) == 1 and max(n_q, n_c) > 1 and not joined:
        score = min(score, LONE_TOKEN_CAP)  # "Kim" is not "KIM Jong Un"
    if not strong:  # legal forms alone: nothing; generic words, places or particles: at most
        # the cap, unless they are the whole of both names ("Dubai Trading Co" is listed)
        only_forms = all(how == "legal_form" for _, _, _, how in pairs)
        whole = all(sim >= 0.9 for sim, *_ in pairs) and not any(
            t.weight and t.category not in _FORMS and k not in used
            for side, used in ((query, used_q), (candidate, used_c))
            for k, t in enumerate(side))
        score = 0.0 if only_forms else score if whole else min(score, WEAK_ONLY_CAP)
    return NameMatch(
        round(min(score, 1.0), 4), tuple(out),
        tuple(t.raw for k, t in enumerate(query) if k not in used_q and t.weight),
        tuple(t.raw for k, t in enumerate(candidate) if k not in used_c and t.weight))
