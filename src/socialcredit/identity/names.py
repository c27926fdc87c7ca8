"""Personal names in the forms linkage compares: family name, given name, an order-free key.

:func:`name_forms` turns one raw name (Han script, pinyin or other Latin-script text, in either
order) into :class:`NameForms`. Every string it returns is lowercase ASCII; it never raises.

Rules, in the order they apply:

1. ``None``, empty or blank → problem ``"empty"``. Longer than ``max_chars`` (default 200) →
   problem ``"longer than 200 characters"``, decided on the length alone, before any other work.
2. Control characters and lone surrogates are removed (whitespace controls such as tab and
   newline count as spaces), private-use characters likewise (local encodings put rare Han
   characters there); each leaves a problem. Format characters (zero-width space, BOM) are
   dropped silently.
3. Unicode NFKC, case-folded, then NFKD with combining marks removed, so tone marks and other
   diacritics go (``Zhāng Wěi`` → ``zhang wei``, ``Müller`` → ``muller``, ü → u, so 吕 → ``lu``;
   the spellings ``lv`` and ``lyu`` are read as ``lu``). Latin letters without a decomposition
   are spelled out (ß → ss, ø → o, æ → ae, ł → l …). Apostrophes join (``O'Brien`` →
   ``obrien``, ``Xi'an`` → ``xian``; the syllable break is kept for the key); digits,
   punctuation and whitespace separate words.
4. Han script (CJK unified ideographs) becomes pinyin with ``pypinyin`` (``Style.NORMAL``). Han
   names are family name first. A compound surname (欧阳, 上官, 司马 … see
   :data:`COMPOUND_SURNAMES`) is recognised at the start of a name of three or more characters
   and read with pypinyin's phrase dictionary (尉迟 → yuchi, 长孙 → zhangsun). pypinyin has no
   surname mode (mozillazg/python-pinyin issues #120 and #297), so a single-character family
   name whose surname reading differs from the library's default reading is read from
   :data:`SURNAME_READINGS` (单 shan, 曾 zeng, 解 xie, 仇 qiu, 区 ou …; list after the one in
   issue #297, each reading one of pypinyin's own readings of the character). Given names take
   pypinyin's reading (its phrase dictionary, else each character's default reading),
   syllables joined (小明 → ``xiaoming``). Spaces
   between Han words: the first word (one or two characters) is the family name. A middle dot
   (``·``) marks a transcribed minority or foreign name, given names first: the last part is
   the family name (约翰·史密斯 → family ``shimisi``).
5. Latin script: a comma means ``family, given`` (``NASRALLAH, Hasan``). Otherwise the family
   name is chosen among the first and last word by :data:`COMMON_SURNAMES`, the 100 most common
   Chinese surnames in rank order after the Ministry of Public Security's household-registration
   name reports (《二〇二〇年全国姓名报告》 and earlier editions; order beyond rank 20
   approximate), plus the compound surnames, in pinyin:

   - exactly one of them is a surname → that one (``Na Li`` → family ``li``);
   - both are, and one ranks at least four times higher (rank 3 against 12 or lower) → that one
     (``Wei Zhang`` → family ``zhang``: ``wei``, 魏, ranks 46th and ``zhang`` 3rd);
   - otherwise (both of similar rank, or neither): when every word is valid pinyin the written
     order is kept, family first (``Liu Yang`` and ``Yang Liu`` stay as written: 刘洋 and 杨柳
     are both real names); for other names the last word is the family name (``Hasan
     Nasrallah``).

   When every word is valid pinyin the name is treated as Chinese: the remaining words are one
   given name, syllables joined (``Zhang Xiao Ming`` → given ``xiaoming``); for other names
   words keep their spaces (``maria jose``).
6. One word of concatenated pinyin (``zhangwei``) is split when it can be read in exactly one way
   as a common surname followed by one or two pinyin syllables, under the pinyin spelling rule
   that a syllable beginning with a, o or e after another syllable is written with an
   apostrophe (GB/T 16159): ``zhangwei`` → zhang + wei, ``linan`` → li + nan (林安 would be
   ``lin'an``), ``maria`` is not split. ``huangfumin`` (huangfu + min or huang + fumin) is left
   whole. Western names that happen to read as pinyin are split too (``Lisa`` → li + sa); this
   is the price of splitting at all. A word left whole is the family name, with the problem
   ``"one word: family and given name not told apart"``.
7. Key: for Chinese names (Han script, or Latin words that are all pinyin) the pinyin syllables
   of the whole name, sorted and joined with a space. Han gives pypinyin's syllables; a Latin
   word is cut at its apostrophes, and a piece that reads two ways is read under the spelling
   rule of rule 6, longest syllable first (``xian``, not ``xi an``; ``Xi'an`` gives ``xi an``
   like 西安). 张伟, ``Zhang Wei``, ``Wei Zhang``
   and ``zhangwei`` give ``"wei zhang"``; 张小明, ``Zhang Xiaoming`` and ``Xiao Ming Zhang``
   give ``"ming xiao zhang"``. For other names all words, sorted and joined (``"hasan
   nasrallah"``). The key thus depends neither on the family-name guess of rule 5 nor on
   spacing; it is a blocking key, so it also joins 张小明 and 张明小.
8. Problems (several are joined with ``"; "``, most severe first): ``"no letters"`` (only
   digits or punctuation; all forms ``None``), ``"unsupported script: cyrillic"`` (letters of a
   script other than Latin or Han only, which this module cannot romanise; all forms ``None``,
   script ``"other"``), ``"one character: too weak to link on"`` (forms still given),
   ``"mixed scripts"`` (Han and Latin in one name: the Han part becomes pinyin and the name is
   read as Latin script, ``张Wei`` → ``zhang wei``), ``"letters of an unsupported script
   dropped: cyrillic"`` (beside Han or Latin letters, which are kept; script ``"mixed"``),
   ``"han characters without a pinyin reading dropped"``, and those of rules 2 and 6.

Wade–Giles and Cantonese spellings (``Chang``, ``Wong``, ``Lee``) are not mapped to pinyin.

Longer than 400 lines (432; the lazy pypinyin import added one): a sixth of it is the rule
list above, which the code follows step by step and which reads best beside it; it splits
into a Han and a Latin reader (``_han`` / ``_latin`` and their helpers) when either grows.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "COMMON_SURNAMES",
    "COMPOUND_SURNAMES",
    "SURNAME_READINGS",
    "NameForms",
    "name_forms",
]

#: The 100 most common single-character Chinese surnames, most common first (MPS name reports;
#: see the module docstring).
COMMON_SURNAMES: str = (
    "王李张刘陈杨黄赵吴周徐孙马胡朱郭何罗高林郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向常"
)

#: Compound (two-character) surnames recognised at the start of a Han name (《百家姓》).
COMPOUND_SURNAMES: frozenset[str] = frozenset({
    "欧阳", "上官", "司马", "诸葛", "司徒", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
    "宇文", "夏侯", "令狐", "端木", "轩辕", "南宫", "司空", "澹台", "万俟", "闻人", "赫连",
    "淳于", "单于", "申屠", "钟离", "呼延", "独孤", "拓跋", "西门", "公羊",
})

#: Surname readings of characters whose pypinyin default reading is another one (after the
#: list in mozillazg/python-pinyin issue #297; each is one of pypinyin's readings).
SURNAME_READINGS: dict[str, str] = {
    "单": "shan", "曾": "zeng", "解": "xie", "仇": "qiu", "区": "ou", "查": "zha", "朴": "piao",
    "覃": "qin", "翟": "zhai", "缪": "miao", "盖": "ge", "乐": "yue", "种": "chong", "重": "chong",
    "秘": "bi", "繁": "po", "折": "she", "卜": "bu", "员": "yun", "句": "gou", "隗": "wei",
    "召": "shao", "洗": "xian", "薄": "bo", "藏": "zang", "都": "du", "能": "nai", "乜": "nie",
    "阚": "kan", "蕃": "pi", "粘": "nian", "佴": "nai", "扎": "za", "六": "lu", "长": "chang",
}

_PROBLEM_ORDER = ("no letters", "unsupported script", "one character", "mixed scripts",
                  "letters of", "one word", "han character", "control", "lone", "private-use")
_LATIN_EXTRA = {"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ð": "d", "þ": "th", "ł": "l",
                "ı": "i", "ŋ": "ng", "ħ": "h", "ŧ": "t", "ĸ": "k", "ſ": "s", "ƒ": "f"}
_APOSTROPHES = frozenset("'’‘`ʼʻ")
_DOTS = frozenset("·・‧•.")
_LU = {"lv": "lu", "lyu": "lu", "nv": "nu", "nyu": "nu"}
_VOWELS = frozenset("aoe")
_RANK_RATIO = 4  # a surname this many times higher in rank wins the family-name place


@dataclass(frozen=True, slots=True)
class NameForms:
    """Normalised forms of one name; all strings lowercase ASCII (see the module docstring).

    ``family_name``/``given_name``: e.g. ``"zhang"``, ``"xiaoming"``; ``full_name``: family and
    given joined by a space (the one present if only one is); ``key``: order-independent
    blocking key; ``script``: ``"han"``, ``"latin"``, ``"mixed"``, ``"other"`` or ``"none"``;
    ``problem``: ``None`` or why the name is unusable or weak for linkage.
    """

    family_name: str | None
    given_name: str | None
    full_name: str | None
    key: str | None
    script: str
    problem: str | None


def _nothing(problem: str, script: str = "none") -> NameForms:
    return NameForms(None, None, None, None, script, problem)


def name_forms(raw: str | None, *, max_chars: int = 200) -> NameForms:
    """Normalise one personal name (rules and sources in the module docstring).

    ``max_chars`` bounds the raw length in characters; longer input is refused unread. Never
    raises: bad input gives forms ``None`` or a ``problem``.
    """
    if raw is None:
        return _nothing("empty")
    if not isinstance(raw, str):
        return _nothing("not text")
    if len(raw) > max_chars:
        return _nothing(f"longer than {max_chars} characters")
    if not raw.strip():
        return _nothing("empty")
    return _forms(raw)


def _is_han(ch: str) -> bool:
    cp = ord(ch)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x323AF
            or 0xF900 <= cp <= 0xFAFF)


@lru_cache(maxsize=8192)
def _readings(chars: str) -> tuple[str, ...]:
    """pypinyin's syllables for ``chars`` (a phrase or characters), ASCII; a character the
    library cannot read gives none."""
    # pypinyin's phrase tables are slow to load: only when a Han name is read
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(chars, style=Style.NORMAL, v_to_u=True, errors="ignore")
    return tuple(a for a in (_ascii(s) for s in syllables) if a)


def _family_readings(chars: str) -> tuple[str, ...]:
    reading = SURNAME_READINGS.get(chars)
    return (reading,) if reading else _readings(chars)


def _head_and_tail(name: str) -> tuple[str, str]:
    """Han family name and given name: a compound surname or the first character."""
    cut = 2 if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES else 1
    return name[:cut], name[cut:]


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def _syllables() -> frozenset[str]:
    """Every toneless pinyin syllable pypinyin knows (with a vowel; ü written u)."""
    from pypinyin.pinyin_dict import pinyin_dict

    found: set[str] = set()
    for readings in pinyin_dict.values():
        for reading in readings.split(","):
            s = _ascii(reading.replace("ü", "u"))
            if s.isascii() and s.isalpha() and any(v in s for v in "aeiou"):
                found.add(s)
    return frozenset(found)


@lru_cache(maxsize=1)
def _surname_ranks() -> dict[str, int]:
    """Pinyin surname → rank (1 = most common); compound surnames ranked after the 100."""
    ranks: dict[str, int] = {}
    for rank, han in enumerate(COMMON_SURNAMES, start=1):
        ranks.setdefault("".join(_family_readings(han)), rank)
    for han in sorted(COMPOUND_SURNAMES):
        ranks.setdefault("".join(_readings(han)), len(COMMON_SURNAMES) + 1)
    return ranks


@lru_cache(maxsize=1)
def _compound_pinyin() -> frozenset[str]:
    return frozenset("".join(_readings(han)) for han in COMPOUND_SURNAMES)


def _parses(word: str, *, strict: bool, limit: int = 2) -> list[list[str]]:
    """Up to ``limit`` ways to write ``word`` as pinyin syllables. ``strict``: no syllable
    after the first starts with a vowel (it would need an apostrophe)."""
    sylls = _syllables()
    out: list[list[str]] = []

    def walk(i: int, acc: list[str]) -> None:
        if len(out) >= limit:
            return
        if i == len(word):
            out.append(list(acc))
            return
        for j in range(min(len(word), i + 6), i, -1):
            part = word[i:j]
            if part in sylls and not (strict and acc and part[0] in _VOWELS):
                acc.append(part)
                walk(j, acc)
                acc.pop()

    if len(word) <= 40:
        walk(0, [])
    return out


@lru_cache(maxsize=8192)
def _syllabify(word: str) -> tuple[str, ...]:
    """Pinyin syllables of ``word``: the reading that keeps the apostrophe rule (rule 6) if
    any, longest syllable first (``xian``, not ``xi an``; ``nana``, not ``nan a``), so Han and
    Latin spellings give the same syllables; ``(word,)`` when it is not pinyin, ``()`` for
    ``""``."""
    found = _parses(word, strict=True, limit=1) or _parses(word, strict=False, limit=1)
    return tuple(found[0]) if found else (word,) if word else ()


def _split_concatenated(word: str) -> tuple[str, str] | None:
    """``zhangwei`` → (``zhang``, ``wei``) when exactly one reading exists (rule 6)."""
    found: list[tuple[str, str]] = []
    for surname in _surname_ranks():
        rest = word[len(surname):]
        if word.startswith(surname) and rest and rest[0] not in _VOWELS:
            found += [(surname, "".join(p)) for p in _parses(rest, strict=True)
                      if 1 <= len(p) <= 2]
    return found[0] if len(found) == 1 else None


def _latin_letter(ch: str) -> str | None:
    """ASCII spelling of a Latin letter, '' for a Latin letter without one, None otherwise."""
    if "a" <= ch <= "z":
        return ch
    if not unicodedata.name(ch, "").startswith("LATIN"):
        return None
    spelled = _LATIN_EXTRA.get(ch, "")
    return spelled if spelled.isascii() else ""


@lru_cache(maxsize=65536)
def _forms(raw: str) -> NameForms:
    problems: set[str] = set()
    kept = []
    for ch in raw:
        cat = unicodedata.category(ch)
        if cat == "Cs":
            problems.add("lone surrogates removed")
        elif cat == "Co":
            problems.add("private-use characters removed")
        elif cat == "Cc" and not ch.isspace():
            problems.add("control characters removed")
        elif cat != "Cf":
            kept.append(" " if cat in ("Cc", "Co", "Cs") else ch)
    text = _ascii(unicodedata.normalize("NFKC", "".join(kept)).casefold())

    # Words: (kind, text) with kind "han" / "latin", and the markers "," and "·".
    words: list[tuple[str, str]] = []
    others: set[str] = set()
    letters = 0
    for ch in text:
        if _is_han(ch):
            kind, piece = "han", ch
        elif ch in _APOSTROPHES:  # joins a word; kept as a syllable boundary
            if words and words[-1][0] == "latin":
                words[-1] = ("latin", words[-1][1] + "'")
            continue
        elif (spelled := _latin_letter(ch)) is not None:
            kind, piece = "latin", spelled
        elif unicodedata.category(ch).startswith("L"):
            others.add(unicodedata.name(ch, "unknown").split()[0].lower())
            kind, piece = "sep", " "
        else:
            kind, piece = "sep", ("," if ch == "," else "·" if ch in _DOTS else " ")
        letters += kind != "sep" and bool(piece)
        if kind == "sep":
            if piece != " ":
                words.append((piece, piece))
            words.append(("sep", ""))
        elif words and words[-1][0] == kind:
            words[-1] = (kind, words[-1][1] + piece)
        elif piece:
            words.append((kind, piece))
    words = [w for w in words if w[0] != "sep" and (w[1] or w[0] in ",·")]
    kinds = {k for k, _ in words if k in ("han", "latin")}
    if not kinds:
        if others:
            return _nothing("unsupported script: " + ", ".join(sorted(others)), "other")
        return _nothing("no letters")
    script = "mixed" if len(kinds) > 1 or others else next(iter(kinds))
    if script == "mixed":
        problems.add("mixed scripts")
    if others:
        problems.add("letters of an unsupported script dropped: " + ", ".join(sorted(others)))
    if letters == 1:
        problems.add("one character: too weak to link on")

    if "latin" not in kinds:
        family, given, parts = _han(words, problems)
    else:
        tokens: list[str] = []
        for i, (kind, word) in enumerate(words):
            if kind != "han":
                tokens.append(word)
            elif i == 0:
                head, tail = _head_and_tail(word)
                tokens += ["'".join(_family_readings(head)), "'".join(_readings(tail))]
            else:
                tokens.append("'".join(_readings(word)))
        family, given, parts = _latin(tokens, problems)
    return _result(family, given, parts, script, problems)


def _han(words: list[tuple[str, str]],
         problems: set[str]) -> tuple[str | None, str | None, list[str]]:
    segments = [w for k, w in words if k == "han"]
    if any(k == "·" for k, _ in words) and len(segments) > 1:
        family, given = _readings(segments[-1]), _readings("".join(segments[:-1]))
    else:
        if len(segments) > 1 and len(segments[0]) <= 2:
            head, tail = segments[0], "".join(segments[1:])
        else:
            head, tail = _head_and_tail("".join(segments))
        family = _readings(head) if len(head) == 2 else _family_readings(head)
        given = _readings(tail)
    if any(not _readings(c) for w in segments for c in w):
        problems.add("han characters without a pinyin reading dropped")
    return "".join(family) or None, "".join(given) or None, [*family, *given]


def _latin(tokens: list[str],
           problems: set[str]) -> tuple[str | None, str | None, list[str]]:
    """Family name, given name and key parts of Latin words (apostrophes: syllable breaks)."""
    def clean(token: str) -> str:
        return "'".join(_LU.get(p, p) for p in token.split("'") if p)

    words = [w for w in map(clean, tokens) if w and w not in (",", "·")]
    if not words:
        return None, None, []
    before = len([w for w in map(clean, tokens[:tokens.index(",")]) if w not in ("", "·")]
                 ) if "," in tokens else 0
    pieces = [p for w in words for p in w.split("'")]
    chinese = all(_parses(p, strict=False, limit=1) for p in pieces)
    plain = [w.replace("'", "") for w in words]
    join = "".join if chinese else " ".join
    if 0 < before < len(plain):
        family_words, given_words = plain[:before], plain[before:]
    elif len(plain) == 1:
        split = _split_concatenated(plain[0])
        if split is None:
            if len(plain[0]) > 1:
                problems.add("one word: family and given name not told apart")
            return plain[0], None, ([s for p in pieces for s in _syllabify(p)] if chinese
                                    else plain)
        return split[0], split[1], [*_syllabify(split[0]), *_syllabify(split[1])]
    else:
        ranks = _surname_ranks()
        if (len(plain) >= 3 and plain[0] + plain[1] in _compound_pinyin()
                and plain[0] not in ranks):
            plain = [plain[0] + plain[1], *plain[2:]]
        first, last = ranks.get(plain[0]), ranks.get(plain[-1])
        if first and (not last or _RANK_RATIO * first <= last):
            family_first = True
        elif last and (not first or _RANK_RATIO * last <= first):
            family_first = False
        else:
            family_first = chinese
        if family_first:
            family_words, given_words = plain[:1], plain[1:]
        else:
            family_words, given_words = plain[-1:], plain[:-1]
    family, given = join(family_words), join(given_words)
    return family, given, ([s for p in pieces for s in _syllabify(p)] if chinese else plain)


def _result(family: str | None, given: str | None, parts: list[str], script: str,
            problems: set[str]) -> NameForms:
    full = " ".join(p for p in (family, given) if p) or None
    key = " ".join(sorted(parts)) or None
    ordered = sorted(problems, key=lambda p: next(
        (i for i, head in enumerate(_PROBLEM_ORDER) if p.startswith(head)), 99))
    return NameForms(family or None, given or None, full, key, script,
                     "; ".join(ordered) or None)
