"""Validation of one furnisher row against the policy's catalogue.

A row becomes a :class:`ValidRecord` or a list of :class:`Problem` (every problem of the row,
not just the first). Common fields: ``furnisher_record_id`` (required), ``kind`` (required, in
the catalogue), ``occurred_at`` (required ISO date or date-time, not in the future; a local
date of the policy's time zone, to which a date-time with an offset is converted),
``national_id`` (checked by the policy's scheme), ``phone`` (E.164), ``name``, ``corrects``,
``address`` and optional ``birth_date``/``sex`` cross-checked against the national ID. Money is
an integer in minor units (``amount_minor``) with an ISO 4217 ``currency``.

A national ID that looks like a typo of a real one (right shape, wrong check character or an
impossible embedded date; one character too many or too few) does not lose the row: it is kept
as ``claimed_id`` with the flag ``id_check_failed`` and linked probabilistically (issue #3). An
ID whose embedded birth date or sex contradicts the row's own ``birth_date``/``sex`` is kept
the same way (flags ``birth_date_conflict`` / ``sex_conflict``): neither is trusted, so the row
is never linked by that ID alone. So is a 15-digit legacy ID (upgraded to 18 characters): it
has no check character (flag ``legacy_id_unchecked``).

A record about an organisation carries its ``organisation_id`` (checked by the policy's
organisation scheme, the unified social credit code in China) instead of a national ID or a
phone, and only for a kind whose catalogue ``subjects`` include ``organisation``; a USCC sent
in a person's ``national_id`` field is refused with that reason. A payload field of type
``national_id`` (a legal representative's) is checked by the national ID scheme.

A ``phone`` that is not a valid number does not lose the row either: the record lands without
it, and the phone is told back in ``ValidRecord.dropped`` (field, reason), unless the phone was
all the row had to say who it concerns (then the row is quarantined, as it concerns nobody).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import pycountry

from socialcredit.errors import IdentifierError
from socialcredit.identity import normalise_phone, scheme_for
from socialcredit.identity.national_id import plausible_typo
from socialcredit.identity.organisation import looks_like_uscc
from socialcredit.ingest.organisation_rows import organisation_of_row
from socialcredit.ingest.readers import storable
from socialcredit.policy.model import FieldSpec, Policy
from socialcredit.policy.obligations import transfer_problems
from socialcredit.store.ledger import canonical_json

__all__ = ["COMMON_FIELDS", "Problem", "ValidRecord", "validate_row"]

COMMON_FIELDS = frozenset(
    {"furnisher_record_id", "kind", "occurred_at", "national_id", "phone", "name", "corrects",
     "birth_date", "sex", "address", "organisation_id"}
)
#: Longest accepted text, in characters, per common field (and for any text field: 200).
MAX_CHARS = {"furnisher_record_id": 120, "corrects": 120, "name": 200, "national_id": 64,
             "phone": 32, "kind": 40, "birth_date": 10, "sex": 1,
             "address": 300, "organisation_id": 64}
MAX_TEXT_CHARS = 200
#: Largest amount in minor units: 10^15 (10 trillion yuan) — above any real judgment and
#: within the exact-integer range of JSON readers (2^53).
MAX_AMOUNT_MINOR = 10**15
#: ISO 4217 codes that are not money of a country: precious metals, SDR, bond-market units,
#: testing and "no currency" (ISO 4217, code list one, X-codes without a country).
NON_MONEY_CURRENCIES = frozenset({"XAU", "XAG", "XPT", "XPD", "XDR", "XBA", "XBB", "XBC", "XBD",
                                  "XSU", "XUA", "XTS", "XXX"})
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


@dataclass(frozen=True)
class Problem:
    field: str | None
    reason: str


@dataclass(frozen=True)
class ValidRecord:
    """A row that passed validation. ``payload`` holds only the kind's catalogue fields, typed;
    ``content_hash`` is the SHA-256 of everything the furnisher said (for idempotency)."""

    furnisher_record_id: str
    kind: str
    occurred_at: str  # ISO date
    national_id: str | None
    phone: str | None
    name: str | None
    corrects: str | None
    payload: dict[str, Any]
    content_hash: str
    birth_date: str | None = None
    sex: str | None = None
    #: A national ID as sent that cannot be trusted (wrong check character, impossible embedded
    #: date, or it contradicts the row's birth date or sex): kept for probabilistic linkage.
    claimed_id: str | None = None
    address: str | None = None
    #: Identity warnings, e.g. ``id_check_failed``, ``birth_date_conflict``, ``sex_conflict``.
    flags: tuple[str, ...] = ()
    #: The organisation the record concerns (canonical form of the policy's organisation
    #: scheme), for a record about an organisation; such a record has no national ID or phone.
    organisation_id: str | None = None
    #: People a record names by their national ID in payload fields of type ``national_id``
    #: (an organisation's legal representative), with the name beside it (field ``X_name``
    #: for ``X_id``): (national ID, name or None).
    named_ids: tuple[tuple[str, str | None], ...] = ()
    #: Fields sent but not kept, each (field, reason): a phone that is not a valid number (the
    #: record lands without it; the furnisher is told in the ingest answer).
    dropped: tuple[tuple[str, str], ...] = ()


def _show(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for a reason that quotes the value."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _parse_date(value: Any, zone: str | None = None) -> dt.date:
    """A date, or the date of a date-time: a date-time with an offset (``…T23:30:00Z``) is
    taken on the local day of ``zone`` (the policy's time zone), where given."""
    if isinstance(value, dt.datetime):
        if zone is not None and value.tzinfo is not None:
            return value.astimezone(ZoneInfo(zone)).date()
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO date string, got {type(value).__name__} {value!r:.40}")
    return _parse_date_text(value, zone)


@lru_cache(maxsize=65_536)
def _parse_date_text(value: str, zone: str | None = None) -> dt.date:
    """An ISO date (or date-time) string as a date (as :func:`_parse_date`); memoised, as a
    file repeats its days."""
    text = value.strip()
    try:
        if len(text) > 10:
            moment = dt.datetime.fromisoformat(text)
            if zone is not None and moment.tzinfo is not None:
                moment = moment.astimezone(ZoneInfo(zone))
            return moment.date()
        return dt.date.fromisoformat(text)
    except ValueError as e:
        raise ValueError(f"{_show(text)} is not a possible ISO date (YYYY-MM-DD)") from e


@lru_cache(maxsize=1024)
def _is_currency(code: str) -> bool:
    return pycountry.currencies.get(alpha_3=code) is not None


def _field(name: str, spec: FieldSpec, value: Any) -> Any:
    """Coerce one payload field; raises ValueError with the reason."""
    if spec.type in ("int", "money"):
        if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{_show(value)} is not an integer")
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValueError(
                f"{_show(value)} is not an integer"
                + (" number of minor units (e.g. 1234 for 12.34)" if spec.type == "money" else "")
            ) from None
        if spec.type == "money" and number < 0:
            raise ValueError(f"negative amount {number}: amounts are ≥ 0 in minor units")
        if spec.type == "money" and number > MAX_AMOUNT_MINOR:
            raise ValueError(f"amount {number} is above the maximum {MAX_AMOUNT_MINOR:,} "
                             "minor units")
        if spec.min is not None and number < spec.min:
            raise ValueError(f"{number} is below the minimum {spec.min}")
        if spec.max is not None and number > spec.max:
            raise ValueError(f"{number} is above the maximum {spec.max}")
        return number
    if spec.type == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"{_show(value)} is not true or false")
    if spec.type == "currency":
        code = str(value).strip().upper()
        if not _is_currency(code):
            raise ValueError(f"{_show(value)} is not an ISO 4217 currency code")
        if code in NON_MONEY_CURRENCIES:
            raise ValueError(f"{code} is not a currency of money (ISO 4217 X-code)")
        return code
    if spec.type == "enum":
        text = str(value).strip()
        if spec.choices and text not in spec.choices:
            raise ValueError(f"{_show(text)} is not one of {', '.join(spec.choices)}")
        return text
    if spec.type == "date":
        return _parse_date(value).isoformat()
    return _text(value, MAX_TEXT_CHARS)


