"""Transparency statistics computed from the projections.

The summary shape is the one :func:`socialcredit.reports.render.render_report` renders::

    {"generated_at", "as_of", "policy_version", "subjects", "records", "unlinked_records",
     "rejected_rows", "furnishers", "ledger_events",
     "entries": {list: {"active", "removed", "expired", "pending_review"}},
     "listed_people": {list: people with at least one active entry},
     "decisions": {service: {"allow", "deny", "review"}}}
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.ledger import utc_now
from socialcredit.store.tables import (
    decision_counts,
    furnishers,
    ledger_head,
    list_entries,
    quarantine,
    records,
    subjects,
)

__all__ = ["summarise"]


def summarise(store: Store, policy: Policy, *, as_of: dt.date | None = None) -> dict[str, Any]:
    """Count subjects, records, entries by list and status, and decisions by service."""
    with store.read() as conn:
        def count(stmt: Any) -> int:
            return int(conn.execute(stmt).scalar_one() or 0)

        entries: dict[str, dict[str, int]] = {
            name: {"active": 0, "removed": 0, "expired": 0, "pending_review": 0}
            for name in policy.lists}
        for lst, status, n in conn.execute(
            select(list_entries.c.list, list_entries.c.status, func.count())
            .group_by(list_entries.c.list, list_entries.c.status)
        ):
            entries.setdefault(lst, {"active": 0, "removed": 0, "expired": 0,
                                     "pending_review": 0})[status] = int(n)
        people = {name: 0 for name in policy.lists}
        for lst, n in conn.execute(
            select(list_entries.c.list, func.count(func.distinct(list_entries.c.subject_id)))
            .where(list_entries.c.status == "active").group_by(list_entries.c.list)
        ):
            people[lst] = int(n)
        decisions: dict[str, dict[str, int]] = {}
        for service, outcome, n in conn.execute(select(
                decision_counts.c.service, decision_counts.c.outcome, decision_counts.c.count)):
            decisions.setdefault(service, {"allow": 0, "deny": 0, "review": 0})[outcome] = int(n)
        return {
            "generated_at": utc_now(),
            "as_of": (as_of or dt.datetime.now(dt.UTC).date()).isoformat(),
            "policy_version": policy.version_hash,
            "subjects": count(select(func.count()).select_from(subjects).where(
                subjects.c.source == "registry")),
            "records": count(select(func.count()).select_from(records)),
            "unlinked_records": count(select(func.count()).select_from(records).where(
                records.c.subject_id.is_(None))),
            # each bad row once, however often its file was re-sent
            "rejected_rows": count(select(func.count()).select_from(
                select(quarantine.c.ingest_id, quarantine.c.line).distinct().subquery())),
            "furnishers": count(select(func.count()).select_from(furnishers)),
            "ledger_events": count(select(ledger_head.c.seq)),
            "entries": entries,
            "listed_people": people,
            "decisions": decisions,
        }
