"""Event handlers of ``audit replay`` for identity bookkeeping: ``merges`` and
``linkage_models`` (a facet of :mod:`socialcredit.store.replay_events`, whose
:class:`~socialcredit.store.replay_events.Projections` moves the merged rows themselves).

Older ledgers: ``subject.merged`` written before it carried the moved review pairs
(``candidates``) cannot give back the merge's ``moved`` column, and ``linkage.model_trained``
written before it carried the model cannot give back ``model``: those cells are taken from
the live row (:meth:`~socialcredit.store.replay_events.Projections.from_live`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from socialcredit.store.replay_events import Projections

__all__ = ["IDENTITY_HANDLERS"]

#: ``merges.moved`` as review.merge_subjects writes it (its keys in this order)
_MOVED = ("records", "identifiers", "entries", "names", "candidates")


def _merged(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
            p: dict[str, Any]) -> None:
    proj._merged(seq, at, sid, pv, p)
    mid = p["merge_id"]
    proj.tables["merges"][mid] = {
        "id": mid, "survivor_id": p["survivor_id"], "absorbed_id": p["absorbed_id"],
        "status": "merged", "reason": p["reason"], "merged_by": p["by"], "merged_seq": seq,
        "moved": json.dumps({k: p.get(k, []) for k in _MOVED}), "split_by": None,
        "split_reason": None, "split_seq": None}
    if "candidates" not in p:  # written before subject.merged carried the review pairs
        proj.from_live("merges", mid, "moved")


def _split(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
           p: dict[str, Any]) -> None:
    proj._split(seq, at, sid, pv, p)
    row = proj.tables["merges"].get(p["merge_id"])
    if row is not None:
        row.update(status="split", split_by=p["by"], split_reason=p["reason"], split_seq=seq)


def _model_trained(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
                   p: dict[str, Any]) -> None:
    version = p["version"]
    row = proj.tables["linkage_models"].get(version)
    if row is not None:  # the same model trained again: only its seq moves
        row["seq"] = seq
        return
    proj.tables["linkage_models"][version] = {
        "version": version, "trained_at": at, "seq": seq, "model": p.get("model")}
    if "model" not in p:
        proj.from_live("linkage_models", version, "model")


IDENTITY_HANDLERS = {
    "subject.merged": _merged,
    "subject.split": _split,
    "linkage.model_trained": _model_trained,
}