def _text(value: Any, limit: int) -> str:
    """A text field: a string (or a number, as CSV and JSON writers produce) of at most
    ``limit`` characters, NFC-normalised. Raises ValueError for lists, objects, booleans, and
    for control characters other than tab and line breaks or lone surrogates (a JSON
    ``"\\ud800"``), which no store can hold or no person's record needs."""
    if type(value) is str and value.isascii() and value.isprintable():
        # most fields: printable ASCII holds no control character and is already NFC
        text = value.strip()
        if len(text) <= limit:
            return text
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected text, got {type(value).__name__} {_show(value)}")
    raw = str(value)
    bad = _FORBIDDEN.search(raw)
    if bad is not None:
        ch = bad.group()
        kind = "lone surrogate" if unicodedata.category(ch) == "Cs" else "control character"
        raise ValueError(f"a {kind} U+{ord(ch):04X} at character {bad.start() + 1}; text may "
                         "hold neither control characters nor lone surrogates")
    text = raw.strip()
    if not text.isascii():  # ASCII is already NFC: skip the normalisation for most fields
        text = unicodedata.normalize("NFC", text)
    if len(text) > limit:
        raise ValueError(f"{len(text)} characters; at most {limit} are accepted")
    return text


#: Unicode categories Cc (C0 and C1 controls, DEL) but tab and line breaks, and Cs (surrogates).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


