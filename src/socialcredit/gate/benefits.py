"""The benefits of an ``allow``: what a subject's live red-list entries earn at this service.

An allow otherwise reveals nothing about the subject (DESIGN §3.3); a red list is published
(its entries are public where the list is) and its benefits are the point of it, so an allow
names them, each with its legal basis. None while the subject holds a live entry of a
sanctioned list, whatever the service (:mod:`socialcredit.policy.incentives`): the gate never
gives benefits to a sanctioned subject, even for a service the sanction does not refuse, and
even where a court lifted the sanction for this service (the entry is still live).

Each benefit: ``benefit`` (its name in the policy's ``benefits``), ``text`` (the policy's
words for people), ``list``, ``entry_id``, ``legal_basis`` (of the incentive),
``list_legal_basis``, ``since``, ``until`` and ``furnisher``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from socialcredit.gate.index import Restriction
from socialcredit.policy.incentives import is_live, suspenders
from socialcredit.policy.model import Policy

__all__ = ["benefits_for", "rewarded_services"]


def rewarded_services(policy: Policy) -> frozenset[str]:
    """Services some incentive names (the others never look for benefits)."""
    return frozenset(svc for i in policy.incentives for svc in i.benefits)


def benefits_for(policy: Policy, restrictions: Iterable[Restriction], service: str,
                 day: str) -> list[dict[str, Any]]:
    """The benefits one subject's ``restrictions`` (every active entry the gate index holds
    for them) earn for ``service`` on ``day``; empty when a sanctioned entry is live."""
    mine = list(restrictions)
    if suspenders(policy, mine, day):
        return []
    out = []
    for r in mine:
        if not is_live(r, day):
            continue
        spec = policy.lists[r.list]
        for name, basis in policy.benefits_of(r.list, service):
            out.append({"benefit": name, "text": policy.benefits.get(name, name),
                        "list": r.list, "entry_id": r.entry_id, "legal_basis": basis,
                        "list_legal_basis": spec.legal_basis, "since": r.since,
                        "until": r.until, "furnisher": r.furnisher or spec.source})
    return out
