"""Names as the screening matcher compares them: weighted ASCII tokens, in any script.

:func:`tokens` turns one name into a tuple of :class:`Token`:

1. Unicode NFKC, case folded. Han characters are turned into their simplified forms by OpenCC
   (``t2s``: 長江 reads as 长江, chang jiang, not zhang jiang; 單 as the surname 单, shan) and
   read as pinyin with ``pypinyin`` (one token per character, surname readings of the first
   character from :data:`socialcredit.identity.names.SURNAME_READINGS`); Han legal forms
   (有限公司 …) become their class first. Every other script (Cyrillic, Arabic, Greek,
   Ethiopic, Khmer …) is transliterated to ASCII by ``anyascii``, in process, with no
   external service.
2. Dotted abbreviations of organisations are joined (``L.L.C.`` → ``llc``); ``&`` is ``and``;
   apostrophes vanish inside a word (``MYO'NG`` → ``myong``, ``Bank's`` → ``banks``); any other
   non-alphanumeric character separates tokens. For organisations, vessels and aircraft,
   numbers written in words become digits (``Forty-Four`` → ``44``, ``1st`` → ``1``;
   :mod:`socialcredit.screening.numbers`).
3. Spelling equivalents (:data:`~socialcredit.screening.vocab.SYNONYMS`) are applied.
4. Each token gets a category and a weight: ``name`` (1.0), ``legal_form`` (organisations
   only, long forms such as "open joint stock company" collapse to one token of their class),
   ``generic`` (organisation words such as "trading"), ``place`` (not in persons' names: a
   country or a city such as "Hong Kong", written apart or joined, one token), ``particle``
   (al, bin, van …), ``title`` (persons: Mr, Sheikh, General …, weight 0) and ``number``.

Also :func:`phonetic`, a coarse spelling-insensitive key of one token (``selenskyj`` and
``zelenskyy`` give ``selenski``), and :func:`normalise_document_number`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Literal

from anyascii import anyascii

from socialcredit.identity.names import SURNAME_READINGS
from socialcredit.screening.numbers import read_numbers
from socialcredit.screening.vocab import (
    GENERIC_WEIGHT,
    GENERIC_WORDS,
    HAN_LEGAL_FORMS,
    LEGAL_FORM_PHRASES,
    LEGAL_FORM_WEIGHT,
    LEGAL_FORMS,
    PARTICLE_WEIGHT,
    PARTICLES,
    PLACE_WEIGHT,
    PLACE_WORDS,
    SYNONYMS,
    TITLES,
    places,
)

__all__ = ["MAX_NAME_CHARS", "Kind", "Token", "consonants", "normalise_document_number",
           "phonetic", "tokens", "unreadable"]

#: Kinds of party a name belongs to. ``organisation`` covers the lists' entities.
Kind = Literal["person", "organisation", "vessel", "aircraft"]
#: Longer names are refused by the faces (a name is never this long).
MAX_NAME_CHARS = 500

#: Weight of a one-letter token (an initial).
INITIAL_WEIGHT = 0.4

Category = Literal["name", "legal_form", "generic", "place", "particle", "title", "number"]


@dataclass(frozen=True, slots=True)
class Token:
    """One name token: ``text`` (ASCII lower case; a legal form's class), ``raw`` (as written,
    after transliteration), ``category``, ``weight`` (0..1), ``phon`` (:func:`phonetic`) and
    ``abjad`` (read from Arabic or Hebrew script, which writes few vowels: compared with a
    Latin name by its consonants, :func:`consonants`)."""

    text: str
    raw: str
    category: Category
    weight: float
    phon: str
    abjad: bool = False


_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_DOTTED_RE = re.compile(r"\b(?:[^\W\d_]\.){2,}(?:[^\W\d_]\b)?")
_APOS_RE = re.compile(r"(?<=\w)['’‘`ʼʻ](?=\w)")
_SPLIT_RE = re.compile(r"[^0-9a-z]+")
_HAN_FORMS = sorted(HAN_LEGAL_FORMS, key=len, reverse=True)
_PHRASES = sorted(LEGAL_FORM_PHRASES, key=len, reverse=True)


def normalise_document_number(s: str) -> str:
    """Matching key for a document number, the same at import, at the gate and in a screen:
    Unicode NFKC (full-width ``Ｇ２３８`` → ``G238``), then spaces, dashes (category Pd) and
    invisible format characters (Cf: zero-width spaces and joiners, direction marks) removed,
    upper-cased. Other punctuation (``/``, ``.``) is kept: numbers on the lists use it."""
    text = unicodedata.normalize("NFKC", s)
    return "".join(ch for ch in text if not ch.isspace()
                   and unicodedata.category(ch) not in _DOCUMENT_SEPARATORS).upper()


#: Unicode categories dropped from document numbers: dashes and invisible format characters.
_DOCUMENT_SEPARATORS = frozenset({"Pd", "Cf"})


def unreadable(text: str) -> int | None:
    """The 1-based position of the first lone surrogate in ``text`` (what a JSON ``"\ud800"``
    or a command-line argument that is not UTF-8 gives), or None: no name or number holds
    one."""
    for i, ch in enumerate(text):
        if "\ud800" <= ch <= "\udfff":
            return i + 1
    return None


@lru_cache(maxsize=1)
def _simplified() -> Any:
    """OpenCC's traditional-to-simplified converter (``t2s``), loaded on the first Han name."""
    import opencc

    return opencc.OpenCC("t2s")


