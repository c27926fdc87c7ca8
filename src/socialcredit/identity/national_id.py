"""National identifier schemes: validation and normalisation.

The scheme is a policy setting (``identity.national_id.scheme``):

* ``cn.ric`` — CN resident identity number (GB 11643-1999): 18 characters, the last an
  ISO 7064 MOD 11-2 check character (``0-9`` or ``X``), digits 7–14 the birth date and digit 17
  odd for men, even for women. The legacy 15-digit form (before 1999: 2-digit year, no check
  character) is upgraded by inserting ``19`` and computing the check character. Checked with
  python-stdnum (``stdnum.cn.ric``).
* ``us.ssn`` — US Social Security number (nine digits, no check digit, nothing about the
  person embedded); the never-issued ranges are refused with the part that is wrong
  (:mod:`socialcredit.identity.ssn`).
* any other python-stdnum module path (``it.codicefiscale``, ``es.dni``, …) — validated and
  compacted by that module.
* ``generic`` — a regular expression ``pattern`` from the policy (for data sets such as FEBRL
  whose identifiers carry no check digit; such identifiers count as verified by policy).
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType

from stdnum.exceptions import ValidationError as StdnumError
from stdnum.iso7064 import mod_11_2

from socialcredit.errors import ConfigError, IdentifierError

__all__ = ["NationalId", "NationalIdScheme", "normalise_id_text", "scheme_for"]

#: Full-width digits (U+FF10..FF19, as East Asian input methods type them) and the full-width
#: Latin X in either case (the CN check character), to ASCII.
_WIDE = {**{0xFF10 + d: str(d) for d in range(10)}, 0xFF38: "X", 0xFF58: "X", ord("x"): "X"}
#: Separators people put between the groups of an ID (region, birth date, sequence): ASCII and
#: ideographic spaces, tabs, ASCII, full-width and typographic hyphens and dashes.
_SEPARATORS = {ord(c): None for c in " \t\u3000-\uff0d\u2010\u2011\u2012\u2013\u2014\u2015"}


def normalise_id_text(raw: str) -> str:
    """The one character normalisation of a national ID as typed or sent, before any scheme
    checks it: full-width digits and X (either case) to ASCII, lower-case ``x`` to ``X``,
    spaces and hyphens between groups removed. Every door (ingest validation, gate decisions
    and ``check``, public search, sign-in and its rate-limit keys, screening) goes through it
    via :meth:`NationalIdScheme.parse`. Other characters are left alone (a superscript or an
    Arabic-Indic digit stays and fails the check), so nothing invalid becomes valid.
    ``normalise_id_text("１１０１０５ １９４９１２３１ ００２ｘ") == "11010519491231002X"``."""
    return str(raw).strip().translate(_SEPARATORS).translate(_WIDE)


@dataclass(frozen=True, slots=True)
class NationalId:
    """A validated identifier: ``value`` is the compact canonical form (``cn.ric``: 18 characters,
    upper-case ``X``); ``birth_date``/``sex`` (``"M"``/``"F"``) when the scheme embeds them."""

    value: str
    birth_date: dt.date | None = None
    sex: str | None = None
    upgraded_from_15: bool = False


class NationalIdScheme:
    """Validate and normalise identifiers of one scheme; see the module docstring."""

    def __init__(self, scheme: str, pattern: str | None = None) -> None:
        self.scheme = scheme
        # furnisher files repeat the same people: memoise (results are immutable)
        self.parse = lru_cache(maxsize=262_144)(self._parse)  # type: ignore[method-assign]
        self._regex: re.Pattern[str] | None = None
        self._module: ModuleType | None = None
        if scheme == "generic":
            if not pattern:
                raise ConfigError("identity.national_id: scheme 'generic' needs a `pattern`")
            try:
                self._regex = re.compile(pattern)
            except re.error as e:
                raise ConfigError(f"identity.national_id.pattern: {e}") from e
        else:
            try:
                self._module = importlib.import_module(f"stdnum.{scheme}")
            except ImportError as e:
                raise ConfigError(
                    f"identity.national_id.scheme: python-stdnum has no module {scheme!r}"
                ) from e

    def parse(self, raw: str) -> NationalId:
        """Return the canonical identifier (memoised per scheme).

        Raises:
            IdentifierError: see :meth:`_parse`.
        """
        return self._parse(raw)

    def _parse(self, raw: str) -> NationalId:
        """Return the canonical identifier.

        Raises:
            IdentifierError: wrong length or characters, wrong check character, impossible
                embedded birth date — ``details["reason"]`` says which.
        """
        text = str(raw).strip()
        if self._regex is not None:
            compact = re.sub(r"[\s-]", "", text)
            if not self._regex.fullmatch(compact):
                raise IdentifierError(
                    f"{text!r} does not match the national ID pattern",
                    details={"reason": "pattern"},
                )
            return NationalId(compact)
        assert self._module is not None
        if self.scheme == "cn.ric":
            return _parse_cn_ric(text)
        if self.scheme == "us.ssn":
            from socialcredit.identity.ssn import parse_ssn
            return NationalId(parse_ssn(text, normalise_id_text(text)))
        try:
            return NationalId(self._module.validate(text))
        except StdnumError as e:
            raise IdentifierError(f"invalid national ID {text!r}: {e}") from e


def _parse_cn_ric(text: str) -> NationalId:
    from stdnum.cn import ric

    compact = ric.compact(normalise_id_text(text)).upper()
    upgraded = False
    if len(compact) == 15 and compact.isascii() and compact.isdigit():
        body = compact[:6] + "19" + compact[6:]
        compact = body + mod_11_2.calc_check_digit(body)
        upgraded = True
    if (len(compact) != 18 or not compact.isascii() or not compact[:17].isdigit()
            or compact[17] not in "0123456789X"):  # isdigit() alone takes '²', '١', '１'…
        raise IdentifierError(
            f"national ID {text!r} must be 18 characters (17 digits and a check digit or X)"
            " or the 15-digit legacy form",
            details={"reason": "length"},
        )
    try:
        birth = ric.get_birth_date(compact)
    except StdnumError as e:
        raise IdentifierError(
            f"national ID {text!r} embeds an impossible birth date {compact[6:14]}",
            details={"reason": "birth_date"},
        ) from e
    if mod_11_2.calc_check_digit(compact[:17]) != compact[17]:
        raise IdentifierError(
            f"national ID {text!r} has a wrong check character (ISO 7064 MOD 11-2)",
            details={"reason": "check_character"},
        )
    sex = "M" if int(compact[16]) % 2 else "F"
    return NationalId(compact, birth_date=birth, sex=sex, upgraded_from_15=upgraded)


_SCHEMES: dict[tuple[str, str | None], NationalIdScheme] = {}


def scheme_for(scheme: str, pattern: str | None = None) -> NationalIdScheme:
    """A cached :class:`NationalIdScheme` (raises ConfigError for an unknown scheme)."""
    key = (scheme, pattern)
    if key not in _SCHEMES:
        _SCHEMES[key] = NationalIdScheme(scheme, pattern)
    return _SCHEMES[key]


_ID_CHARS = "0123456789"


def plausible_typo(raw: str, error: IdentifierError) -> str | None:
    """The compact form of ``raw`` when its failure looks like a typo of a real CN resident ID
    (a wrong check character or an impossible embedded date in 18 characters, or 17 or 19
    characters of digits with an optional final X: one lost or doubled key), else None."""
    reason = (error.details or {}).get("reason")
    text = re.sub(r"[\s-]", "", str(raw)).upper()
    if not text.isascii() or not 17 <= len(text) <= 19:
        return None
    body = text[:-1] if text.endswith("X") else text
    if not body.isdigit():
        return None
    if len(text) == 18 and reason not in ("check_character", "birth_date"):
        return None
    return text


def one_edit_neighbours(claimed: str) -> list[str]:
    """Checksum-valid CN resident IDs one typo away from ``claimed``: one substituted
    character, two adjacent characters swapped, one character lost or doubled (Damerau, 1964:
    these four cover about 80 % of typing errors). Sorted; ``claimed`` itself excluded."""
    out: set[str] = set()
    n = len(claimed)
    alphabet = _ID_CHARS + "X"
    candidates: set[str] = set()
    if n == 18:
        for i in range(18):
            for ch in (alphabet if i == 17 else _ID_CHARS):
                if ch != claimed[i]:
                    candidates.add(claimed[:i] + ch + claimed[i + 1:])
        for i in range(17):
            candidates.add(claimed[:i] + claimed[i + 1] + claimed[i] + claimed[i + 2:])
    elif n == 17:
        for i in range(18):
            for ch in (alphabet if i == 17 else _ID_CHARS):
                candidates.add(claimed[:i] + ch + claimed[i:])
    elif n == 19:
        candidates.update(claimed[:i] + claimed[i + 1:] for i in range(19))
    for c in candidates:
        if (c != claimed and len(c) == 18 and c[:17].isdigit()
                and mod_11_2.calc_check_digit(c[:17]) == c[17]):
            out.add(c)
    return sorted(out)
