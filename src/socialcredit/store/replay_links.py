"""Event handlers of ``audit replay`` for how records came to their subjects: ``links`` (a facet
of :mod:`socialcredit.store.replay_events`, whose
:class:`~socialcredit.store.replay_events.Projections` moves ``records.subject_id`` itself).

``record.linked`` is written by five stages, told apart by its payload:

* the phone rule (:mod:`socialcredit.identity.probabilistic`): ``rule = phone``, ``status =
  confirmed``, a new row decided by ``rule`` with the ``explanation``;
* a shared phone sends such a link back to review (:func:`socialcredit.identity.requeue.
  requeue_phone_links`): ``rule = phone``, ``status = pending``;
* the model (:mod:`socialcredit.identity.probabilistic`): ``rule = probabilistic`` with
  ``match_weight``, ``match_probability``, ``model_version``, ``explanation`` and
  ``decided_by``: the whole row;
* an operator accepts a review pair (:func:`socialcredit.identity.review.accept_candidate`):
  ``candidate_id``; or rejects the pair the record rests on, which moves it to the next open
  pair (``record.unlinked`` then ``record.linked`` with ``status = pending`` and ``by``, one
  seq apart);
* a correction inherits the operator-confirmed link of the record it corrects
  (:mod:`socialcredit.ingest.pipeline`): ``inherited_from``, the row copied from that link.

``record.unlinked`` rejects the link (:func:`socialcredit.identity.review.unlink_record` makes
one first when the record had none); ``record.retired`` wipes its explanation (retention).

Older ledgers: ``record.linked`` of the phone rule or the model written before it carried the
``explanation`` cannot give back the explanation, ``decided_by`` nor the unrounded weights the
row then held: those cells are taken from the live row
(:meth:`~socialcredit.store.replay_events.Projections.from_live`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from socialcredit.store.replay_queue import QUEUE_HANDLERS, on_linked, on_retired, on_unlinked

if TYPE_CHECKING:
    from socialcredit.store.replay_events import Projections

__all__ = ["LINK_HANDLERS", "link_text"]

#: ``links.explanation`` as linkage writes it
link_text = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode
#: columns an older model or phone-rule ``record.linked`` cannot give back
_OLDER = ("match_weight", "match_probability", "explanation", "decided_by")


def _row(rid: int, sid: Any, rule: Any, status: Any, seq: int, *, weight: Any = None,
         probability: Any = None, explanation: str = "{}", model: Any = None,
         by: Any = None) -> dict[str, Any]:
    return {"record_id": rid, "subject_id": sid, "rule": rule, "status": status,
            "match_weight": weight, "match_probability": probability,
            "explanation": explanation, "model_version": model, "decided_by": by, "seq": seq}


def _linked(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
            p: dict[str, Any]) -> None:
    proj._linked(seq, at, sid, pv, p)
    rows = proj.tables["links"]
    rid, to, rule, status = p["record_id"], p["subject_id"], p.get("rule"), p.get("status")
    row = rows.get(rid)
    undo = proj.__dict__.pop("_unlinked_before", None)
    on_linked(proj, seq, at, p, row is not None)
    if "inherited_from" in p:
        src = rows.get(p["inherited_from"])
        if src is not None:
            rows[rid] = _row(rid, to, "manual", "confirmed", seq,
                             weight=src["match_weight"], probability=src["match_probability"],
                             explanation=src["explanation"], model=src["model_version"],
                             by=f"{src['decided_by']} (record {p['inherited_from']})")
    elif rule == "probabilistic" and "match_weight" in p:  # the model: the whole row
        rows[rid] = _row(rid, to, rule, status, seq, weight=p["match_weight"],
                         probability=p["match_probability"],
                         explanation=link_text(p.get("explanation", {})),
                         model=p.get("model_version"), by=p.get("decided_by", "model"))
        if "explanation" not in p:
            proj.from_live("links", rid, *_OLDER)
    elif rule == "phone" and status == "confirmed":
        rows[rid] = _row(rid, to, rule, status, seq,
                         explanation=link_text(p.get("explanation", {})), by="rule")
        if "explanation" not in p:
            proj.from_live("links", rid, "explanation")
    else:
        if undo is not None and undo[0] == seq - 1 and undo[1] == rid:
            # a rejected pair moved the record to the next one: the reject did not touch
            # the link (``record.unlinked`` then this, one seq apart)
            row = undo[2]
            if row is None:
                rows.pop(rid, None)
            else:
                rows[rid] = row
        if row is None:
            return  # no link row to change (a record linked by its national ID)
        row.update(subject_id=to, status=status, seq=seq)
        if rule == "manual":  # an operator accepted a review pair
            row.update(rule="manual", decided_by=p.get("by"))


def _unlinked(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
              p: dict[str, Any]) -> None:
    proj._unlinked(seq, at, sid, pv, p)
    rows = proj.tables["links"]
    rid = p["record_id"]
    before = rows.get(rid)
    proj.__dict__["_unlinked_before"] = (seq, rid, None if before is None else dict(before))
    on_unlinked(proj, seq, at, p)
    if before is None:  # unlink_record writes a rejected manual link first
        rows[rid] = _row(rid, None, "manual", "rejected", seq, by=p.get("by"))
    else:
        before.update(subject_id=None, status="rejected", decided_by=p.get("by"), seq=seq)


def _retired(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
             p: dict[str, Any]) -> None:
    proj._record_retired(seq, at, sid, pv, p)
    row = proj.tables["links"].get(p["record_id"])
    if row is not None:  # the explanation quotes the comparison levels: it goes too
        row["explanation"] = "{}"
    on_retired(proj, p["record_id"])


LINK_HANDLERS = {
    "record.linked": _linked,
    "record.unlinked": _unlinked,
    "record.retired": _retired,
    **QUEUE_HANDLERS,
}