def _han_to_pinyin(text: str, kind: Kind) -> str:
    if kind != "person":
        for form in _HAN_FORMS:
            text = text.replace(form, HAN_LEGAL_FORMS[form])

    # pypinyin's phrase tables are slow to load: only when Han text is read
    from pypinyin import Style, lazy_pinyin

    def read(match: re.Match[str]) -> str:
        chars = match.group(0)
        syllables = lazy_pinyin(chars, style=Style.NORMAL, errors="ignore")
        if kind == "person" and chars[0] in SURNAME_READINGS and match.start() == 0:
            syllables[0] = SURNAME_READINGS[chars[0]]
        return " " + " ".join(syllables) + " "

    return _HAN_RE.sub(read, text)


@lru_cache(maxsize=1 << 16)
def phonetic(token: str) -> str:
    """A coarse key that forgives transliteration variants: ``ph``→f, ``w``→v, ``y``/``j``→i,
    ``z``→s, ``c``/``q``/``ck``→k, ``kh``/``gh``→h, ``ou``→u, repeated letters once. Digits are
    kept as they are. Example: ``Wolodymyr``/``Volodymyr`` → ``volodimir``."""
    if token.isdigit():
        return token
    t = token
    for a, b in (("sch", "sh"), ("ph", "f"), ("ck", "k"), ("kh", "h"), ("gh", "h"),
                 ("ou", "u"), ("ee", "i"), ("oo", "u"), ("dj", "j"), ("tch", "ch"),
                 ("dzh", "j")):
        t = t.replace(a, b)
    t = t.translate(_PHON_TABLE)
    out: list[str] = []
    for ch in t:
        if not out or out[-1] != ch:
            out.append(ch)
    return "".join(out)


_PHON_TABLE = str.maketrans({"w": "v", "y": "i", "j": "i", "z": "s", "c": "k", "q": "k"})


#: Arabic (with its Persian and Urdu letters) and Hebrew: scripts that write few vowels.
_ABJAD_RE = re.compile(r"[\u0590-\u05ff\u0600-\u06ff\u0750-\u077f\ufb1d-\ufdff\ufe70-\ufeff]")
#: The Arabic article al- written joined to its word (الأسد), but not Allah (الله).
_ARTICLE_RE = re.compile(r"(?<!\w)ال(?!له(?!\w))(?=\w\w)")


