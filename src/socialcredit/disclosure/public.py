"""The national open platform: search of active *public* list entries by name or ID number.

Only lists with ``public: true`` are searched, only active entries are shown, and identifiers
are always masked (``110101************``: the region of issue only). Queries shorter than
``min_chars``, holding wildcard characters, or made only of digits without being a whole ID
number are refused, and a name must match a full name exactly (no prefixes), so that the list
cannot be enumerated by fragments. An entry is shown for its list's public display period by
severity (``public_display`` in the policy), which may be shorter than the listing.

Organisations (issue #13) are found by their whole identifier (the unified social credit code)
or their name as normalised (socialcredit/identity/organisation.py: traditional or simplified,
full-width or not); their entries show the code in full and the fields of SPC 2017, Art. 6(2)
(socialcredit/disclosure/enterprise.py).

Red lists (``effect: incentive``) that are public are searched too: their results say
``effect: "incentive"`` and the ``benefits`` the entry earns (service, benefit, text). A red
entry whose subject holds a live sanctioned entry is suspended
(socialcredit/policy/incentives.py) and not shown: the platform never presents a sanctioned
subject as honoured.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from sqlalchemy import and_, or_, select

from socialcredit.disclosure.enterprise import organisation_fields
from socialcredit.errors import InputError
from socialcredit.identity.link import name_key
from socialcredit.identity.organisation import (
    looks_like_uscc,
    organisation_name,
    organisation_scheme_for,
)
from socialcredit.policy.incentives import suspended_subjects
from socialcredit.policy.jurisdiction import local_today
from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.tables import furnishers, list_entries, names, records, subjects

__all__ = ["mask_identifier", "search_public"]

_WILDCARDS = re.compile(r"[%_*?\\]")
_DIGITS = re.compile(r"^[0-9]+[Xx]?$")


def _organisation_code(policy: Policy, text: str) -> str | None:
    """``text`` as a whole, valid organisation code of the policy's scheme, or None. A unified
    social credit code may be all digits, or digits and a final letter, so the shape alone
    (:func:`looks_like_uscc`) does not tell it from a person's ID: the check does."""
    scheme = policy.identity.organisation_id
    try:
        return organisation_scheme_for(scheme.scheme, scheme.pattern).parse(text).value
    except InputError:
        return None


def _person_id(policy: Policy, text: str) -> str | None:
    """``text`` as a whole, valid national ID of the policy's scheme, or None."""
    from socialcredit.identity import scheme_for

    ident = policy.identity.national_id
    try:
        return scheme_for(ident.scheme, ident.pattern).parse(text).value
    except InputError:
        return None


def mask_identifier(value: str | None) -> str:
    """Keep the first 6 characters only: ``110101************`` for an 18-character ID (the
    region of issue). Showing the last four too, as some registries do, lets anyone recover a
    listed person's whole ID: the birth dates that fit the check character are few enough to
    try one by one against the whole-ID search (a newcomer's pass did it in 1,849 queries)."""
    if not value:
        return ""
    if len(value) <= 10:
        return value[:2] + "*" * (len(value) - 2)
    return value[:6] + "*" * (len(value) - 6)


def _shown(policy: Policy, public_lists: list[str], today: dt.date) -> Any:
    """Entries of the public lists still within their public display period (a list's
    ``public_display`` tiers by ground; other grounds: the whole listing)."""
    parts = []
    for name in public_lists:
        spec = policy.lists[name]
        tiered = sorted({g for t in spec.public_display for g in t.grounds})
        parts.append(and_(list_entries.c.list == name, or_(
            list_entries.c.ground.is_(None), list_entries.c.ground.not_in(tiered))))
        for tier in spec.public_display:
            cutoff = (today - dt.timedelta(days=tier.days - 1)).isoformat()
            parts.append(and_(list_entries.c.list == name,
                              list_entries.c.ground.in_(tier.grounds),
                              list_entries.c.since >= cutoff))
    return or_(*parts)


