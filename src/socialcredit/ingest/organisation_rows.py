"""The organisation a furnisher row is about (issue #13), checked before the row is accepted.

A row about an organisation carries ``organisation_id`` (checked by the policy's organisation
scheme: the unified social credit code in China, socialcredit/identity/organisation.py) and no
person's identifier, for a record kind whose catalogue ``subjects`` include ``organisation``.
"""

from __future__ import annotations

from typing import Any

from socialcredit.errors import IdentifierError
from socialcredit.identity.organisation import organisation_scheme_for
from socialcredit.policy.model import KindSpec, Policy

__all__ = ["organisation_of_row"]


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
