"""What the subject's file says of an entry's terms beyond its dates: the grace period before a
listing (#13 item 3) and the entry's severity tier with its repair terms (#13 item 5).

:func:`grace_view` gives ``None`` for an entry of a list without a grace period, else a dict:
``found_on`` (the finding that opened the notice and the period), ``listed_from`` (the day
the listing takes effect if the obligation is still unperformed), ``months`` or ``days``
(as the policy sets it), ``outcome`` (``running`` | ``performed`` — ended within the period,
never in force — | ``listed``) and ``text`` (the outcome in words).

:func:`repair_terms` gives ``None`` where the policy has no ``repair`` section or the entry's
list gives it no tier, else ``tier`` (light | general | severe), ``min_months``,
``max_months``, ``published``, ``repair_from`` (the first day a repair may be granted: the
tier's shortest publication period from ``since``, counted as a listing period is) and
``legal_basis`` (NDRC Order No. 36; :mod:`socialcredit.policy.model.repair`). A
representative's entry (a list with ``represents``) takes the tier of the organisation's
entry it follows (its ground on the organisation's list), and ``follows_organisation``: True —
it is never repaired on its own, it ends with the organisation's entry
(:mod:`socialcredit.disclosure.repairs`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from socialcredit.policy.jurisdiction import period_until
from socialcredit.policy.model import ListSpec, Policy

__all__ = ["grace_view", "repair_terms"]


def repair_terms(policy: Policy, list_name: str, ground: int | None,
                 since: str | None) -> dict[str, Any] | None:
    """The severity tier of an entry of ``list_name`` with ``ground`` listed on ``since``."""
    spec = policy.lists.get(list_name)
    if policy.repair is None or spec is None or since is None:
        return None
    follows = spec.represents is not None
    if follows:  # a representative's restriction takes the organisation's entry's tier
        spec = policy.lists.get(spec.represents.list)  # type: ignore[union-attr]
        if spec is None:
            return None
    tier = spec.tier_of(ground)
    if tier is None:
        return None
    t = policy.repair.tiers[tier]  # type: ignore[index]
    start = dt.date.fromisoformat(since)
    repair_from = (start if t.min_months == 0 else period_until(
        start, policy.jurisdiction.period_counting, months=t.min_months))
    return {"tier": tier, "min_months": t.min_months, "max_months": t.max_months,
            "published": t.published, "repair_from": repair_from.isoformat(),
            "legal_basis": t.legal_basis, "follows_organisation": follows}


def grace_view(spec: ListSpec | None, entry: Any, found_on: str | None) -> dict[str, Any] | None:
    """The grace period of ``entry`` (a ``list_entries`` row) found on ``found_on``."""
    if spec is None or not spec.has_grace or spec.trigger is None or found_on is None:
        return None
    if entry.status in ("exempt", "pending_review"):
        return None
    since = entry.since
    if entry.status == "warned":
        outcome = "running"
        text = (f"Grace period: the listing takes effect on {since} only if the obligation "
                "is still unperformed then; nothing is refused before that day.")
    elif entry.ended_on is not None and entry.ended_on < since:
        outcome = "performed"
        text = (f"Ended on {entry.ended_on} ({entry.end_reason}) within the grace period: "
                "the listing never took effect.")
    else:
        outcome = "listed"
        text = f"Not performed within the grace period: listed from {since}."
    return {"found_on": found_on, "listed_from": since, "months": spec.grace_months,
            "days": None if spec.grace_months else spec.warning_days, "outcome": outcome,
            "text": text}
