"""Numbers written in words, read as digits, so that "First International Bank" meets
"1st International Bank" and "Brigade Forty-Four" meets "Brigade 44".

:func:`read_numbers` rewrites a list of lower-case ASCII words (as
:func:`socialcredit.screening.text.tokens` splits them; a hyphen has already split
"forty-four" into two words):

* English cardinals from zero to 999,999, a tens word followed by a units word making one
  number (``forty four`` → ``44``), with ``hundred`` and ``thousand`` (``four hundred fifty
  five`` → ``455``, ``two thousand`` → ``2000``) and the common misspelling ``fourty``;
* English ordinals ``first`` … ``twelfth`` and the tens' ordinals (``twentieth`` …), alone or
  after a tens word (``twenty first`` → ``21``);
* digits with an ordinal suffix (``1st``, ``22nd``, ``3rd``, ``44th``) → the digits.

Only English, and no Roman numerals: the lists screened (OFAC SDN, the UN
consolidated list) write other languages' numbers in digits, and a Roman numeral (``II``) is
too often a word or an initial to read it as one. Used for organisations, vessels and aircraft;
not for persons, where "Ten" or "Nine" may be a name.
"""

from __future__ import annotations

import re

__all__ = ["read_numbers"]

_UNITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
          "eighteen", "nineteen")
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
         "seventy": 70, "eighty": 80, "ninety": 90}
_ORDINAL_UNITS = ("zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh",
                  "eighth", "ninth", "tenth", "eleventh", "twelfth")
_ORDINAL_TENS = {"twentieth": 20, "thirtieth": 30, "fortieth": 40, "fiftieth": 50,
                 "sixtieth": 60, "seventieth": 70, "eightieth": 80, "ninetieth": 90}

#: A word alone → its value (cardinals and ordinals under 20, tens and their ordinals).
_WORD = ({w: n for n, w in enumerate(_UNITS)} | {w: n for n, w in enumerate(_ORDINAL_UNITS)}
         | _TENS | _ORDINAL_TENS)
#: Units that may follow a tens word (one … nine, first … ninth).
_AFTER_TENS = ({w: n for n, w in enumerate(_UNITS) if 1 <= n <= 9}
               | {w: n for n, w in enumerate(_ORDINAL_UNITS) if 1 <= n <= 9})
_SUFFIXED = re.compile(r"(\d+)(?:st|nd|rd|th)")


_ORDINALS = frozenset(_ORDINAL_UNITS) | frozenset(_ORDINAL_TENS)
_SCALES = {"hundred": 100, "hundredth": 100, "thousand": 1000, "thousandth": 1000}


def _number(words: list[str], i: int) -> tuple[int, int] | None:
    """The number written in words from ``words[i]``: (value, words used), or None. A units
    word follows only a tens word or a scale (``forty four``, ``four hundred five``); a tens
    word only a scale; ``hundred`` a value under 100, ``thousand`` one under 1000; an ordinal
    ends the number; ``and`` is skipped between number words."""
    total = current = 0
    j = i
    while j < len(words):
        word = words[j]
        if word == "and" and j > i and j + 1 < len(words) and words[j + 1] in _WORD:
            j += 1
            continue
        if word in _SCALES and 0 < current < _SCALES[word]:
            if _SCALES[word] == 1000:
                total, current = total + current * 1000, 0
            else:
                current *= 100
        elif word in _TENS or word in _ORDINAL_TENS:
            if current % 100:
                break
            current += _WORD[word]
        elif word in _WORD:
            below = current % 100
            if below and not (below % 10 == 0 and below >= 20 and _WORD[word] <= 9):
                break
            if word in ("zero", "zeroth") and j > i:
                break
            current += _WORD[word]
        else:
            break
        j += 1
        if word in _ORDINALS or word in ("zero", "hundredth", "thousandth"):
            break  # an ordinal or a zero ends a number
    if j == i:
        return None
    return total + current, j - i


def read_numbers(words: list[str]) -> list[str]:
    """``words`` with every number written in words (or as ``1st``) replaced by its digits;
    other words unchanged. Never raises."""
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        suffixed = _SUFFIXED.fullmatch(word)
        number = None if suffixed else _number(words, i)
        if suffixed:
            out.append(str(int(suffixed.group(1))))
            i += 1
        elif number is not None:
            out.append(str(number[0]))
            i += number[1]
        else:
            out.append(word)
            i += 1
    return out