def consonants(token: str) -> str:
    """The consonant skeleton of an ASCII token, as an abjad writes it: ``dh`` → z, ``q`` → k,
    vowels, ``y``, ``w`` (Arabic's long vowels), apostrophes and backquotes (hamza, ayn)
    dropped, repeated letters once. ``hassan`` and ``hsn`` (حسن) both give ``hsn``;
    ``makhlouf`` and ``mkhlwf`` (مخلوف) ``mkhlf``."""
    t = token.replace("dh", "z").replace("q", "k")
    out: list[str] = []
    for ch in t:
        if ch in "aeiouyw'`":
            continue
        if not out or out[-1] != ch:
            out.append(ch)
    return "".join(out)


#: Invisible format characters (zero-width spaces and joiners, direction marks): a separator.
_FORMAT_RE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


def _raw_words(name: str, kind: Kind) -> list[str]:
    text = _FORMAT_RE.sub(" ", unicodedata.normalize("NFKC", name).casefold())
    if _HAN_RE.search(text):  # traditional characters read as their simplified forms
        text = _han_to_pinyin(_simplified().convert(text), kind)
    if _ABJAD_RE.search(text):
        text = _ARTICLE_RE.sub("al ", text)
    text = anyascii(text).lower()
    if kind != "person":
        text = _DOTTED_RE.sub(lambda m: m.group(0).replace(".", "") + " ", text)
    text = text.replace("&", " and ")
    text = _APOS_RE.sub("", text)
    words = [w for w in _SPLIT_RE.split(text) if w]
    return words if kind == "person" else read_numbers(words)


def _categorise(words: list[str], kind: Kind) -> list[Token]:
    out: list[Token] = []
    i = 0
    org = kind != "person"
    while i < len(words):
        if org:
            phrase = next((p for p in _PHRASES if tuple(words[i:i + len(p)]) == p), None)
            if phrase is not None:
                raw = " ".join(words[i:i + len(phrase)])
                cls = LEGAL_FORM_PHRASES[phrase]
                out.append(Token(cls, raw, "legal_form", LEGAL_FORM_WEIGHT, cls))
                i += len(phrase)
                continue
            if place := _place(words, i):
                n, text = place
                out.append(Token(text, " ".join(words[i:i + n]), "place", PLACE_WEIGHT,
                                 phonetic(text)))
                i += n
                continue
        word = words[i]
        i += 1
        text = SYNONYMS.get(word, word)
        if word.isdigit():
            out.append(Token(text, word, "number", 1.0, text))
        elif org and word in LEGAL_FORMS:
            cls = LEGAL_FORMS[word]
            out.append(Token(cls, word, "legal_form", LEGAL_FORM_WEIGHT, cls))
        elif org and text in GENERIC_WORDS:
            out.append(Token(text, word, "generic", GENERIC_WEIGHT, phonetic(text)))
        elif not org and word in TITLES:
            out.append(Token(text, word, "title", 0.0, phonetic(text)))
        elif text in PARTICLES:
            out.append(Token(text, word, "particle", PARTICLE_WEIGHT, phonetic(text)))
        else:  # an initial says less than a whole name
            out.append(Token(text, word, "name", INITIAL_WEIGHT if len(text) == 1 else 1.0,
                             phonetic(text)))
    return out


def _place(words: list[str], i: int) -> tuple[int, str] | None:
    """``(words, place)`` of the longest place (:func:`~socialcredit.screening.vocab.places`)
    written by the words from ``i``, apart or joined; None when none starts there."""
    known = places()
    for n in range(min(PLACE_WORDS, len(words) - i), 0, -1):
        if (place := known.get("".join(words[i:i + n]))) is not None:
            return n, place
    return None


@lru_cache(maxsize=1 << 15)
def tokens(name: str, kind: Kind = "person") -> tuple[Token, ...]:
    """The weighted tokens of ``name`` read as a ``kind`` (see the module docstring); an empty
    tuple when the name has no letters or digits. Never raises."""
    toks = _categorise(_raw_words(name, kind), kind)
    if _ABJAD_RE.search(name):
        toks = [replace(t, abjad=True) for t in toks]
    return tuple(toks)


def informative(toks: tuple[Token, ...]) -> bool:
    """True when some token can match (a name, a number or, for organisations, a generic word
    or a place): a name of only legal forms, titles or particles is not screenable."""
    return any(t.category in ("name", "number", "generic", "place") for t in toks)
