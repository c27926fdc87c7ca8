"""Whole-registry evaluation passes: :func:`evaluate_all` re-evaluates every subject with
records or entries (``socialcredit evaluate``, on this process or a batch engine over a Parquet
export), :func:`evaluate_due` only the subjects the calendar moves on a day (the clocks' daily
pass). Both reconcile the registry with ``evaluate_subjects``
(:mod:`socialcredit.policy.evaluate`), one transaction per chunk of subjects, and return its
``EvaluationStats``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select

from socialcredit.errors import InputError
from socialcredit.policy.evaluate import EvaluationStats, evaluate_subjects
from socialcredit.policy.model import Policy
from socialcredit.policy.rules import Evaluation
from socialcredit.store import Store
from socialcredit.store.tables import list_entries, records

Engine = Literal["incremental", "python", "duckdb", "spark"]

__all__ = ["Engine", "evaluate_all", "evaluate_due"]


class _Rollback(Exception):
    pass


def evaluate_all(store: Store, policy: Policy, as_of: dt.date, *, chunk: int = 5000,
                 dry_run: bool = False, progress: Any = None,
                 engine: Engine = "incremental") -> EvaluationStats:
    """Re-evaluate every subject with records or entries (``socialcredit evaluate``), one
    transaction per ``chunk`` subjects; ``progress(done, total)`` is called after each.

    ``engine``: ``incremental`` runs the rules per chunk of subjects in this process;
    ``python``, ``duckdb`` or ``spark`` first export the records to Parquet and evaluate them
    there (:func:`socialcredit.policy.batch.evaluate_parquet`), then reconcile the registry
    from those results in the same transactions — one definition, the same writes.

    With ``dry_run`` every transaction is rolled back: the statistics say what *would* change
    (a what-if for another date), and nothing is written.

    Raises:
        InputError: an unknown engine.
        StoreUnavailable: the database cannot be reached.
    """
    if engine not in ("incremental", "python", "duckdb", "spark"):
        raise InputError(f"unknown engine {engine!r}: use incremental, python, duckdb or spark")
    with store.read() as conn:
        ids = sorted(
            set(conn.execute(select(records.c.subject_id).where(
                records.c.subject_id.is_not(None)).distinct()).scalars())
            | set(conn.execute(select(list_entries.c.subject_id).distinct()).scalars())
        )
    results: dict[int, Evaluation] | None = None
    stats = EvaluationStats(engine=engine)
    if engine != "incremental":
        from socialcredit.policy.batch import evaluate_parquet, export_records

        results = defaultdict(Evaluation)
        with tempfile.TemporaryDirectory(prefix="socialcredit-evaluate-") as tmp:
            path = Path(tmp) / "records.parquet"
            export_records(store, policy, path)
            out = evaluate_parquet(policy, path, as_of, engine=engine)
        for e in out.entries:
            results[e.subject_id].entries.append(e)
        for sc in out.scores:
            results[sc.subject_id].scores.append(sc)
        stats.engine_rows, stats.engine_seconds = out.rows, out.seconds
    for i in range(0, len(ids), chunk):
        try:
            with store.batch(policy.version_hash) as b:
                stats.merge(evaluate_subjects(b, policy, ids[i:i + chunk], as_of,
                                              results=results))
                if dry_run:
                    raise _Rollback
        except _Rollback:
            pass
        if progress is not None:
            progress(min(i + chunk, len(ids)), len(ids))
    return stats


def evaluate_due(store: Store, policy: Policy, as_of: dt.date, *,
                 after: dt.date | None = None, chunk: int = 5000) -> EvaluationStats:
    """Re-evaluate only the subjects whose entries change by the calendar on ``as_of``: an
    active entry that reaches its ``until`` (expiry) or a warned one that reaches its
    ``since`` (the listing starts); and, given ``after`` (the local day the clock last ran),
    those with a record dated after it up to ``as_of``: a record ingested before its own
    local day began for the registry (dated tomorrow, as ingest allows, or evaluated as of
    an earlier day) was not yet evaluated. What the clocks run daily; cheaper than
    :func:`evaluate_all`, which re-derives everything.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    day = as_of.isoformat()
    with store.read() as conn:
        ids = sorted(set(conn.execute(select(list_entries.c.subject_id).where(
            ((list_entries.c.status == "active") & (list_entries.c.until <= day))
            # a warned trigger entry is listed on its ``since``; a warned rating entry (its
            # ``since`` is the first low rating) changes only with a new rating
            | ((list_entries.c.status == "warned") & (list_entries.c.since <= day)
               & list_entries.c.platform.is_(None))
            # a court's lift of one sanction may end on a date (SPC 2015, Art. 9)
            | ((list_entries.c.status == "active") & list_entries.c.lifted.is_not(None)))
        ).scalars()))
        if after is not None:
            ids = sorted(set(ids) | set(conn.execute(select(records.c.subject_id).where(
                records.c.occurred_at > after.isoformat(), records.c.occurred_at <= day,
                records.c.subject_id.is_not(None), records.c.status == "active")
                .distinct()).scalars()))
    stats = EvaluationStats()
    for i in range(0, len(ids), chunk):
        with store.batch(policy.version_hash) as b:
            stats.merge(evaluate_subjects(b, policy, ids[i:i + chunk], as_of))
    return stats
