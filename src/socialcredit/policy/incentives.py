"""The registry's precedence of sanctions over incentives, for every reader of entries.

An entry of a red list (``effect: incentive``) earns its benefits only while its subject holds
no *live* entry of a list some sanction maps (:attr:`Policy.suspending_lists`); otherwise it
is **suspended**: it stays as it is in the ledger and the projections (not ended, not
re-created), and the gate, the public search, the subject file and the what-if all read it
as suspended through these functions. A live entry is active, has begun (``since`` ≤ the
day) and has not run out (``until`` > the day). The rule and the validator's side of it are
in :mod:`socialcredit.policy.model.incentives`.

Entries are any objects with ``list``, ``subject_id``, ``since``, ``until`` and (optionally)
``status`` (:class:`~socialcredit.policy.rules.DesiredEntry`, list-entry rows, the gate's
restrictions, which are active by construction).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from socialcredit.policy.model import Policy

__all__ = ["Benefited", "benefit_changes", "benefited", "is_live", "suspended_subjects",
           "suspenders"]

#: (service, benefit, subject id): a subject earning a benefit at a service's gates.
Benefited = tuple[str, str, int]


def is_live(entry: Any, day: str) -> bool:
    """Active (when the object has a status), begun on ``day`` and not yet run out."""
    return (getattr(entry, "status", "active") == "active" and entry.since <= day
            and (entry.until is None or entry.until > day))


def suspenders(policy: Policy, entries: Iterable[Any], day: str) -> list[Any]:
    """The live sanctioned entries among ``entries`` (one subject's): each suspends every
    incentive of that subject on ``day``."""
    lists = policy.suspending_lists
    return [e for e in entries if e.list in lists and is_live(e, day)]


def suspended_subjects(policy: Policy, entries: Iterable[Any], day: str) -> set[int]:
    """Subjects holding a live entry of a sanctioned list on ``day``."""
    return {e.subject_id for e in suspenders(policy, entries, day)}


def benefited(policy: Policy, entries: Iterable[Any], as_of: dt.date) -> set[Benefited]:
    """Every (service, benefit, subject) the entries earn on ``as_of``: live red-list entries
    of subjects with no live sanctioned entry."""
    day = as_of.isoformat()
    mine = list(entries)
    blocked = suspended_subjects(policy, mine, day)
    return {(svc, b, e.subject_id) for e in mine
            if e.subject_id not in blocked and is_live(e, day)
            for inc in policy.incentives_for(e.list)
            for svc, names in inc.benefits.items() for b in names}


def benefit_changes(new: Policy, current: Policy, e_new: Iterable[Any], e_cur: Iterable[Any],
                    as_of: dt.date) -> dict[str, Any]:
    """The what-if's ``benefits`` section: per ``"service:benefit"``, subjects earning it
    under each policy and under one only; and per policy, red-list entries ``suspended`` on
    ``as_of`` (live, of a subject holding a live sanctioned entry)."""
    day = as_of.isoformat()
    e_new, e_cur = list(e_new), list(e_cur)
    b_new, b_cur = benefited(new, e_new, as_of), benefited(current, e_cur, as_of)

    def suspended(p: Policy, entries: list[Any]) -> int:
        blocked = suspended_subjects(p, entries, day)
        return sum(1 for e in entries if e.list in p.lists and e.subject_id in blocked
                   and p.lists[e.list].effect == "incentive" and is_live(e, day))

    out: dict[str, Any] = {}
    for svc, b in sorted({(s, b) for s, b, _ in b_new | b_cur}):
        n = {sid for s, x, sid in b_new if (s, x) == (svc, b)}
        c = {sid for s, x, sid in b_cur if (s, x) == (svc, b)}
        out[f"{svc}:{b}"] = {"subjects": {"current": len(c), "new": len(n)},
                             "new_only": len(n - c), "current_only": len(c - n)}
    return {"by_benefit": out, "suspended": {"current": suspended(current, e_cur),
                                             "new": suspended(new, e_new)}}
