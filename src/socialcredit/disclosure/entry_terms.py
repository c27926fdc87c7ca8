"""What the subject's file says of an entry's terms beyond its dates: the grace period before a
listing (#13 item 3) and the entry's severity tier with its repair terms (#13 item 5).

:func:`grace_view` gives ``None`` for an entry of a list without a grace period, else a dict:
``found_on`` (the finding that opened the notice and the period), ``listed_from`` (the day
the listing takes effect if the obligation is still unperformed), ``months`` or ``days``
(as the policy sets it), ``outcome`` (``running`` | ``performed`` — ended within the period,
never in force — | ``listed``) and ``text`` (the outcome in words).
"""

from __future__ import annotations

from typing import Any

from socialcredit.policy.model import ListSpec

__all__ = ["grace_view"]


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
