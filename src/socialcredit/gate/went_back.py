"""A gate refuses to follow a ledger that went back without a restore event (issue #15).

A gate index follows the ledger by ``seq`` and remembers the hash of the last event it applied.
When the ledger's head is now below that event, or that event's hash changed, the ledger it
followed is gone: rolled back, rewritten, or replaced by a restored backup. Only the last is
legitimate, and :func:`socialcredit.store.backup.restore` says so in the ledger itself: it
appends a ``ledger.restored`` event. :func:`check_went_back` lets the gate rebuild from the
new ledger only when such an event appeared since the gate last built; otherwise it raises
:class:`~socialcredit.store.monitor.LedgerForked`, and the gate keeps answering from what it
holds (the follower logs the refusal and retries) until an operator looks.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from socialcredit.store.monitor import LedgerForked
from socialcredit.store.tables import events

__all__ = ["RESTORED", "check_went_back", "latest_restore"]

#: The event :func:`socialcredit.store.backup.restore` appends to a restored ledger.
RESTORED = "ledger.restored"


def latest_restore(conn: Connection) -> tuple[int, str, str] | None:
    """``(seq, hash, at)`` of the newest ``ledger.restored`` event, or None."""
    row = conn.execute(select(events.c.seq, events.c.hash, events.c.at).where(
        events.c.type == RESTORED).order_by(events.c.seq.desc()).limit(1)).first()
    return None if row is None else (int(row.seq), str(row.hash), str(row.at))


def check_went_back(conn: Connection, *, last_seq: int, last_hash: str | None,
                    last_at: str | None, head: int,
                    known_restore: tuple[int, str, str] | None) -> tuple[int, str, str]:
    """The ledger no longer holds event ``last_seq`` with ``last_hash`` (written at
    ``last_at``; its head is now ``head``): return the restore event that explains it, one
    written after the event the gate followed (an older restore left in a ledger cut back to
    it explains nothing).

    Raises:
        LedgerForked: no such ``ledger.restored`` event (other than ``known_restore``, the
            newest one when the gate last built): the ledger went back or was rewritten behind
            the registry's back. ``details``: ``{followed_seq, followed_hash, head, reason}``.
    """
    restore = latest_restore(conn)
    if restore is None or restore == known_restore or (
            last_at is not None and restore[2] <= last_at):
        raise LedgerForked(
            f"the ledger went back without a restore event: this gate followed it to event "
            f"{last_seq}, it now ends at {head} or holds another event there; the gate keeps "
            "answering from what it holds",
            details={"followed_seq": last_seq, "followed_hash": last_hash, "head": head,
                     "reason": "went back without a restore event"})
    return restore
