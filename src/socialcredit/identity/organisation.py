"""Organisations as subjects: their identifier schemes and their names.

The scheme is a policy setting (``identity.organisation_id.scheme``):

* ``cn.uscc`` — the unified social credit code of GB 32100-2015 (统一社会信用代码): 18
  characters from ``0-9`` and the capitals but ``I O S V Z``. Character 1 is the registration
  authority (1 institutional staffing, 2 foreign affairs, 3 justice, 4 culture, 5 civil
  affairs, 6 tourism, 7 religious affairs, 8 trade unions, 9 market regulation, A the Central
  Military Commission's staffing office, N agriculture, Y other); character 2 the category
  of organisation under that authority (under 9: 1 enterprise, 2 individual business,
  3 farmers' co-operative); characters 3–8 the administrative division (GB/T 2260) where it
  was registered; 9–17 the organisation code (GB 11714); 18 a check character (weighted sum
  modulo 31, computed with python-stdnum ``stdnum.cn.uscc``). python-stdnum 2.2 takes only
  digits as the authority, so the letter authorities (A, N, Y) are checked here, with its
  check-character function. The categories of authorities other than 9 are taken as any
  digit 1–9: the standard's appendix lists them per authority and we hold no verified copy
  of every row (uncertain; tighten when one is at hand). The check character of the embedded
  organisation code (character 17) is not checked: codes issued to individual businesses
  before 2015 do not all carry one (uncertain).
* any other python-stdnum module path (``gb.utr``, ``fr.siren``, ``de.handelsregisternummer``,
  ``nl.kvk``, …) — validated and compacted by that module, so other countries' company
  numbers work too.
* ``generic`` — a regular expression ``pattern`` from the policy.

Names (:func:`organisation_name`): NFKC (full-width letters, digits and brackets to their
plain forms), traditional characters to simplified (OpenCC ``t2s``), spaces collapsed, and
the legal-form words at the end recognised and split off (``有限公司``, ``股份有限公司``,
``Co., Ltd.``, ``Limited``, ``Inc.``, ``GmbH`` …), so that ``北京華為技術有限公司`` and
``北京华为技术有限公司`` share one matching key.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import Any

from stdnum.exceptions import ValidationError as StdnumError

from socialcredit.errors import ConfigError, IdentifierError

__all__ = ["LEGAL_FORMS", "OrganisationId", "OrganisationName", "OrganisationScheme",
           "looks_like_uscc", "organisation_name", "organisation_scheme_for"]

#: GB 32100-2015 registration authorities (character 1) and, where verified, the categories
#: (character 2) each may issue; None: any digit 1-9 (see the module docstring).
REGISTRATION_AUTHORITIES: dict[str, tuple[str, frozenset[str] | None]] = {
    "1": ("institutional staffing (机构编制)", None),
    "2": ("foreign affairs (外交)", None),
    "3": ("justice administration (司法行政)", None),
    "4": ("culture (文化)", None),
    "5": ("civil affairs (民政)", None),
    "6": ("tourism (旅游)", None),
    "7": ("religious affairs (宗教)", None),
    "8": ("trade unions (工会)", None),
    "9": ("market regulation (工商)", frozenset("123")),
    "A": ("Central Military Commission staffing office (中央军委改革和编制办公室)", None),
    "N": ("agriculture (农业)", None),
    "Y": ("other (其他)", None),
}
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
#: Full-width ASCII (U+FF01..FF5E, as East Asian input methods type it) to ASCII; nothing else
#: (a superscript or another script's digit stays and fails the check).
_WIDE = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_SEPARATORS = {ord(c): None for c in " \t\u3000-\u2010\u2011\u2012\u2013\u2014\u2015"}


@dataclass(frozen=True, slots=True)
class OrganisationId:
    """A validated organisation identifier: ``value`` the compact canonical form; for a USCC
    also the ``authority`` and ``category`` characters and the ``region_code`` (6 digits)."""

    value: str
    authority: str | None = None
    category: str | None = None
    region_code: str | None = None


def _text(raw: Any) -> str:
    return str(raw).strip().translate(_WIDE).translate(_SEPARATORS).upper()


def looks_like_uscc(raw: Any) -> bool:
    """True when ``raw`` has the shape of a unified social credit code (18 characters of its
    alphabet with a digit-only region), whether or not its check character is right: used to
    say "this is an organisation's code" when one is sent in a person's ID field."""
    text = _text(raw)
    return (len(text) == 18 and all(c in _USCC_ALPHABET for c in text)
            and text[2:8].isdigit() and not text[:17].isdigit())


def _parse_uscc(raw: Any) -> OrganisationId:
    from stdnum.cn import uscc

    text = _text(raw)
    shown = str(raw).strip()
    if len(text) != 18:
        raise IdentifierError(f"unified social credit code {shown!r} must be 18 characters "
                              f"(it has {len(text)})", details={"reason": "length"})
    bad = [c for c in text if c not in _USCC_ALPHABET]
    if bad or not text[2:8].isdigit():
        raise IdentifierError(
            f"unified social credit code {shown!r} may hold only digits and the capitals but "
            "I, O, S, V, Z, with digits in characters 3-8 (GB 32100-2015)",
            details={"reason": "characters"})
    authority, category = text[0], text[1]
    known = REGISTRATION_AUTHORITIES.get(authority)
    if known is None:
        raise IdentifierError(
            f"unified social credit code {shown!r}: {authority!r} is no registration "
            f"authority (one of {', '.join(REGISTRATION_AUTHORITIES)}; GB 32100-2015)",
            details={"reason": "registration_authority"})
    allowed = known[1] if known[1] is not None else frozenset("123456789")
    if category not in allowed:
        raise IdentifierError(
            f"unified social credit code {shown!r}: {category!r} is no category of "
            f"organisation registered by {known[0]} (one of {', '.join(sorted(allowed))})",
            details={"reason": "category"})
    if uscc.calc_check_digit(text[:17]) != text[17]:
        raise IdentifierError(
            f"unified social credit code {shown!r} has a wrong check character (GB 32100-2015,"
            " modulo 31)", details={"reason": "check_character"})
    return OrganisationId(text, authority, category, text[2:8])


