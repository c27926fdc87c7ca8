"""The organisation a furnisher row is about (issue #13), checked before the row is accepted.

A row about an organisation carries ``organisation_id`` (checked by the policy's organisation
scheme: the unified social credit code in China, socialcredit/identity/organisation.py) and no
person's identifier, for a record kind whose catalogue ``subjects`` include ``organisation``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from socialcredit.errors import IdentifierError
from socialcredit.identity.organisation import organisation_scheme_for
from socialcredit.policy.model import KindSpec, Policy
from socialcredit.store.tables import records, subjects

__all__ = ["REGISTERED", "organisation_of_row", "registered_organisations", "unregistered"]

#: The record kind by which a regulator registers an organisation.
REGISTERED = "organisation_registered"
#: Record kinds about an organisation's people: refused for an organisation the registry has
#: no registration of (issue #13), so that no restriction rests on an unknown enterprise.
_NEEDS_REGISTRATION = ("representative_appointed", "representative_ended")


def organisation_of_row(data: dict[str, Any], policy: Policy, spec: KindSpec | None,
                        failed: set[str]) -> tuple[str | None, list[tuple[str, str]]]:
    """(canonical ``organisation_id`` of a row about an organisation, or None for a person's
    row; every problem as (field, reason)): a bad code, a person's identifier beside it, a
    kind that concerns persons only, or a person's row of a kind that concerns organisations
    only. ``failed``: common fields already refused (not reported twice)."""
    kinds = spec.subjects if spec is not None else ("person", "organisation")
    problems: list[tuple[str, str]] = []
    if "organisation_id" not in data:
        if ("person" not in kinds and "organisation_id" not in failed
                and ("national_id" in data or "phone" in data)):
            problems.append(("organisation_id", (
                f"kind {data.get('kind')!r} concerns organisations: give the organisation's "
                "organisation_id, not a person's national_id or phone")))
        return None, problems
    for other in ("national_id", "phone"):
        if other in data:
            problems.append((other, (
                "a record concerns one subject: a person (national_id, phone) or an "
                "organisation (organisation_id), not both")))
    if "organisation" not in kinds:
        problems.append(("organisation_id", (
            f"kind {data.get('kind')!r} concerns persons only; the catalogue does not take "
            "it for an organisation")))
    scheme = policy.identity.organisation_id
    try:
        return organisation_scheme_for(scheme.scheme, scheme.pattern).parse(
            str(data["organisation_id"])).value, problems
    except IdentifierError as e:
        problems.append(("organisation_id", e.message))
        return None, problems


def registered_organisations(conn: Connection, codes: set[str]) -> set[str]:
    """Those of the organisation ``codes`` with an active ``organisation_registered`` record
    (of any furnisher) on ``conn``."""
    todo, out = sorted(codes), set[str]()
    for i in range(0, len(todo), 500):
        out.update(conn.execute(select(subjects.c.organisation_id).join(
            records, records.c.subject_id == subjects.c.id).where(
            subjects.c.organisation_id.in_(todo[i:i + 500]), records.c.kind == REGISTERED,
            records.c.status == "active")).scalars())
    return out


def unregistered(policy: Policy, kind: str, code: str | None,
                 registered: set[str]) -> str | None:
    """Why a row of ``kind`` about organisation ``code`` is refused (no registration of it
    in ``registered``, the codes registered so far), or None."""
    if kind not in _NEEDS_REGISTRATION or code is None or REGISTERED not in policy.catalogue:
        return None
    if code in registered:
        return None
    return (f"unknown organisation {code}: no {REGISTERED} record of it; the regulator "
            f"reports the registration first (earlier in this file or before), then its "
            f"representatives")
