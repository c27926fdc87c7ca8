"""Who represents an organisation on a day, read from a regulator's records: the rule the
policy's ``represents`` lists apply (:mod:`socialcredit.policy.representatives`), kept in the
policy layer so that evaluation reads it without reaching into linkage (DESIGN §5); identity
(:mod:`socialcredit.identity.legal_person`) re-exports it beside the organisation subjects.

* ``representative_appointed`` (``representative_id``, ``role``): the person holds the role
  from the record's date; a new ``legal_representative`` ends the previous one's the same day
  (an organisation has one legal representative at a time: Civil Code (2020), Art. 61), so a
  change of representative is one record; naming the same person to the same role again
  while they hold it is the same relation;
* ``representative_ended`` (``representative_id``, ``role``): the relation ends that day.

A person may represent several organisations on the same day.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from socialcredit.store.tables import records, subjects

__all__ = ["APPOINTED", "ENDED", "Representation", "representations"]

#: The record kinds that say who represents an organisation (module docstring).
APPOINTED = "representative_appointed"
ENDED = "representative_ended"


@dataclass(frozen=True, slots=True)
class Representation:
    """A person holding ``role`` in organisation ``organisation_id`` (a subject id) from
    ``since`` to ``until`` (local dates; ``until`` None: still holds it, else the first day
    they no longer do). ``person_id``: the person's subject id, None when they are unknown to
    the registry; ``national_id``: as the regulator reported it."""

    organisation_id: int
    person_id: int | None
    national_id: str
    name: str | None
    role: str
    since: str
    until: str | None
    record_id: int


def representations(conn: Connection, organisation_ids: list[int],
                    as_of: str) -> dict[int, list[Representation]]:
    """Every representation (held or ended by ``as_of``) of each organisation, from its active
    regulator records dated on or before ``as_of`` (module docstring); organisation subject id →
    representations in order of start."""
    rows: dict[int, list[Any]] = defaultdict(list)
    for i in range(0, len(organisation_ids), 500):
        for r in conn.execute(
                select(records.c.id, records.c.subject_id, records.c.kind,
                       records.c.occurred_at, records.c.payload)
                .where(records.c.subject_id.in_(organisation_ids[i:i + 500]),
                       records.c.kind.in_((APPOINTED, ENDED)), records.c.status == "active",
                       records.c.superseded_by.is_(None), records.c.occurred_at <= as_of)
                .order_by(records.c.occurred_at, records.c.id)):
            rows[int(r.subject_id)].append(r)
    nids = {json.loads(r.payload).get("representative_id") for rs in rows.values() for r in rs}
    people: dict[str, int] = {}
    todo = sorted(n for n in nids if n)
    for i in range(0, len(todo), 500):
        people.update({p.national_id: int(p.id) for p in conn.execute(
            select(subjects.c.national_id, subjects.c.id).where(
                subjects.c.national_id.in_(todo[i:i + 500]), subjects.c.kind == "person",
                subjects.c.merged_into.is_(None)))})
    return {org: _relations(org, rs, people) for org, rs in rows.items()}


def _relations(org: int, rows: list[Any], people: dict[str, int]) -> list[Representation]:
    """The representations of one organisation from its regulator records in date order."""
    held: dict[tuple[str, str], Representation] = {}
    done: list[Representation] = []

    def end(key: tuple[str, str], day: str) -> None:
        rep = held.pop(key)
        if rep.since < day:  # ended the day it began: it never held
            done.append(Representation(org, rep.person_id, rep.national_id, rep.name,
                                       rep.role, rep.since, day, rep.record_id))

    for r in rows:
        body = json.loads(r.payload)
        nid, role = body.get("representative_id"), body.get("role")
        if not nid or not role:
            continue
        if r.kind == ENDED:
            if (nid, role) in held:
                end((nid, role), r.occurred_at)
            continue
        if (nid, role) in held:
            continue  # named again while holding it: one relation
        if role == "legal_representative":
            for key in [k for k in held if k[1] == role]:
                end(key, r.occurred_at)
        held[(nid, role)] = Representation(org, people.get(nid), nid,
                                           body.get("representative_name"), role,
                                           r.occurred_at, None, int(r.id))
    return sorted([*done, *held.values()], key=lambda x: (x.since, x.record_id))
