"""``audit replay`` of ``notices``: the notices the ledger says a person is owed, and which of
them were served (a facet of :mod:`socialcredit.store.replay`, fed by
:class:`~socialcredit.store.replay_events.Projections`).

What is compared, per notice, keyed by ``(kind, ref)`` (the outbox's natural key, so a finding
names the notice's kind): ``subject_id``, ``event_seq``, ``created_at``, ``served_at`` and
``channel``. So a due notice deleted before it was served (a listing nobody is told of) is
*missing*, and one marked served without a ``notice.served`` event is *changed* on
``served_at``.

* **Owed** (the row must exist): one per event of :data:`NOTICE_EVENT_KINDS` about a subject,
  as :func:`socialcredit.disclosure.notices.project_notices` makes them, up to the notice
  projector's cursor (the projector trails the ledger; a row past it is kept only where the
  live table already holds it). Skipped as the projector skips them: a listing already ended
  in the same step, a channel change with no old phone, a record whose kind is not adverse.
* **Served**: ``served_at`` and ``channel`` from each ``notice.served`` event; a served notice
  whose row is gone is missing too.
* **Taken from the live table** (existence, ``subject_id``, ``event_seq``, ``created_at``):
  notices made without an event of their own (gate refusals, sign-in codes, a locked
  sign-in), and notices of events whose payload retention erased or whose adverse kind the
  caller did not say. Their ``served_at`` still comes from the ledger, except a sign-in
  code's (served without an event: the code must not outlive its delivery) and a refusal
  merged into the day's first one (``channel = "merged"``, no event).

Not compared: ``id`` (a counter), ``due_at`` (the policy's ``notice_within_hours`` when the
row was made), ``attempts``, ``last_error`` and ``body`` (delivery state and wording).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, select

from socialcredit.store.tables import cursors, notices

__all__ = ["NOTICES_CURSOR", "NOTICE_EVENT_KINDS", "NoticeReplay", "notices_from_live"]

#: Ledger event type → the kind of notice it owes its subject (the projector's table).
NOTICE_EVENT_KINDS: dict[str, str] = {
    "entry.warned": "warning",
    "entry.listed": "listing",
    "entry.removed": "removal",
    "entry.expired": "expiry",
    "record.accepted": "adverse_record",
    "dispute.opened": "dispute_opened",
    "dispute.answered": "dispute_answered",
    "dispute.suppressed": "dispute_outcome",
    "dispute.decided": "dispute_outcome",
    "review.decided": "review_outcome",
    "repair.decided": "repair_outcome",
    # to the OLD channel: the person hears of a change they did not make
    "contact.channel_changed": "channel_changed",
    "contact.channel_flagged": "channel_flagged",
}
#: Where the notice projector has got to (table ``cursors``).
NOTICES_CURSOR = "notices"
_SERVED_WITHOUT_EVENT = "sign_in_code"


def _iso(at: str) -> str:
    """An event's time as the outbox writes it (``disclosure.notices.iso``); the ledger writes
    it so already (``2026-12-08T00:42:23.211297+00:00``), which is kept as it is."""
    if len(at) == 32 and at.endswith("+00:00"):
        return at
    return dt.datetime.fromisoformat(at).astimezone(dt.UTC).isoformat(timespec="microseconds")


class NoticeReplay:
    """The notices implied by the events seen so far. ``adverse_kinds``: record kinds whose
    acceptance owes a notice (the policy's catalogue; None: taken from the live table)."""

    def __init__(self, adverse_kinds: Collection[str] | None) -> None:
        self.adverse = None if adverse_kinds is None else frozenset(adverse_kinds)
        self.owed: dict[tuple[str, str], dict[str, Any]] = {}
        #: refs (``event:<seq>``) whose notice may or may not be owed: taken from live
        self.maybe: set[str] = set()
        #: (kind, ref) → (served_at, channel, subject_id) of its notice.served event
        self.served: dict[tuple[str, str], tuple[Any, Any, Any]] = {}

    def event(self, seq: int, at: str, type_: str, sid: int | None,
              p: dict[str, Any]) -> None:
        """An event of :data:`NOTICE_EVENT_KINDS` (or ``notice.served``)."""
        if type_ == "notice.served":
            if "ref" in p and "kind" in p:
                self.served[(p["kind"], p["ref"])] = (p.get("served_at"), p.get("channel"), sid)
            return
        if sid is None:
            return
        kind, ref = NOTICE_EVENT_KINDS[type_], f"event:{seq}"
        if "_tombstone" in p or (kind == "adverse_record" and (
                self.adverse is None or p.get("kind") not in self.adverse)):
            self.maybe.add(ref)  # erased, or adverse under an older catalogue perhaps
            return
        if kind == "listing" and p.get("status", "active") != "active":
            return
        if kind == "channel_changed" and not p.get("from"):
            return
        self.owed[(kind, ref)] = {"kind": kind, "ref": ref, "subject_id": sid,
                                  "event_seq": seq, "created_at": _iso(at)}


def notices_from_live(conn: Connection, rep: NoticeReplay) -> tuple[dict[Any, Any], int]:
    """The replayed ``notices`` table (``(kind, ref)`` → row) from ``rep`` and the live rows
    it cannot judge (module docstring); and how many notices of events were taken from the
    live table (erased payloads, record kinds not known to be adverse; the notices made
    without an event are operational and not counted)."""
    cursor = conn.execute(select(cursors.c.seq).where(
        cursors.c.name == NOTICES_CURSOR)).scalar() or 0
    live = {(r.kind, r.ref): r for r in conn.execute(select(
        notices.c.kind, notices.c.ref, notices.c.subject_id, notices.c.event_seq,
        notices.c.created_at, notices.c.served_at, notices.c.channel))}
    out: dict[Any, dict[str, Any]] = {}
    for key, row in rep.owed.items():
        if row["event_seq"] <= cursor or key in live:
            out[key] = {**row, "served_at": None, "channel": None}
    taken = 0
    for key, r in live.items():
        if key in out or (r.ref.startswith("event:") and r.ref not in rep.maybe):
            continue  # owed rows are judged above; an event's notice no event owes is extra
        out[key] = {"kind": r.kind, "ref": r.ref, "subject_id": r.subject_id,
                    "event_seq": r.event_seq, "created_at": r.created_at,
                    "served_at": None, "channel": None}
        if r.kind == _SERVED_WITHOUT_EVENT or r.channel == "merged":
            out[key].update(served_at=r.served_at, channel=r.channel)
        taken += r.ref.startswith("event:")  # made without an event: not an older ledger's
    for key, (served_at, channel, sid) in rep.served.items():
        served = out.get(key)
        if served is None:  # served, then deleted: the ledger still says it was owed
            served = out[key] = {"kind": key[0], "ref": key[1], "subject_id": sid,
                                 "event_seq": None, "created_at": None}
        served.update(served_at=served_at, channel=channel)
    return out, taken
