"""What the console's queue page shows: every queue with its count, oldest first, and the
deadline that applies.

:func:`queues` returns ``{"links", "appeals", "disputes", "reviews", "repairs",
"quarantine"}``; each is ``{"count": int, "items": [...]}`` (at most ``limit`` items). Items
are the dicts of the existing queue functions (identity/review.py, disclosure/*), so the
console shows what the JSON routes show; ``quarantine`` items are ``{"furnisher", "rows",
"last_source"}`` per furnisher. ``furnisher`` filters disputes and quarantine by furnisher
name. IDs in the identity queue are masked except where they differ (the evidence is
compared character by character, never shown whole).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from socialcredit.disclosure.disputes import disputes_of_furnisher
from socialcredit.disclosure.public import mask_identifier
from socialcredit.disclosure.repairs import open_repairs
from socialcredit.disclosure.reviews import open_reviews
from socialcredit.identity.review import review_queue
from socialcredit.store import Store
from socialcredit.store.tables import furnishers, quarantine

__all__ = ["ACTIONS", "OUTCOMES", "QUEUES", "queues"]



def N_(message: str) -> str:
    """Mark a message for extraction (translated on the page)."""
    return message


#: Queue name → its title on the page.
QUEUES = {"links": N_("Identity review"), "appeals": N_("Appeals"),
          "disputes": N_("Open disputes"), "reviews": N_("Human reviews of refusals"),
          "repairs": N_("Early removal (repair)"), "quarantine": N_("Quarantine per furnisher")}
#: The label of each decision button.
OUTCOMES = {"accept": N_("accept"), "reject": N_("reject"), "upheld": N_("uphold"),
            "overturned": N_("overturn"), "granted": N_("grant"), "refused": N_("refuse"),
            "merge": N_("merge"), "split": N_("split"), "unlink": N_("unlink")}
#: What the subject page's identity actions are called in the message after them.
ACTIONS = {**QUEUES, "merge": N_("Merge of subject"), "split": N_("Merge"),
           "unlink": N_("Record")}


def _pair(item: dict[str, Any]) -> dict[str, Any]:
    rec, sub = item["record"], item["subject"]
    a, b = rec.get("claimed_id") or "", sub.get("national_id") or ""
    item["id_differs_at"] = [i + 1 for i in range(max(len(a), len(b)))
                             if i >= len(a) or i >= len(b) or a[i] != b[i]] if a and b else []
    rec["claimed_id"] = mask_identifier(a) if a else None
    rec["phone"] = mask_identifier(rec["phone"]) if rec.get("phone") else None
    sub["national_id"] = mask_identifier(b) if b else None
    return item


def queues(store: Store, *, furnisher: str | None = None, limit: int = 100) -> dict[str, Any]:
    """Every queue (module docstring)."""
    links = review_queue(store, limit=limit)
    appeals = disputes_of_furnisher(store, None, status="appealed")
    disputes = disputes_of_furnisher(store, None, status="open")
    if furnisher:
        with store.read() as conn:
            fid = conn.execute(select(furnishers.c.id).where(
                furnishers.c.name == furnisher)).scalar()
        disputes = disputes_of_furnisher(store, fid, status="open") if fid else []
    reviews, repairs = open_reviews(store), open_repairs(store)
    with store.read() as conn:
        stmt = (select(furnishers.c.name, func.count().label("rows"),
                       func.max(quarantine.c.source).label("last_source"))
                .join(furnishers, furnishers.c.id == quarantine.c.furnisher_id)
                .group_by(furnishers.c.name).order_by(func.count().desc()))
        if furnisher:
            stmt = stmt.where(furnishers.c.name == furnisher)
        held = [{"furnisher": r.name, "rows": r.rows, "last_source": r.last_source}
                for r in conn.execute(stmt)]
    return {
        "links": {"count": links["count"], "items": [_pair(i) for i in links["data"]]},
        "appeals": {"count": len(appeals), "items": appeals[:limit]},
        "disputes": {"count": len(disputes), "items": disputes[:limit]},
        "reviews": {"count": len(reviews), "items": reviews[:limit]},
        "repairs": {"count": len(repairs), "items": repairs[:limit]},
        "quarantine": {"count": sum(q["rows"] for q in held), "items": held},
    }
