"""Organisation subjects in the store, and the people who represent them.

An organisation is a subject of kind ``organisation`` keyed by its ``organisation_id`` alone
(the unified social credit code in China; :mod:`socialcredit.identity.organisation`): a record
about it links by that code and nothing else. No phone, name or birth date joins a person's
record to an organisation or an organisation's to a person, and no organisation is ever a
candidate of probabilistic linkage (its name is not in ``names``).

Ledger event: ``subject.created`` with ``kind: organisation`` and ``organisation_id`` (no
``national_id``); the identifier row (kind ``organisation_id``) is written without an event of
its own, as a person's national ID is.

Representatives (:func:`representations`) are read from a regulator's records about the
organisation, in date order (record id within a day):

* ``representative_appointed`` (``representative_id``, ``role``): the person holds the role
  from the record's date; a new ``legal_representative`` ends the previous one's the same day
  (an organisation has one legal representative at a time: Civil Code (2020), Art. 61), so a
  change of representative is one record; naming the same person to the same role again
  while they hold it is the same relation;
* ``representative_ended`` (``representative_id``, ``role``): the relation ends that day.

A person may represent several organisations on the same day.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from socialcredit.policy.representations import (
    APPOINTED,
    ENDED,
    Representation,
    representations,
)
from socialcredit.store.ledger import Batch
from socialcredit.store.tables import identifiers, subjects

__all__ = ["APPOINTED", "ENDED", "Representation", "create_organisation",
           "organisation_ids", "representations"]



def create_organisation(batch: Batch, organisation_id: str, name: str | None, since: str,
                        region_code: str | None) -> int:
    """Create the subject of an organisation first seen in a record dated ``since``; returns
    its id. ``region_code``: the 6-digit division of its registration (USCC characters 3-8),
    or None."""
    sid = batch.next_id(subjects)
    seq = batch.emit("subject.created", {
        "subject_id": sid, "kind": "organisation", "organisation_id": organisation_id,
        "name": name, "region_code": region_code, "valid_from": since}, subject_id=sid)
    batch.add(subjects, {"id": sid, "kind": "organisation", "organisation_id": organisation_id,
                         "national_id": None, "name": name, "birth_date": None, "sex": None,
                         "region_code": region_code, "source": "registry",
                         "created_seq": seq})
    batch.add(identifiers, {"id": batch.next_id(identifiers), "subject_id": sid,
                            "kind": "organisation_id", "value": organisation_id,
                            "valid_from": since, "valid_to": None, "shared_since": None})
    return sid


def organisation_ids(conn: Connection, values: set[str]) -> dict[str, int]:
    """Subject ids of the organisations holding ``values`` (canonical organisation IDs)."""
    out: dict[str, int] = {}
    todo = sorted(values)
    for i in range(0, len(todo), 500):
        out.update({r.organisation_id: int(r.id) for r in conn.execute(
            select(subjects.c.organisation_id, subjects.c.id).where(
                subjects.c.organisation_id.in_(todo[i:i + 500])))})
    return out
