"""The non-name features of a screen: birth date, nationality, documents.

Each returns ``(adjustment, explanation)``; the adjustment is added to the name score (a
document hit sets the score to 1). Figures are this project's choice, tuned on no data (say so
when asked): an exact birth date that agrees adds :data:`BIRTH_EXACT_BONUS`, a year that agrees
:data:`BIRTH_YEAR_BONUS`; a birth year more than one year outside every listed date or range
subtracts :data:`BIRTH_CONTRADICTION_PENALTY`; a missing date on either side changes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Any

from socialcredit.screening.model import ListedParty
from socialcredit.screening.text import normalise_document_number

__all__ = [
    "BIRTH_CONTRADICTION_PENALTY", "BIRTH_EXACT_BONUS", "BIRTH_YEAR_BONUS", "birth_feature",
    "country_code", "document_feature", "listed_birth", "nationality_feature",
]

BIRTH_EXACT_BONUS = 0.08
BIRTH_YEAR_BONUS = 0.03
BIRTH_CONTRADICTION_PENALTY = 0.25
NATIONALITY_BONUS = 0.02
NATIONALITY_PENALTY = 0.05

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_YEAR_RE = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_DMY_RE = re.compile(r"\b(\d{1,2}) ([A-Za-z]{3})[a-z]* (\d{4})\b")
_ISO_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


@lru_cache(maxsize=1 << 14)
def listed_birth(text: str) -> tuple[int, int, str | None] | None:
    """A listed birth date as ``(first year, last year, ISO date or None)``: ``1970-01-31`` and
    ``31 Jan 1970`` are exact; ``1970``, ``circa 1970`` (±1 year), ``1968 to 1970`` are years.
    None when no year can be read."""
    if m := _ISO_RE.match(text):
        return int(m.group(1)), int(m.group(1)), m.group(0)
    if (m := _DMY_RE.search(text)) and m.group(2).lower() in _MONTHS:
        iso = f"{m.group(3)}-{_MONTHS[m.group(2).lower()]:02d}-{int(m.group(1)):02d}"
        return int(m.group(3)), int(m.group(3)), iso
    years = [int(y) for y in _YEAR_RE.findall(text)]
    if not years:
        return None
    slack = 1 if "circa" in text.lower() or "approx" in text.lower() else 0
    return min(years) - slack, max(years) + slack, None


def birth_feature(query: str | None, party: ListedParty) -> tuple[float, dict[str, Any]]:
    """Compare the query's birth date (``YYYY-MM-DD`` or ``YYYY``) with the party's."""
    listed = [b for b in map(listed_birth, party.birth_dates) if b is not None]
    if not query or not listed:
        return 0.0, {"result": "missing", "listed": list(party.birth_dates)}
    year = int(query[:4])
    exact = query if len(query) == 10 else None
    if exact and any(iso == exact for _, _, iso in listed):
        return BIRTH_EXACT_BONUS, {"result": "agrees", "listed": list(party.birth_dates)}
    if any(lo <= year <= hi for lo, hi, iso in listed
           if iso is None or exact is None or iso[:4] != str(year)):
        return BIRTH_YEAR_BONUS, {"result": "agrees_year", "listed": list(party.birth_dates)}
    if any(lo - 1 <= year <= hi + 1 for lo, hi, _ in listed):
        return 0.0, {"result": "near", "listed": list(party.birth_dates)}
    return -BIRTH_CONTRADICTION_PENALTY, {"result": "contradicts",
                                          "listed": list(party.birth_dates)}


@lru_cache(maxsize=4096)
def country_code(text: str) -> str | None:
    """ISO 3166-1 alpha-2 code of a country name or code (``Russia``, ``RU``, ``RUS``), or
    None when ``pycountry`` cannot tell (a name is also searched fuzzily; a code of up to
    three letters must be exact)."""
    import pycountry

    cleaned = text.strip()
    if not cleaned:
        return None
    try:
        return str(pycountry.countries.lookup(cleaned).alpha_2)
    except LookupError:
        pass
    if len(cleaned) <= 3:
        return None  # a code is exact: fuzzy search takes "XX" for some country
    try:
        found = pycountry.countries.search_fuzzy(cleaned)
    except LookupError:
        return None
    return str(found[0].alpha_2) if found else None


def nationality_feature(query: str | None, party: ListedParty) -> tuple[float, dict[str, Any]]:
    """Compare the query's nationality with the party's (several listed: any agrees)."""
    if not query or not party.nationalities:
        return 0.0, {"result": "missing", "listed": list(party.nationalities)}
    want = country_code(query)
    have = {country_code(n) for n in party.nationalities} - {None}
    if want is None or not have:
        return 0.0, {"result": "unknown", "listed": list(party.nationalities)}
    if want in have:
        return NATIONALITY_BONUS, {"result": "agrees", "listed": list(party.nationalities)}
    return -NATIONALITY_PENALTY, {"result": "contradicts", "listed": list(party.nationalities)}


def document_feature(numbers: list[str], party: ListedParty) -> dict[str, Any] | None:
    """The first listed document whose normalised number equals one of the query's (already
    normalised) ``numbers``: ``{"kind", "number", "country"}``, or None."""
    want = set(numbers)
    for doc in party.documents:
        if normalise_document_number(doc.number) in want:
            return {"kind": doc.kind, "number": doc.number, "country": doc.country}
    return None


#: No one screened was born earlier: a year or date before it is a typo or a placeholder.
EARLIEST_BIRTH_YEAR = 1850


def check_birth_date(text: str, *, today: dt.date | None = None) -> str:
    """Validate a query birth date: ``YYYY-MM-DD`` or ``YYYY``, not in the future.

    Raises:
        ValueError: with the reason (the faces turn it into their input error).
    """
    today = today or dt.datetime.now(dt.UTC).date()
    text = text.strip()
    if re.fullmatch(r"\d{4}", text):
        if int(text) > today.year or int(text) < EARLIEST_BIRTH_YEAR:
            raise ValueError(f"birth year {text} is not between {EARLIEST_BIRTH_YEAR} and "
                             f"{today.year}")
        return text
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"birth date {text!r} is not YYYY-MM-DD or YYYY") from None
    if day > today:
        raise ValueError(f"birth date {text} is in the future")
    if day.year < EARLIEST_BIRTH_YEAR:
        raise ValueError(f"birth date {text} is before {EARLIEST_BIRTH_YEAR}")
    return day.isoformat()
