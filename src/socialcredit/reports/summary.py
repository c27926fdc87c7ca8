"""Transparency statistics computed from the projections.

The summary shape is the one :func:`socialcredit.web.report.render_report` renders::

    {"generated_at", "as_of", "policy_version", "subjects", "records", "unlinked_records",
     "rejected_rows", "furnishers", "ledger_events",
     "entries": {list: {"active", "removed", "expired", "pending_review", "suspended",
                        "warned"}},
     "listed_people": {sanctioned list: people (subjects of kind person) with an active entry},
     "listed_organisations": {sanctioned list: organisations with an active entry},
     "incentives": {red list (``effect: incentive``): {"granted": subjects whose live entry
                    earns its benefits on ``as_of``, "suspended": subjects whose live entry is
                    suspended by a live sanctioned entry (policy/incentives.py)}},
     "decisions": {service: {"allow", "deny", "review"}},
     "scores": {score: {grade: people whose newest score has that grade}},
     "due_process": {"disputes": {status: n}, "reviews": {status: n},
                     "notices": {"on_time", "late", "pending"}},
     "tree_head": the newest signed tree head over the ledger, or None
                  (:mod:`socialcredit.store.tree_head`): the report commits to the ledger}
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from socialcredit.policy.jurisdiction import local_today
from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.ledger import utc_now
from socialcredit.store.tables import (
    decision_counts,
    disputes,
    furnishers,
    ledger_head,
    list_entries,
    notices,
    quarantine,
    records,
    reviews,
    scores,
    subjects,
)
from socialcredit.store.tree_head import latest_head

__all__ = ["STATUSES", "summarise"]

#: Statuses of a list entry, as counted in ``entries``.
STATUSES = ("active", "warned", "suspended", "pending_review", "removed", "expired")


def summarise(store: Store, policy: Policy, *, as_of: dt.date | None = None) -> dict[str, Any]:
    """Count subjects, records, entries by list and status, and decisions by service."""
    with store.read() as conn:
        def count(stmt: Any) -> int:
            return int(conn.execute(stmt).scalar_one() or 0)

        entries: dict[str, dict[str, int]] = {name: dict.fromkeys(STATUSES, 0)
                                              for name in policy.lists}
        for lst, status, n in conn.execute(
            select(list_entries.c.list, list_entries.c.status, func.count())
            .group_by(list_entries.c.list, list_entries.c.status)
        ):
            entries.setdefault(lst, dict.fromkeys(STATUSES, 0))[status] = int(n)
        day = (as_of or local_today(policy.jurisdiction)).isoformat()
        people, organisations, incentives = _listed(conn, policy, day)
        decisions: dict[str, dict[str, int]] = {}
        for service, outcome, n in conn.execute(select(
                decision_counts.c.service, decision_counts.c.outcome, decision_counts.c.count)):
            decisions.setdefault(service, {"allow": 0, "deny": 0, "review": 0})[outcome] = int(n)
        grades: dict[str, dict[str, int]] = {
            name: dict.fromkeys((g.grade for g in spec.grades), 0)
            for name, spec in policy.scores.items()}
        newest = select(func.max(scores.c.id)).group_by(scores.c.subject_id, scores.c.score)
        for name, grade, n in conn.execute(
                select(scores.c.score, scores.c.grade, func.count())
                .where(scores.c.id.in_(newest)).group_by(scores.c.score, scores.c.grade)):
            grades.setdefault(name, {})[grade] = int(n)
        return {
            "generated_at": utc_now(),
            "as_of": (as_of or local_today(policy.jurisdiction)).isoformat(),
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
            "listed_organisations": organisations,
            "incentives": incentives,
            "decisions": decisions,
            "scores": grades,
            "due_process": _due_process(conn),
            "tree_head": latest_head(conn, missing_ok=True),
        }


def _listed(conn: Any, policy: Policy, day: str) -> tuple[dict[str, int], dict[str, int],
                                                          dict[str, dict[str, int]]]:
    """(people, organisations) with an active entry per sanctioned list, and per red list the
    subjects granted its incentives on ``day`` and those whose entry a live sanctioned entry
    suspends (:mod:`socialcredit.policy.incentives`: live = begun and not run out)."""
    red = {n for n, s in policy.lists.items() if s.effect == "incentive"}
    people = {n: 0 for n in policy.lists if n not in red}
    organisations = dict(people)
    for lst, kind, n in conn.execute(
        select(list_entries.c.list, subjects.c.kind,
               func.count(func.distinct(list_entries.c.subject_id)))
        .join(subjects, subjects.c.id == list_entries.c.subject_id)
        .where(list_entries.c.status == "active", list_entries.c.list.not_in(sorted(red)))
        .group_by(list_entries.c.list, subjects.c.kind)
    ):
        (organisations if kind == "organisation" else people)[lst] = int(n)
    live = ((list_entries.c.status == "active") & (list_entries.c.since <= day)
            & (list_entries.c.until.is_(None) | (list_entries.c.until > day)))
    blocked = select(list_entries.c.subject_id).where(
        live, list_entries.c.list.in_(sorted(policy.suspending_lists)))
    incentives = {n: {"granted": 0, "suspended": 0} for n in sorted(red)}
    for lst, suspended, n in conn.execute(
        select(list_entries.c.list, list_entries.c.subject_id.in_(blocked).label("blocked"),
               func.count(func.distinct(list_entries.c.subject_id)))
        .where(live, list_entries.c.list.in_(sorted(red)))
        .group_by(list_entries.c.list, "blocked")
    ):
        incentives.setdefault(lst, {"granted": 0, "suspended": 0})[
            "suspended" if suspended else "granted"] += int(n)
    return people, organisations, incentives


def _due_process(conn: Any) -> dict[str, dict[str, int]]:
    """``disputes`` and ``reviews`` by status; ``notices``: served on time, served late,
    pending (sign-in codes left out)."""
    out: dict[str, dict[str, int]] = {}
    for name, table in (("disputes", disputes), ("reviews", reviews)):
        out[name] = {str(st): int(n) for st, n in conn.execute(
            select(table.c.status, func.count()).group_by(table.c.status))}
    real = notices.c.kind != "sign_in_code"
    out["notices"] = {
        "on_time": int(conn.execute(select(func.count()).where(
            real, notices.c.served_at.is_not(None),
            notices.c.served_at <= notices.c.due_at)).scalar_one()),
        "late": int(conn.execute(select(func.count()).where(
            real, notices.c.served_at > notices.c.due_at)).scalar_one()),
        "pending": int(conn.execute(select(func.count()).where(
            real, notices.c.served_at.is_(None))).scalar_one()),
    }
    return out
