"""Human review of an automated refusal (GDPR Art. 22(3): "the right to obtain human
intervention"; SPC Provisions 2017, Art. 11 for a wrongful listing).

A subject asks for a review of a gate's ``deny`` about them (:func:`request_review`); an
operator takes the queue (:func:`open_reviews`) and decides (:func:`decide_review`):
``upheld`` (the refusal was right) or ``overturned`` (it was wrong: every entry the refusal
cited ends, whatever records keep it, and gates stop refusing within their freshness target;
an entry copied from an external list, e.g. OFAC's, is left to that list's own recourse).
Both steps are ledger events (``review.requested``, ``review.decided``); the outcome is
served to the subject as a notice.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select, update

from socialcredit.disclosure.notices import iso
from socialcredit.disclosure.repairs import end_entry
from socialcredit.errors import Conflict, InputError, NotFound
from socialcredit.freetext import clean_text
from socialcredit.policy.evaluate import evaluate_subjects
from socialcredit.policy.jurisdiction import local_today
from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.tables import decisions, list_entries, reviews

__all__ = ["decide_review", "open_reviews", "request_review"]

_FIELDS = ("id", "decision_id", "reason", "opened_at", "status", "decided_at", "decided_by",
           "note")


def _as_dict(row: Any) -> dict[str, Any]:
    return {k: getattr(row, k) for k in _FIELDS}


def request_review(store: Store, *, subject_id: int, decision_id: str, reason: str,
                   now: dt.datetime) -> dict[str, Any]:
    """Queue a human review of one of the subject's refusals.

    Raises:
        InputError: empty or over-long reason. NotFound: no refusal with that id about this
            subject. Conflict: a review of it is already queued or decided.
    """
    text = clean_text(reason, "reason")
    with store.batch() as b:
        d = b.conn.execute(select(decisions.c.subject_id, decisions.c.outcome).where(
            decisions.c.id == decision_id)).first()
        if d is None or d.subject_id != subject_id or d.outcome != "deny":
            b.emit("access.refused", {"what": "review.request", "reason":
                                      "not a refusal about the subject",
                                      "decision_id": decision_id[:40]}, subject_id=subject_id)
            missing = True
        else:
            missing = False
            dup = b.conn.execute(select(reviews.c.id).where(
                reviews.c.decision_id == decision_id)).scalar()
            if dup is not None:
                raise Conflict(f"review {dup} of this decision already exists",
                               details={"review_id": int(dup)})
            rid = b.next_id(reviews)
            seq = b.emit("review.requested", {"review_id": rid, "decision_id": decision_id,
                                              "reason": text, "opened_at": iso(now)},
                         subject_id=subject_id)
            row = {"id": rid, "subject_id": subject_id, "decision_id": decision_id,
                   "reason": text, "opened_at": iso(now), "status": "open",
                   "decided_at": None, "decided_by": None, "note": None, "seq": seq}
            b.add(reviews, row)
    if missing:
        raise NotFound(f"there is no refusal {decision_id} about you")
    return {k: row[k] for k in _FIELDS}


def open_reviews(store: Store) -> list[dict[str, Any]]:
    """The operator's queue, oldest first: each review with its decision (``service``,
    ``gate``, ``at``, ``reasons``)."""
    with store.read() as conn:
        rows = conn.execute(
            select(reviews, decisions.c.service, decisions.c.gate, decisions.c.at,
                   decisions.c.reasons)
            .join(decisions, decisions.c.id == reviews.c.decision_id)
            .where(reviews.c.status == "open").order_by(reviews.c.id)).all()
    return [_as_dict(r) | {"service": r.service, "gate": r.gate, "decided_on": r.at,
                           "reasons": json.loads(r.reasons)} for r in rows]


def decide_review(store: Store, policy: Policy, *, operator: str, review_id: int,
                  outcome: str, note: str = "", now: dt.datetime) -> dict[str, Any]:
    """Decide a review: ``upheld`` or ``overturned``.

    Raises:
        InputError: unknown outcome. NotFound: no such review. Conflict: already decided.
    """
    if outcome not in ("upheld", "overturned"):
        raise InputError("outcome must be upheld or overturned")
    with store.batch(policy.version_hash) as b:
        row = b.conn.execute(select(reviews).where(reviews.c.id == review_id)).first()
        if row is None:
            raise NotFound(f"there is no review {review_id}")
        if row.status != "open":
            raise Conflict(f"review {review_id} was already decided ({row.status}) by "
                           f"{row.decided_by} at {row.decided_at}",
                           details={"status": row.status, "decided_by": row.decided_by,
                                    "decided_at": row.decided_at})
        b.emit("review.decided", {"review_id": review_id, "decision_id": row.decision_id,
                                  "outcome": outcome, "note": note[:2000],
                                  "operator": operator, "decided_at": iso(now)},
               subject_id=row.subject_id)
        b.conn.execute(update(reviews).where(reviews.c.id == review_id).values(
            status=outcome, decided_at=iso(now), decided_by=operator, note=note[:2000] or None))
        if outcome == "overturned":
            today = local_today(policy.jurisdiction, now)
            reasons = json.loads(b.conn.execute(select(decisions.c.reasons).where(
                decisions.c.id == row.decision_id)).scalar() or "[]")
            entry_ids = [r.get("entry_id") for r in reasons if r.get("entry_id") is not None]
            external = {n for n, spec in policy.lists.items() if spec.external}
            for entry_id, lst in b.conn.execute(select(list_entries.c.id, list_entries.c.list)
                                                .where(list_entries.c.id.in_(entry_ids))):
                if lst in external:
                    continue  # a copy of another authority's list: its own recourse applies
                end_entry(b, subject_id=row.subject_id, entry_id=entry_id,
                          condition="review_overturned", on=today,
                          note=f"review {review_id} overturned")
            evaluate_subjects(b, policy, [row.subject_id], today)
        out = b.conn.execute(select(reviews).where(reviews.c.id == review_id)).one()
    return _as_dict(out)
