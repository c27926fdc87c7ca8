"""What the public platform shows of an organisation's entry (SPC Provisions on Publishing the
List of Dishonest Judgment Debtors (2017), Art. 6(2)): for a unit, its name, unified social
credit code (in full: a unit's code is public, unlike a person's ID), the name of its legal
representative or responsible person, and, as for a person, the obligation, its performance,
the conduct (ground), the court and the case number.

``legal_representative`` is the person holding the role on the day of the search, as the
regulator reported them (socialcredit/identity/legal_person.py). ``performance`` is what the
debtor has paid on the case so far: the sum of the amounts of the performance records the
list's removal rules read (those with a ``full`` condition, e.g. ``judgment_performance``), in
minor units, with the currency of the obligation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from socialcredit.identity.legal_person import representations
from socialcredit.policy.model import Policy
from socialcredit.store.tables import records, subjects

__all__ = ["organisation_fields", "represented_organisation"]


def represented_organisation(conn: Connection, key: str) -> dict[str, Any] | None:
    """``{"organisation", "organisation_id", "case_number"}`` of a representative's entry key
    (``<organisation subject id>:<its entry key>``; socialcredit/policy/representatives.py),
    or None for another key."""
    org, _, case = key.partition(":")
    if not org.isdigit():
        return None
    row = conn.execute(select(subjects.c.name, subjects.c.organisation_id).where(
        subjects.c.id == int(org))).first()
    return None if row is None else {"organisation": row.name,
                                     "organisation_id": row.organisation_id,
                                     "case_number": case}


def organisation_fields(conn: Connection, policy: Policy, rows: Sequence[Any],
                        today: str) -> dict[int, dict[str, Any]]:
    """entry id → ``{"legal_representative": name or None, "performance": {"performed_minor",
    "currency"}}`` for the rows (``list_entries`` joined with ``subjects.kind`` and the
    listing record's ``payload``) that are organisations' entries."""
    orgs = sorted({int(r.subject_id) for r in rows if r.kind == "organisation"})
    if not orgs:
        return {}
    reps = representations(conn, orgs, today)
    kinds = {rule.kind: rule.key for r in rows if r.kind == "organisation"
             for rule in policy.lists[r.list].removal if "full" in rule.when}
    paid: dict[tuple[int, str], int] = {}
    for rec in conn.execute(select(records.c.subject_id, records.c.kind, records.c.payload)
                            .where(records.c.subject_id.in_(orgs),
                                   records.c.kind.in_(sorted(kinds)),
                                   records.c.status == "active",
                                   records.c.superseded_by.is_(None),
                                   records.c.occurred_at <= today)):
        body = json.loads(rec.payload)
        key = (int(rec.subject_id), str(body.get(kinds[rec.kind])))
        paid[key] = paid.get(key, 0) + int(body.get("amount_minor") or 0)
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        if r.kind != "organisation":
            continue
        legal = [x for x in reps.get(int(r.subject_id), [])
                 if x.role == "legal_representative" and x.until is None]
        payload = json.loads(r.payload) if r.payload else {}
        out[int(r.id)] = {
            "legal_representative": legal[-1].name if legal else None,
            "performance": {"performed_minor": paid.get((int(r.subject_id), r.key), 0),
                            "currency": payload.get("currency")}}
    return out