def search_public(store: Store, policy: Policy, q: str, *, min_chars: int = 2,
                  limit: int = 50, today: dt.date | None = None,
                  ) -> tuple[list[dict[str, Any]], int]:
    """Return (results, total count) for query ``q`` as of ``today`` (default: today in the
    policy's time zone): entries past their list's public display period for their ground
    are not shown.

    Each result: ``entry_id, list, list_title, name, masked_id, ground, ground_text,
    legal_basis, since, until, furnisher, case_number, amount_minor, currency,
    subject_kind`` (``person`` | ``organisation``), ``effect`` (``sanction`` | ``incentive``),
    ``benefits`` (a red list's: ``[{"service", "benefit", "text"}]``), and for an organisation
    ``organisation_id``, ``legal_representative`` and ``performance``
    (``{"performed_minor", "currency"}``), each null for a person or where the list's
    ``public_fields`` leave it out.

    Raises:
        InputError: the query is too short, holds wildcards, or is an invalid ID number or
            organisation code. A text valid as both a code and an ID finds either subject.
    """
    text = q.strip()
    if len(text) < min_chars:
        raise InputError(f"query too short: give at least {min_chars} characters of a name "
                         "or a full ID number")
    if _WILDCARDS.search(text):
        raise InputError("wildcards are not allowed: search a name or a full ID number")
    public_lists = [n for n, s in policy.lists.items() if s.public]
    if not public_lists:
        return [], 0
    cond: Any
    from socialcredit.identity.national_id import normalise_id_text

    org = _organisation_code(policy, text)
    if org is not None:  # a whole, valid code (also one of digits only, GB 32100-2015)
        cond = subjects.c.organisation_id == org
        nid = _person_id(policy, text) if _DIGITS.match(normalise_id_text(text)) else None
        if nid is not None:  # valid as both: either subject
            cond = or_(cond, subjects.c.national_id == nid)
    elif looks_like_uscc(text):  # an organisation's code with a wrong character
        scheme = policy.identity.organisation_id
        try:
            organisation_scheme_for(scheme.scheme, scheme.pattern).parse(text)
        except InputError as e:
            raise InputError(f"give a full name or a whole, valid code ({e.message})") from e
        raise InputError("give a full name or a whole, valid code")  # pragma: no cover
    elif _DIGITS.match(normalise_id_text(text)):  # an ID, also in full-width digits
        from socialcredit.identity import scheme_for

        ident = policy.identity.national_id
        try:
            nid = scheme_for(ident.scheme, ident.pattern).parse(text).value
        except InputError as e:
            raise InputError(f"give a full name or a whole, valid ID number ({e.message})"
                             ) from e
        cond = subjects.c.national_id == nid
    else:
        key = name_key(text)
        if len(key) < min_chars:
            raise InputError(f"query too short: give at least {min_chars} letters of a name")
        cond = or_(subjects.c.id.in_(select(names.c.subject_id).where(
            names.c.name_key == key)), and_(subjects.c.kind == "organisation",
                                           subjects.c.name == organisation_name(text).text))
    stmt = (
        select(list_entries, subjects.c.name, subjects.c.national_id, subjects.c.kind,
               subjects.c.organisation_id,
               furnishers.c.name.label("furnisher"), records.c.payload)
        .join(subjects, subjects.c.id == list_entries.c.subject_id)
        .outerjoin(furnishers, furnishers.c.id == list_entries.c.furnisher_id)
        .outerjoin(records, records.c.id == list_entries.c.record_id)
        .where(and_(list_entries.c.status == "active", list_entries.c.public.is_(True),
                    _shown(policy, public_lists, today or local_today(policy.jurisdiction)),
                    cond))
        .order_by(list_entries.c.since.desc(), list_entries.c.id)
    )
    day = today or local_today(policy.jurisdiction)
    with store.read() as conn:
        rows = conn.execute(stmt.limit(limit + 1)).all()
        red = {r.subject_id for r in rows if policy.lists[r.list].effect == "incentive"}
        if red:  # a red entry is suspended while its subject holds a live sanction
            blocked = suspended_subjects(policy, conn.execute(select(list_entries).where(
                list_entries.c.subject_id.in_(sorted(red)),
                list_entries.c.list.in_(sorted(policy.suspending_lists)))), day.isoformat())
            rows = [r for r in rows if r.subject_id not in blocked
                    or policy.lists[r.list].effect != "incentive"]
        orgs = organisation_fields(conn, policy, rows[:limit], day.isoformat())
    results = []
    for r in rows[:limit]:
        spec = policy.lists[r.list]
        payload = json.loads(r.payload) if r.payload else {}
        shown = set(spec.public_fields)
        full = {
            "ground": r.ground, "ground_text": spec.grounds.get(r.ground) if r.ground else None,
            "legal_basis": spec.legal_basis, "since": r.since, "until": r.until,
            "furnisher": r.furnisher, "case_number": payload.get("case_number"),
            "amount_minor": payload.get("amount_minor"), "currency": payload.get("currency"),
            **orgs.get(r.id, {"legal_representative": None, "performance": None}),
        }
        # the list's ``public_fields`` say what is published (SPC 2017, Art. 6); the rest is
        # null, never guessed
        field_of = {"ground_text": "ground", "amount_minor": "amount", "currency": "amount"}
        results.append({
            "entry_id": r.id, "list": r.list, "list_title": spec.title, "name": r.name,
            "masked_id": mask_identifier(r.national_id), "subject_kind": r.kind,
            # a unit's code is published whole (SPC 2017, Art. 6(2)); a person's ID masked
            "organisation_id": r.organisation_id, "effect": spec.effect,
            "benefits": [{"service": svc, "benefit": b, "text": policy.benefits.get(b, b)}
                         for inc in policy.incentives_for(r.list)
                         for svc, names_ in inc.benefits.items() for b in names_],
            **{k: (v if field_of.get(k, k) in shown else None) for k, v in full.items()},
        })
    return results, len(rows) if len(rows) <= limit else limit + 1
