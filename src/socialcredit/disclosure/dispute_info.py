"""Further information from the subject on an open dispute, and the deadline it extends.

US FCRA §611(a)(1)(B), 15 U.S.C. 1681i(a)(1)(B): the 30-day period to reinvestigate "may be
extended for not more than 15 additional days if the consumer reporting agency receives
information from the consumer during that 30-day period that is relevant to the
reinvestigation". The policy sets the days (``due_process.dispute_extension_days``: 15 in the
US policy, 0 — no extension — in the China policy). Here:

* the information must arrive on or before the dispute's ``due_on`` (the local day of the
  policy's time zone), while the dispute is ``open``;
* the deadline moves once, by the policy's days, from the deadline it had (not from the day
  the information came); later information is recorded but moves nothing;
* §611(a)(1)(C) (no extension when the agency has already found the item inaccurate or
  unverifiable within the 30 days) needs no rule here: such a dispute is no longer ``open``.

Every submission is a ``dispute.information`` ledger event carrying the text, the deadline
before and after, and whether it moved; ``audit replay`` moves ``due_on`` the same way.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select, update

from socialcredit.disclosure.notices import iso
from socialcredit.errors import Conflict, NotFound
from socialcredit.freetext import clean_text
from socialcredit.policy.jurisdiction import local_today
from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.tables import disputes, events

__all__ = ["EVENT", "MAX_TEXT", "add_information"]

EVENT = "dispute.information"
MAX_TEXT = 2000


def _extended_before(conn: Any, subject_id: int, dispute_id: int) -> bool:
    for payload in conn.execute(select(events.c.payload).where(
            events.c.type == EVENT, events.c.subject_id == subject_id)).scalars():
        p = json.loads(payload)
        if p.get("dispute_id") == dispute_id and p.get("extended"):
            return True
    return False


def add_information(store: Store, policy: Policy, *, subject_id: int, dispute_id: int,
                    text: str, now: dt.datetime) -> dict[str, Any]:
    """Record the subject's further information on their open dispute; extend its deadline
    once (module docstring). Returns ``{"dispute_id", "due_on", "previous_due_on",
    "extended": bool}``.

    Raises:
        InputError: an empty or over-long text.
        NotFound: no such dispute in this subject's file.
        Conflict: the dispute is not open, or its deadline has passed (§611(a)(1)(B) counts
            only information received during the period).
    """
    body = clean_text(text, "information", MAX_TEXT)
    today = local_today(policy.jurisdiction, now)
    days = policy.due_process.dispute_extension_days
    with store.batch(policy.version_hash) as b:
        row = b.conn.execute(select(disputes.c.id, disputes.c.subject_id, disputes.c.status,
                                    disputes.c.due_on).where(
            disputes.c.id == dispute_id)).first()
        if row is None or row.subject_id != subject_id:
            raise NotFound(f"there is no dispute {dispute_id} in your file")
        if row.status != "open":
            raise Conflict(f"dispute {dispute_id} is {row.status}: information can be added "
                           "only while it is open", details={"status": row.status})
        due = dt.date.fromisoformat(row.due_on)
        if today > due:
            raise Conflict(f"dispute {dispute_id} was due on {row.due_on}: information must "
                           "come within the period (FCRA 611(a)(1)(B))",
                           details={"due_on": row.due_on})
        extend = days > 0 and not _extended_before(b.conn, subject_id, dispute_id)
        new_due = (due + dt.timedelta(days=days)).isoformat() if extend else row.due_on
        b.emit(EVENT, {"dispute_id": dispute_id, "text": body, "received_at": iso(now),
                       "previous_due_on": row.due_on, "due_on": new_due, "extended": extend,
                       "extension_days": days if extend else 0}, subject_id=subject_id)
        if extend:
            b.conn.execute(update(disputes).where(disputes.c.id == dispute_id)
                           .values(due_on=new_due))
    return {"dispute_id": dispute_id, "due_on": new_due, "previous_due_on": row.due_on,
            "extended": extend}
