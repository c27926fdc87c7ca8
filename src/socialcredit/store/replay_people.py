"""Event handlers of ``audit replay`` for what a person sees and contests: ``disputes``,
``reviews``, ``repairs`` and ``contact_channels`` (the due-process facet of
:mod:`socialcredit.store.replay_events`).

Each handler takes the :class:`~socialcredit.store.replay_events.Projections` and one event
(``seq``, ``at``, ``subject_id``, ``policy_version``, decoded payload) and changes the rows the
way :mod:`socialcredit.disclosure.disputes` and :mod:`socialcredit.identity.channel` changed the
live tables.

Older ledgers: ``dispute.*`` events written before they carried the text and times of the
dispute (``reason``, ``opened_at``, ``answered_at``) cannot give them back. Those cells are
marked :meth:`~socialcredit.store.replay_events.Projections.from_live`: the replay takes them
from the live row and says how many it took, so every other column is still checked. Channels
bootstrapped by migration 0006 (``source = "migration"``) have no event at all: they are seeded
from the live table (:meth:`~socialcredit.store.replay_events.Projections.seed_channels`) and
kept only if the replayed identifiers give the subject that phone. Repairs that ended an entry
by due process were written without an event of their own (now ``repair.recorded``): they are
seeded from the live rows and kept only if their ``seq`` is a dispute or review outcome about
the same subject.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from socialcredit.store.replay_events import Projections

__all__ = ["PEOPLE_HANDLERS"]

_ANSWERED = {"verify": "verified", "correct": "corrected", "delete": "deleted"}


# --- disputes ----------------------------------------------------------------------------------
def _outcome_seq(proj: Projections, seq: int, sid: Any) -> None:
    proj.due_process_seqs[seq] = sid


def _opened(proj: Projections, seq: int, at: str, sid: Any, pv: Any, p: dict[str, Any]) -> None:
    did = p["dispute_id"]
    proj.dispute_targets[did] = (p.get("record_id"), p.get("entry_id"))
    proj.tables["disputes"][did] = {
        "id": did, "subject_id": sid, "record_id": p.get("record_id"),
        "entry_id": p.get("entry_id"), "furnisher_id": p.get("furnisher_id"),
        "reason": p.get("reason"), "opened_at": p.get("opened_at"), "due_on": p["due_on"],
        "status": "open", "answered_at": None, "answer_note": None, "appeal_reason": None,
        "decided_by": None, "seq": seq}
    if "reason" not in p:  # written before dispute.opened carried its text and time
        proj.from_live("disputes", did, "reason", "opened_at")


def _dispute(proj: Projections, p: dict[str, Any]) -> dict[str, Any] | None:
    return proj.tables["disputes"].get(p["dispute_id"])


def _answered(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
              p: dict[str, Any]) -> None:
    _outcome_seq(proj, seq, sid)
    row = _dispute(proj, p)
    if row is not None:
        row.update(status=_ANSWERED.get(p.get("answer", ""), row["status"]),
                   answered_at=p.get("answered_at"), answer_note=p.get("note") or None)
        if "answered_at" not in p:
            proj.from_live("disputes", row["id"], "answered_at")
    if p.get("answer") == "delete":  # the furnisher withdrew the record
        proj.dispute_outcome(p, "deleted", always=True)


def _suppressed(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
                p: dict[str, Any]) -> None:
    _outcome_seq(proj, seq, sid)
    row = _dispute(proj, p)
    if row is not None:
        row.update(status="suppressed", answered_at=p.get("answered_at"))
        if "answered_at" not in p:
            proj.from_live("disputes", row["id"], "answered_at")
    proj.dispute_outcome(p, "suppressed", always=False)


def _appealed(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
              p: dict[str, Any]) -> None:
    row = _dispute(proj, p)
    if row is not None:
        row.update(status="appealed", appeal_reason=p.get("reason"))
        if "reason" not in p:
            proj.from_live("disputes", row["id"], "appeal_reason")


def _decided(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
             p: dict[str, Any]) -> None:
    _outcome_seq(proj, seq, sid)
    row = _dispute(proj, p)
    if row is not None:
        row.update(status=p["outcome"], decided_by=p.get("operator"),
                   answer_note=p.get("note") or row["answer_note"])
    if p.get("outcome") == "overturned":
        proj.dispute_outcome(p, "suppressed", always=False)


# --- reviews (GDPR Art. 22(3)) and repairs -----------------------------------------------------
def _review_requested(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
                      p: dict[str, Any]) -> None:
    rid = p["review_id"]
    proj.tables["reviews"][rid] = {
        "id": rid, "subject_id": sid, "decision_id": p["decision_id"],
        "reason": p.get("reason"), "opened_at": p.get("opened_at"), "status": "open",
        "decided_at": None, "decided_by": None, "note": None, "seq": seq}
    if "reason" not in p:
        proj.from_live("reviews", rid, "reason", "opened_at")


def _review_decided(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
                    p: dict[str, Any]) -> None:
    proj.due_process_seqs[seq] = sid
    row = proj.tables["reviews"].get(p["review_id"])
    if row is not None:
        row.update(status=p["outcome"], decided_at=p.get("decided_at"),
                   decided_by=p.get("operator"), note=p.get("note") or None)
        if "decided_at" not in p:
            proj.from_live("reviews", row["id"], "decided_at")


def _repair_requested(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
                      p: dict[str, Any]) -> None:
    rid = p["repair_id"]
    proj.tables["repairs"][rid] = {
        "id": rid, "subject_id": sid, "entry_id": p["entry_id"], "condition": p["condition"],
        "evidence": p.get("evidence"), "opened_at": p.get("opened_at"), "status": "open",
        "decided_at": None, "decided_on": None, "decided_by": None, "note": None, "seq": seq}
    if "evidence" not in p:
        proj.from_live("repairs", rid, "evidence", "opened_at")


def _repair_decided(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
                    p: dict[str, Any]) -> None:
    row = proj.tables["repairs"].get(p["repair_id"])
    if row is not None:
        row.update(status=p["outcome"], decided_at=p.get("decided_at"),
                   decided_on=p.get("decided_on"), decided_by=p.get("operator") or "automatic",
                   note=p.get("note") or None)
        if "decided_at" not in p:
            proj.from_live("repairs", row["id"], "decided_at", "decided_on")


def _repair_recorded(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
                     p: dict[str, Any]) -> None:
    """An entry ended by due process (an upheld dispute, an overturned review)."""
    rid, on = p["repair_id"], p["on"]
    proj.tables["repairs"][rid] = {
        "id": rid, "subject_id": sid, "entry_id": p["entry_id"], "condition": p["condition"],
        "evidence": p["note"], "opened_at": p["opened_at"], "status": "granted",
        "decided_at": None, "decided_on": on, "decided_by": "due process", "note": p["note"],
        "seq": seq}


# --- contact channels --------------------------------------------------------------------------
def _channel_set(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
                 p: dict[str, Any]) -> None:
    s = p["subject_id"]
    proj.tables["contact_channels"][s] = {
        "subject_id": s, "phone": p["phone"], "source": p.get("source", "first_sight"),
        "set_seq": seq, "set_at": at, "flagged_reason": None, "flagged_at": None}


def _channel_changed(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
                     p: dict[str, Any]) -> None:
    s = p["subject_id"]
    proj.tables["contact_channels"][s] = {
        "subject_id": s, "phone": p["to"], "source": p["how"], "set_seq": seq, "set_at": at,
        "flagged_reason": None, "flagged_at": None}


def _channel_confirmed(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
                       p: dict[str, Any]) -> None:
    row = proj.tables["contact_channels"].get(p["subject_id"])
    if row is not None:
        row.update(flagged_reason=None, flagged_at=None)


def _channel_flagged(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
                     p: dict[str, Any]) -> None:
    row = proj.tables["contact_channels"].get(p["subject_id"])
    if row is not None:
        row.update(flagged_reason=str(p["reason"])[:200], flagged_at=at)


def _information(proj: Projections, seq: int, at: str, sid: Any, pv: Any,
                 p: dict[str, Any]) -> None:
    """The subject sent further information; the deadline may have moved (FCRA §611(a)(1)(B),
    :mod:`socialcredit.disclosure.dispute_info`)."""
    row = _dispute(proj, p)
    if row is not None:
        row["due_on"] = p["due_on"]


PEOPLE_HANDLERS = {
    "dispute.opened": _opened,
    "dispute.information": _information,
    "dispute.answered": _answered,
    "dispute.suppressed": _suppressed,
    "dispute.appealed": _appealed,
    "dispute.decided": _decided,
    "review.requested": _review_requested,
    "review.decided": _review_decided,
    "repair.requested": _repair_requested,
    "repair.decided": _repair_decided,
    "repair.recorded": _repair_recorded,
    "contact.channel_set": _channel_set,
    "contact.channel_changed": _channel_changed,
    "contact.channel_confirmed": _channel_confirmed,
    "contact.channel_flagged": _channel_flagged,
}
