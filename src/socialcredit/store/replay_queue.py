"""``audit replay`` of the link review queue, ``link_candidates`` (a facet of
:mod:`socialcredit.store.replay_links`, which calls it from the same events).

A pair (record, candidate subject) is opened by:

* the model's ``record.linked`` that leaves the record pending (``queued``: each pair's id,
  subject, weights and explanation; :mod:`socialcredit.identity.probabilistic`), which first
  closes the record's open pairs when the record had a link before;
* a shared phone's ``record.linked`` (``queued``: ids and subjects, ``explanation``;
  :func:`socialcredit.identity.requeue.requeue_phone_links`);
* ``link.queued``, when policy evaluation puts a model- or phone-confirmed link a listing
  rests on before an operator (the pair copies the link; :mod:`socialcredit.policy.evaluate`);
* an operator's unlink (``record.unlinked`` with ``refused``): the pair refused for good, after
  the record's open pairs are closed.

It is decided by an operator's accept (``record.linked`` with ``candidate_id``: the record's
other open pairs close) or reject (``link.rejected``); a correction of the record closes its
open pairs (``record.accepted`` with ``corrects_record_id``), retention closes them and wipes
their explanation (``record.retired``), and a pair opened for a record already superseded
starts closed; merges and splits move them
(:meth:`~socialcredit.store.replay_events.Projections._move`).

Older ledgers: code that wrote ``record.linked`` without ``explanation`` (or a shared phone's
without ``queued``) also changed the queue without events (a reject, policy evaluation). The
replay notes the last such event (:func:`older_until`); pairs made up to it are taken from the
live rows whole, every later one is compared.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from socialcredit.store.replay_events import Projections

__all__ = ["close_open", "older_until", "on_linked", "on_unlinked", "QUEUE_HANDLERS"]

_link_text = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode
#: a shared phone's pair explanation (``json.dumps(..., sort_keys=True)``)
_phone_text = json.JSONEncoder(sort_keys=True).encode


def _state(proj: Projections) -> dict[str, Any]:
    st: dict[str, Any] = proj.__dict__.setdefault("_queue", {
        "by_record": {}, "max_id": 0, "older_until": 0})
    return st


def older_until(proj: Projections) -> int:
    """The seq of the last event written by code that changed the queue without events (0:
    none); pairs created up to it are taken from the live rows."""
    return int(_state(proj)["older_until"])


def _older(proj: Projections, seq: int) -> None:
    _state(proj)["older_until"] = seq


def _add(proj: Projections, cid: int | None, record_id: int, subject_id: Any, weight: Any,
         probability: Any, explanation: str, model: Any, seq: int, *, status: str = "open",
         at: str | None = None, by: str | None = None, note: str | None = None) -> None:
    st = _state(proj)
    if cid is None:
        cid = st["max_id"] + 1
    st["max_id"] = max(st["max_id"], cid)
    proj.tables["link_candidates"][cid] = {
        "id": cid, "record_id": record_id, "subject_id": subject_id, "match_weight": weight,
        "match_probability": probability, "explanation": explanation, "model_version": model,
        "status": status, "created_seq": seq, "decided_at": at, "decided_by": by,
        "note": note}
    st["by_record"].setdefault(record_id, []).append(cid)


def _of(proj: Projections, record_id: int) -> list[dict[str, Any]]:
    rows = proj.tables["link_candidates"]
    return [rows[i] for i in _state(proj)["by_record"].get(record_id, ()) if i in rows]


def _starts(proj: Projections, record_id: int) -> str:
    """A new pair of a record already superseded starts closed (as
    ``identity.requeue.pair_status`` says)."""
    row = proj.tables["records"].get(record_id)
    return "closed" if row is not None and row.get("superseded_by") is not None else "open"


def close_open(proj: Projections, record_id: int, **values: Any) -> None:
    """Close the open pairs of ``record_id`` (setting ``values`` too)."""
    st = proj.__dict__.get("_queue")
    if st is None or record_id not in st["by_record"]:
        return  # most records never had a pair (every retired or corrected one asks)
    for row in _of(proj, record_id):
        if row["status"] == "open":
            row.update(status="closed", **values)


def on_linked(proj: Projections, seq: int, at: str, p: dict[str, Any],
              had_link: bool) -> None:
    """The queue's part of a ``record.linked`` (``had_link``: the record had a link row)."""
    rid, rule = p["record_id"], p.get("rule")
    if "inherited_from" in p:
        return
    if rule == "probabilistic" and "match_weight" in p:  # the model
        if "explanation" not in p:
            _older(proj, seq)
        if had_link:
            close_open(proj, rid)
        for q in p.get("queued", ()):
            _add(proj, q["candidate_id"], rid, q["subject_id"], q["match_weight"],
                 q["match_probability"], _link_text(q["explanation"]), p.get("model_version"),
                 seq, status=_starts(proj, rid))
    elif rule == "phone":
        if p.get("status") == "confirmed":
            if "explanation" not in p:
                _older(proj, seq)
        elif "queued" not in p:
            _older(proj, seq)
        else:
            why = _phone_text(p.get("explanation", {}))
            for q in p["queued"]:
                _add(proj, q["candidate_id"], rid, q["subject_id"], 0.0, 0.5, why, None, seq,
                     status=_starts(proj, rid))
    elif "candidate_id" in p:  # an operator accepted a pair
        row = proj.tables["link_candidates"].get(p["candidate_id"])
        if row is not None:
            row.update(status="accepted", decided_at=at, decided_by=p.get("by"),
                       note=p.get("note"))
        close_open(proj, rid, decided_at=at, decided_by=p.get("by"))


def on_unlinked(proj: Projections, seq: int, at: str, p: dict[str, Any]) -> None:
    """The queue's part of a ``record.unlinked``: an operator's unlink refuses the pair."""
    refused = p.get("refused")
    if refused is None:  # older: an unlink, unless a reject moved the record
        reason = str(p.get("reason", ""))
        refused = not (reason.startswith("candidate ") and reason.endswith(" rejected"))
    if not refused:
        return
    rid, by = p["record_id"], p.get("by")
    close_open(proj, rid, decided_at=at, decided_by=by)
    _add(proj, p.get("candidate_id"), rid, p["subject_id"], 0.0, 0.0, "{}", None, seq,
         status="rejected", at=at, by=by, note=p.get("reason"))


def on_retired(proj: Projections, record_id: int) -> None:
    """Retention closes the record's open pairs and wipes their explanation."""
    close_open(proj, record_id, explanation="{}")


def _queued(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
            p: dict[str, Any]) -> None:
    link = proj.tables["links"].get(p["record_id"])
    if link is None:
        return
    _add(proj, p["candidate_id"], p["record_id"], p["subject_id"],
         link["match_weight"] or 0.0, link["match_probability"] or 0.0, link["explanation"],
         link["model_version"], link["seq"])


def _rejected(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
              p: dict[str, Any]) -> None:
    row = proj.tables["link_candidates"].get(p["candidate_id"])
    if row is not None:
        row.update(status="rejected", decided_at=at, decided_by=p.get("by"),
                   note=p.get("note"))


QUEUE_HANDLERS = {
    "link.queued": _queued,
    "link.rejected": _rejected,
}