class OrganisationScheme:
    """Validate and normalise organisation identifiers of one scheme (module docstring)."""

    def __init__(self, scheme: str, pattern: str | None = None) -> None:
        self.scheme = scheme
        # furnisher files repeat the same organisations: memoise (results are immutable)
        self.parse = lru_cache(maxsize=65_536)(self._parse)  # type: ignore[method-assign]
        self._regex: re.Pattern[str] | None = None
        self._module: ModuleType | None = None
        if scheme == "generic":
            if not pattern:
                raise ConfigError("identity.organisation_id: scheme 'generic' needs a `pattern`")
            try:
                self._regex = re.compile(pattern)
            except re.error as e:
                raise ConfigError(f"identity.organisation_id.pattern: {e}") from e
        elif scheme != "cn.uscc":
            try:
                self._module = importlib.import_module(f"stdnum.{scheme}")
            except ImportError as e:
                raise ConfigError(
                    f"identity.organisation_id.scheme: python-stdnum has no module {scheme!r}"
                ) from e

    def parse(self, raw: str) -> OrganisationId:
        """The canonical identifier (memoised per scheme); raises as :meth:`_parse`."""
        return self._parse(raw)

    def _parse(self, raw: str) -> OrganisationId:
        """The canonical identifier.

        Raises:
            IdentifierError: wrong length, characters, registration authority, category or
                check character; ``details["reason"]`` says which.
        """
        if self.scheme == "cn.uscc":
            return _parse_uscc(raw)
        text = str(raw).strip().translate(_WIDE)
        if self._regex is not None:
            compact = re.sub(r"[\s-]", "", text)
            if not self._regex.fullmatch(compact):
                raise IdentifierError(f"{text!r} does not match the organisation ID pattern",
                                      details={"reason": "pattern"})
            return OrganisationId(compact)
        assert self._module is not None
        try:
            return OrganisationId(self._module.validate(text))
        except StdnumError as e:
            raise IdentifierError(f"invalid organisation ID {text!r}: {e}",
                                  details={"reason": "check"}) from e


_SCHEMES: dict[tuple[str, str | None], OrganisationScheme] = {}


def organisation_scheme_for(scheme: str, pattern: str | None = None) -> OrganisationScheme:
    """A cached :class:`OrganisationScheme` (raises ConfigError for an unknown scheme)."""
    key = (scheme, pattern)
    if key not in _SCHEMES:
        _SCHEMES[key] = OrganisationScheme(scheme, pattern)
    return _SCHEMES[key]


# --- names ------------------------------------------------------------------------------------
#: Legal-form words recognised at the end of a name, longest first within each script, with
#: the form they name (Company Law of the PRC (2023 rev.), Arts. 7 and 144: a limited
#: liability company's name contains 有限责任公司 or 有限公司, a joint stock company's
#: 股份有限公司 or 股份公司).
LEGAL_FORMS: tuple[tuple[str, str], ...] = (
    ("股份有限公司", "joint_stock_limited"),
    ("有限责任公司", "limited_liability"),
    ("股份公司", "joint_stock_limited"),
    ("有限公司", "limited_liability"),
    ("合伙企业", "partnership"),
    ("个体工商户", "individual_business"),
)
_LATIN_FORMS = re.compile(
    r"[\s,]*\b(?:(?P<ltd>(?:co(?:mpany)?\.?\s*,?\s*)?(?:ltd\.?|limited))"
    r"|(?P<inc>inc\.?|incorporated|corp\.?|corporation)|(?P<llc>l\.?l\.?c\.?)"
    r"|(?P<gmbh>gmbh)|(?P<plc>plc))\s*$", re.IGNORECASE)
_LATIN_NAMES = {"ltd": "limited_liability", "inc": "corporation", "llc": "limited_liability",
                "gmbh": "limited_liability", "plc": "public_limited"}


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


@dataclass(frozen=True, slots=True)
class OrganisationName:
    """A normalised organisation name: ``text`` (NFKC, simplified characters, single spaces),
    ``base`` (without the legal form), ``legal_form`` (a code of :data:`LEGAL_FORMS` or
    ``corporation``, ``public_limited``; None when none is recognised) and ``key`` (the base,
    case-folded, without spaces and punctuation: the matching key)."""

    text: str
    base: str
    legal_form: str | None
    key: str


@lru_cache(maxsize=65_536)
def organisation_name(raw: str) -> OrganisationName:
    """Normalise an organisation name (module docstring): ``organisation_name("北京華為技術有限
    公司").key == organisation_name("北京华为技术有限公司").key``;
    ``organisation_name("Acme Trading Co., Ltd.").legal_form == "limited_liability"``."""
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    text = _t2s().convert(text) if not text.isascii() else text
    text = " ".join(text.split())
    base, form = text, None
    for word, code in LEGAL_FORMS:
        if text.endswith(word) and len(text) > len(word):
            base, form = text[:-len(word)], code
            break
    else:
        m = _LATIN_FORMS.search(text)
        if m is not None and m.start() > 0:
            base = text[:m.start()]
            form = _LATIN_NAMES[next(k for k, v in m.groupdict().items() if v)]
    key = "".join(ch for ch in base.casefold() if ch.isalnum())
    return OrganisationName(text, base.strip(" ,"), form, key)