#: No record is older than this (the registry's data starts in the 20th century).
EARLIEST_DATE = dt.date(1900, 1, 1)


def validate_row(
    data: dict[str, Any], policy: Policy, *, today: dt.date, furnisher_kind: str | None = None,
) -> ValidRecord | list[Problem]:
    """Validate one row (keys lower-case, empty values already dropped). ``furnisher_kind`` is
    checked against the kind's ``furnisher_kinds`` in the catalogue."""
    problems: list[Problem] = []
    failed: set[str] = set()
    clean = dict(data)
    for key in [k for k in data if k in MAX_CHARS]:
        try:
            clean[key] = _text(data[key], MAX_CHARS[key])
        except ValueError as e:
            problems.append(Problem(key, str(e)))
            failed.add(key)
            del clean[key]
    data = clean
    frid = str(data.get("furnisher_record_id", "")).strip()
    if not frid and "furnisher_record_id" not in failed:
        problems.append(Problem("furnisher_record_id", "missing required field"))
    kind = str(data.get("kind", "")).strip()
    spec = policy.catalogue.get(kind)
    if not kind:
        if "kind" not in failed:
            problems.append(Problem("kind", "missing required field"))
    elif spec is None:
        problems.append(Problem("kind", f"unknown record kind {kind!r}: not in the policy's "
                                f"catalogue ({', '.join(sorted(policy.catalogue))})"))
    elif (furnisher_kind and spec.furnisher_kinds
          and furnisher_kind not in spec.furnisher_kinds):
        problems.append(Problem("kind", f"a {furnisher_kind} furnisher may not report {kind} "
                                f"records (only {', '.join(spec.furnisher_kinds)})"))
    occurred: str | None = None
    if "occurred_at" not in data:
        problems.append(Problem("occurred_at", "missing required field"))
    else:
        try:
            day = _parse_date(data["occurred_at"], policy.jurisdiction.time_zone)
            if day > today + dt.timedelta(days=1):
                problems.append(Problem("occurred_at", f"{day} is in the future"))
            elif day < EARLIEST_DATE:
                problems.append(Problem("occurred_at", f"{day} is before {EARLIEST_DATE}"))
            occurred = day.isoformat()
        except ValueError as e:
            problems.append(Problem("occurred_at", str(e)))
    nid = birth = sex = claimed = None
    flags: list[str] = []
    if "national_id" in data:
        ident = policy.identity.national_id
        try:
            parsed = scheme_for(ident.scheme, ident.pattern).parse(str(data["national_id"]))
            nid = parsed.value
            birth = parsed.birth_date.isoformat() if parsed.birth_date else None
            sex = parsed.sex
            if parsed.upgraded_from_15:
                # the 15-digit form has no check character: a typo in it passes unseen, so
                # it is linked like a claimed ID, never by itself (issue #3)
                nid, claimed = None, nid
                flags.append("legacy_id_unchecked")
        except IdentifierError as e:
            claimed = plausible_typo(str(data["national_id"]), e)
            if claimed is None and looks_like_uscc(data["national_id"]):
                problems.append(Problem("national_id", (
                    f"{_show(data['national_id'])} is not a person's national ID but looks "
                    "like an organisation's unified social credit code: send it as "
                    "organisation_id")))
            elif claimed is None:
                problems.append(Problem("national_id", e.message))
            else:  # a typo (issue #3): kept, never trusted; linked probabilistically
                flags.append("id_check_failed")
    if birth and occurred and occurred < birth:
        problems.append(Problem("occurred_at", f"{occurred} is before the birth date {birth} "
                                "embedded in the national ID"))
    org, wrong = organisation_of_row(data, policy, spec, failed)
    problems += [Problem(f, why) for f, why in wrong]
    if ("national_id" not in data and "phone" not in data and "organisation_id" not in data
            and not failed & {"national_id", "phone", "organisation_id"}):
        problems.append(Problem("national_id", "a record needs a national_id or a phone (a "
                                "person) or an organisation_id (an organisation): it must "
                                "concern someone"))
    stated_birth = None
    if "birth_date" in data:
        try:
            day = _parse_date(data["birth_date"])
            if day > today:
                problems.append(Problem("birth_date", f"{day} is in the future"))
            elif day < EARLIEST_DATE:
                problems.append(Problem("birth_date", f"{day} is before {EARLIEST_DATE}"))
            else:
                stated_birth = day.isoformat()
        except ValueError as e:
            problems.append(Problem("birth_date", str(e)))
    stated_sex = str(data["sex"]).strip().upper() if "sex" in data else None
    if stated_sex is not None and stated_sex not in ("M", "F"):
        problems.append(Problem("sex", f"{data['sex']!r} is not M or F"))
    # an ID that disagrees with the row's own birth date or sex: flag it and trust neither (the
    # row is linked probabilistically and reviewed, never by the ID alone)
    for key, stated, embedded in (("birth_date", stated_birth, birth),
                                  ("sex", stated_sex, sex)):
        if stated is not None and embedded is not None and stated != embedded:
            flags.append(f"{key}_conflict")
    if nid is not None and any(f.endswith("_conflict") for f in flags):
        nid, claimed = None, nid
    phone = None
    dropped: list[Problem] = []
    if "phone" in data:
        try:
            phone = normalise_phone(str(data["phone"]), policy.identity.phone.default_region)
        except IdentifierError as e:
            # the record stands without it when something else says who it concerns
            others = {"national_id", "organisation_id"} & (set(data) | failed)
            (dropped if others else problems).append(Problem("phone", e.message))
    payload: dict[str, Any] = {}
    if spec is not None:
        for name, fspec in spec.fields.items():
            if name not in data:
                if fspec.required:
                    problems.append(Problem(name, f"missing required field for kind {kind!r}"))
                continue
            try:
                if fspec.type == "national_id":
                    ident = policy.identity.national_id
                    payload[name] = scheme_for(ident.scheme, ident.pattern).parse(
                        _text(data[name], MAX_CHARS["national_id"])).value
                else:
                    payload[name] = _field(name, fspec, data[name])
            except IdentifierError as e:
                problems.append(Problem(name, e.message))
            except ValueError as e:
                problems.append(Problem(name, str(e)))
        if spec.obligation is not None:
            problems += [Problem(f, why) for f, why in transfer_problems(spec.obligation,
                                                                          payload)]
        extra = sorted(set(data) - COMMON_FIELDS - set(spec.fields))
        for name in extra:
            problems.append(Problem(storable(name)[:80], "field not in the catalogue for kind "
                                    f"{kind!r}; the registry collects only catalogued fields"))
    if problems:
        return problems + dropped  # quarantined anyway: every problem of the row
    person = data.get("name") or None
    corrects = data.get("corrects") or None
    address = str(data["address"]).strip() or None if "address" in data else None
    assert occurred is not None
    body: dict[str, Any] = {"furnisher_record_id": frid, "kind": kind, "occurred_at": occurred,
                            "national_id": nid or claimed, "phone": phone, "name": person,
                            "corrects": corrects, "payload": payload}
    if address is not None:  # absent keys stay out: hashes of earlier rows do not change
        body["address"] = address
    if org is not None:
        body["organisation_id"] = org
    digest = hashlib.sha256(canonical_json(body).encode()).hexdigest()
    return ValidRecord(frid, kind, occurred, nid, phone, person, corrects, payload, digest,
                       stated_birth or birth, sex if nid else stated_sex or sex,
                       claimed, address, tuple(flags), org, tuple(
                           (payload[n], payload.get(f"{n[:-3]}_name") if n.endswith("_id")
                            else None)
                           for n, f in spec.fields.items()
                           if f.type == "national_id" and n in payload) if spec else (),
                       tuple((str(d.field), f"{d.reason}; the record was kept without it")
                             for d in dropped))

