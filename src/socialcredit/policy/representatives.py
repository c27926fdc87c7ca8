"""Entries of the people who represent a listed organisation (lists with ``represents``).

SPC Several Provisions on Restricting High Consumption by Judgment Debtors (2015), Art. 3,
para. 2: when the judgment debtor is a unit, its legal representative, main responsible
persons, directly responsible persons and actual controller may not consume as Art. 3,
para. 1 lists (flights, high-speed rail first class, star hotels ...). Each such person gets an
entry of their own on the ``represents`` list (never on the organisation's list: SPC Opinions
Fa Fa [2019] No. 35), keyed ``<organisation subject id>:<the organisation's entry key>``:

* live (``active``, or ``suspended`` / ``pending_review`` as the organisation's entry is, or
  as due process leaves the person's own entry) while the organisation's entry is live and
  the person holds one of the list's ``roles``, from the later of the two starts to the
  earlier of the two ends;
* ended when the organisation's entry ends (``expired`` with it, else ``removed``; the reason
  is the organisation's, prefixed ``organisation:``), or ``removed`` with
  ``no_longer_representative`` on the day the person stops holding the role.

The ground, record and furnisher are the organisation's entry's (the court that listed it).
The entries are written with the same ledger events as every entry (``entry.listed``,
``entry.removed`` ...), so ``audit replay`` rebuilds them; notices and disputes follow from
those as for any entry. A person unknown to the registry (no subject for the national ID the
regulator gave) gets none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, or_, select

from socialcredit.policy.model import Policy
from socialcredit.policy.representations import representations
from socialcredit.policy.rules import DesiredEntry
from socialcredit.store.tables import list_entries, subjects

__all__ = ["COVERED", "covered_cases", "representative_entries", "represented_by"]

#: ``end_reason`` (after ``exempt:``) of a person's own entry for a case of an organisation
#: they represent: the representative is restricted for it, never listed (SPC Opinions Fa Fa
#: [2019] No. 35).
COVERED = "represents_organisation"

_LIVE = ("active", "suspended", "warned", "pending_review")
EntryKey = tuple[str, int, str]


def represented_by(key: str) -> tuple[int, str]:
    """(organisation subject id, the organisation's entry key) of a representative's entry
    key."""
    org, _, source_key = key.partition(":")
    return int(org), source_key


def representative_entries(conn: Connection, policy: Policy, subject_ids: Iterable[int],
                           as_of: dt.date) -> tuple[dict[EntryKey, Any],
                                                    dict[EntryKey, DesiredEntry]]:
    """The ``represents`` entries (module docstring) of the organisations among
    ``subject_ids`` and of the organisations whose representatives are among them, read on
    ``conn`` (flushed): (current ``list_entries`` rows, desired entries) by
    ``(list, subject id, key)``. An entry to end is desired ``removed``; one that would be
    born ended is left out. Due process is the caller's to apply."""
    lists = {n: s.represents for n, s in policy.lists.items() if s.represents is not None}
    ids = sorted(set(subject_ids))
    if not lists or not ids:
        return {}, {}
    orgs: set[int] = set()
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        orgs.update(int(r.id) for r in conn.execute(select(subjects.c.id).where(
            subjects.c.id.in_(part), subjects.c.kind == "organisation")))
        orgs.update(represented_by(r.key)[0] for r in conn.execute(
            select(list_entries.c.key).where(list_entries.c.subject_id.in_(part),
                                             list_entries.c.list.in_(sorted(lists)))))
    if not orgs:
        return {}, {}
    day = as_of.isoformat()
    org_ids = sorted(orgs)
    reps = representations(conn, org_ids, day)
    sources = {rule.list for rule in lists.values()}
    source_rows = [r for i in range(0, len(org_ids), 500) for r in conn.execute(
        select(list_entries).where(list_entries.c.subject_id.in_(org_ids[i:i + 500]),
                                   list_entries.c.list.in_(sorted(sources))))]
    current = {(r.list, r.subject_id, r.key): r for i in range(0, len(org_ids), 200)
               for r in conn.execute(select(list_entries).where(
                   list_entries.c.list.in_(sorted(lists)),
                   or_(*(list_entries.c.key.like(f"{o}:%") for o in org_ids[i:i + 200]))))}
    desired: dict[tuple[str, int, str], DesiredEntry] = {}
    for name, rule in lists.items():
        for e in source_rows:
            if e.list != rule.list:
                continue
            for rep in reps.get(int(e.subject_id), []):
                if rep.person_id is None or rep.role not in rule.roles:
                    continue
                d = _entry(name, e, rep.person_id, rep.since, rep.until, day)
                if d is not None:
                    k = (d.list, d.subject_id, d.key)
                    # one entry per person and case, however many roles they hold: the
                    # live one, else the latest ended
                    if k not in desired or _rank(d) > _rank(desired[k]):
                        desired[k] = d
    desired = {k: d for k, d in desired.items() if k in current or d.status in _LIVE}
    for key, row in current.items():
        if key not in desired and row.status in _LIVE:
            desired[key] = DesiredEntry(
                row.list, row.subject_id, row.key, "removed", row.since, row.until, row.ground,
                row.record_id, row.furnisher_id, None, day, "no_longer_representative")
    return current, desired


def covered_cases(conn: Connection, policy: Policy, subject_ids: Iterable[int],
                  as_of: dt.date, pending: Iterable[DesiredEntry] = ()) -> set[EntryKey]:
    """``(source list, person subject id, case key)`` of the cases for which a person among
    ``subject_ids`` is restricted as an organisation's representative: one of their
    ``represents`` entries (any status) names it, or ``pending`` (entries about to be
    written: the persons' own and the organisations') holds a live organisation's entry with
    that key on the source list and the person holds one of the list's roles in it on
    ``as_of`` (an organisation's entries stored on ``conn`` count too).

    A finding that names the person in such a case lists nobody
    (``exempt:represents_organisation``): a court that lists the representative for the
    enterprise's own case contradicts SPC Opinions Fa Fa [2019] No. 35 (the legal
    representative is not to be included in the list); the person's restriction follows the
    enterprise's entry instead, and once that has ended the case still lists nobody, so the
    person's entry cannot come back after the enterprise performs."""
    rules = {n: s.represents for n, s in policy.lists.items() if s.represents is not None}
    ids = sorted(set(subject_ids))
    out: set[EntryKey] = set()
    for i in range(0, len(ids) if rules else 0, 500):
        for r in conn.execute(select(list_entries.c.list, list_entries.c.subject_id,
                                     list_entries.c.key).where(
                list_entries.c.subject_id.in_(ids[i:i + 500]),
                list_entries.c.list.in_(sorted(rules)))):
            out.add((rules[r.list].list, int(r.subject_id), represented_by(r.key)[1]))
    pending = [d for d in pending if d.status in _LIVE]
    sources = {rule.list for rule in rules.values()}
    people = set(ids)
    asked = {(d.list, d.key) for d in pending if d.subject_id in people and d.list in sources}
    keys = sorted({k for _, k in asked})
    if not keys:
        return out
    orgs = {(d.list, d.key, d.subject_id) for d in pending if (d.list, d.key) in asked}
    for i in range(0, len(keys), 500):
        orgs.update((r.list, r.key, int(r.subject_id)) for r in conn.execute(
            select(list_entries.c.list, list_entries.c.key, list_entries.c.subject_id)
            .join(subjects, subjects.c.id == list_entries.c.subject_id).where(
                list_entries.c.key.in_(keys[i:i + 500]),
                list_entries.c.list.in_(sorted(sources)),
                list_entries.c.status.in_(_LIVE), subjects.c.kind == "organisation")))
    reps = representations(conn, sorted({o for _, _, o in orgs}), as_of.isoformat())
    day = as_of.isoformat()
    for lst, key, org in orgs:
        roles = {r for rule in rules.values() if rule.list == lst for r in rule.roles}
        out.update((lst, rep.person_id, key) for rep in reps.get(org, [])
                   if rep.person_id in people and rep.role in roles
                   and (rep.until is None or rep.until > day))
    return out


def _rank(d: DesiredEntry) -> tuple[bool, str]:
    return (d.status in _LIVE, d.ended_on or "")


def _entry(name: str, e: Any, person: int, since: str, until: str | None,
           day: str) -> DesiredEntry | None:
    """The person's entry for the organisation's entry ``e`` (a ``list_entries`` row) and a
    representation [``since``, ``until``), or None when they do not overlap."""
    start = max(e.since, since)
    end_org = e.ended_on if e.status not in _LIVE else None
    stops = [x for x in (e.until, until, end_org) if x]
    if stops and min(stops) <= start:
        return None
    key = f"{e.subject_id}:{e.key}"
    ends = [x for x in (e.until, until) if x]
    entry_until = min(ends) if ends else None
    common: dict[str, Any] = {"ground": e.ground, "record_id": e.record_id,
                              "furnisher_id": e.furnisher_id}
    if until is not None and (end_org is None or until <= end_org) and until <= day:
        return DesiredEntry(name, person, key, "removed", start, entry_until, ended_on=until,
                            end_reason="no_longer_representative", **common)
    if end_org is not None:  # expired with the organisation's, else removed with it
        return DesiredEntry(name, person, key,
                            "expired" if e.status == "expired" else "removed",
                            start, entry_until, ended_on=end_org,
                            end_reason=f"organisation:{e.end_reason}",
                            end_record_id=e.end_record_id, **common)
    status = e.status if e.status in _LIVE else "active"
    return DesiredEntry(name, person, key, status, start, entry_until, **common)
