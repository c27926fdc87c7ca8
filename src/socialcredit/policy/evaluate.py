"""Evaluation into the registry: reconcile the ``list_entries`` projection and the ``scores``
history of some subjects with what the policy implies for them
(:func:`socialcredit.policy.rules.evaluate_records`, or the same results computed by a batch
engine over a Parquet export, :mod:`socialcredit.policy.batch`).

Ledger events: ``entry.listed`` (new entry, or re-listing of an ended one), ``entry.updated``
(dates or ground changed, e.g. after a correction), ``entry.removed`` / ``entry.expired``
(with ``reason`` and the ending record), ``entry.suspended`` (an open dispute, when the policy
suspends listings during disputes), ``entry.warned`` (the list's warning period before a
listing), each carrying the policy version of the batch; ``score.changed`` when a subject's
score, grade or reason codes change (a new row of ``scores``). An ``exempt`` result writes no
entry, and ends a live one (``entry.removed``, reason ``exempt:<name>``). Only
``active`` records count: a suppressed, deleted or retired record lists nobody.

Longer than 400 lines (519): reconciliation, the due-process overlay and the whole-registry
pass share one transaction's state; the split by facet (reconcile / due process / all) is
issue #18's, left for when the set-based evaluation of issue #12 replaces the per-subject path.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, func, select, true, update

from socialcredit.errors import InputError
from socialcredit.policy.model import Policy
from socialcredit.policy.records import record_views
from socialcredit.policy.representatives import representative_entries
from socialcredit.policy.rules import (
    DesiredEntry,
    Evaluation,
    RecordView,
    ScoreResult,
    evaluate_records,
    kinds_read,
)
from socialcredit.store import Store
from socialcredit.store.ledger import Batch
from socialcredit.store.tables import (
    disputes,
    furnishers,
    link_candidates,
    links,
    list_entries,
    records,
    repairs,
    scores,
)

Engine = Literal["incremental", "python", "duckdb", "spark"]

__all__ = ["DueProcessState", "EvaluationStats", "apply_due_process", "evaluate_all",
           "evaluate_due", "evaluate_subjects", "load_due_process", "record_views"]

_CHUNK = 500
#: Repair conditions (an application); other rows of ``repairs`` end an entry for a due
#: process outcome (``dispute_suppressed``, ``review_overturned`` ...).
_REPAIRS = ("performance", "settlement", "consent")
_COMPARED = ("status", "since", "until", "ground", "record_id", "ended_on", "end_reason",
             "lifted")
_LIVE = ("active", "suspended", "warned", "pending_review")
#: Why an entry the rules no longer imply ends, by the kind of list.
_GONE = {"trigger": "record_withdrawn", "criteria": "criteria_no_longer_met",
         "rating": "record_withdrawn", "score": "score_recovered"}


@dataclass
class EvaluationStats:
    subjects: int = 0
    listed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    removed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    expired: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    suspended: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    warned: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: entries resting on a record whose probabilistic link awaits review (issue #3)
    pending_review: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    updated: int = 0
    #: subjects whose score, grade or reason codes changed, per score
    scores_changed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: how the results were computed: incremental (per subject, in the database's process) or
    #: a batch engine over a Parquet export, with its rows and seconds
    engine: str = "incremental"
    engine_rows: int = 0
    engine_seconds: float = 0.0

    def merge(self, other: EvaluationStats) -> None:
        self.subjects += other.subjects
        self.updated += other.updated
        for mine, theirs in ((self.listed, other.listed), (self.removed, other.removed),
                             (self.expired, other.expired), (self.suspended, other.suspended),
                             (self.warned, other.warned),
                             (self.pending_review, other.pending_review),
                             (self.scores_changed, other.scores_changed)):
            for k, v in theirs.items():
                mine[k] += v

    def as_dict(self) -> dict[str, Any]:
        return {"subjects": self.subjects, "listed": dict(self.listed),
                "removed": dict(self.removed), "expired": dict(self.expired),
                "suspended": dict(self.suspended), "warned": dict(self.warned),
                "pending_review": dict(self.pending_review), "updated": self.updated,
                "scores_changed": dict(self.scores_changed), "engine": self.engine,
                "engine_rows": self.engine_rows,
                "engine_seconds": round(self.engine_seconds, 3)}


def _load_records(batch: Batch, ids: list[int], kinds: set[str]) -> dict[int, list[RecordView]]:
    out: dict[int, list[RecordView]] = defaultdict(list)
    for rec in record_views(batch.conn, kinds, ids):
        out[rec.subject_id].append(rec)
    return out


def _event_payload(entry_id: int, d: DesiredEntry, public: bool | None = None,
                   ) -> dict[str, Any]:
    """The entry event's payload: the whole entry, and on creation whether it is public (so
    ``audit replay`` rebuilds the row from the ledger alone)."""
    body = asdict(d)
    body["entry_id"] = entry_id
    if public is not None:
        body["public"] = public
    return body


def _lifted(d: DesiredEntry) -> str | None:
    return json.dumps([list(x) for x in d.lifted]) if d.lifted else None


def evaluate_subjects(batch: Batch, policy: Policy, subject_ids: Iterable[int],
                      as_of: dt.date, *, results: Mapping[int, Evaluation] | None = None,
                      ) -> EvaluationStats:
    """Reconcile the entries and scores of ``subject_ids`` inside ``batch`` (same transaction
    as the records that caused it). Lists marked ``external`` are left alone.

    ``results`` (subject id → :class:`Evaluation`, from a batch engine) replaces reading the
    records and running the rules; a subject missing from it has no entries and no score.
    """
    stats = EvaluationStats()
    kinds = kinds_read(policy)
    # every list but the policy's external ones: a list the policy no longer defines is
    # evaluated too, and its live entries end (``list_withdrawn``)
    external = [n for n, s in policy.lists.items()
                if s.external or s.represents is not None]  # the latter: at the end
    todo = sorted(set(subject_ids))
    for i in range(0, len(todo), _CHUNK):
        ids = todo[i:i + _CHUNK]
        if results is None:
            recs = _load_records(batch, ids, kinds)
            found = {sid: evaluate_records(policy, sid, recs[sid], as_of)
                     for sid in ids if sid in recs}
        else:
            found = {sid: results[sid] for sid in ids if sid in results}
        current = {
            (r.list, r.subject_id, r.key): r
            for r in batch.conn.execute(
                select(list_entries).where(list_entries.c.subject_id.in_(ids),
                                           list_entries.c.list.not_in(external)))
        }
        desired = {(d.list, d.subject_id, d.key): d
                   for ev in found.values() for d in ev.entries}
        desired = _kept_since(policy, current, desired)
        desired = _exempted(current, desired, as_of)
        state = load_due_process(batch.conn, policy, ids)
        for key, d in desired.items():
            desired[key], resting = apply_due_process(policy, state, d)
            for rid in resting:  # queued, so that an operator can confirm the link
                _queue(batch, state.unconfirmed[rid])
        for key, d in desired.items():
            _reconcile(batch, policy, stats, current.get(key), d)
        for key, row in current.items():
            if key not in desired and row.status in _LIVE:
                gone = DesiredEntry(row.list, row.subject_id, row.key, "removed", row.since,
                                    row.until, row.ground, row.record_id, row.furnisher_id,
                                    row.platform, as_of.isoformat(),
                                    _GONE[policy.lists[row.list].rule]
                                    if row.list in policy.lists else "list_withdrawn")
                _reconcile(batch, policy, stats, row, gone)
        _write_scores(batch, policy, stats, ids, [s for ev in found.values() for s in ev.scores],
                      as_of)
        stats.subjects += len(ids)
    if any(s.represents is not None for s in policy.lists.values()):
        # the people of organisations follow the organisations' entries just reconciled
        batch.flush()
        current, desired = representative_entries(batch.conn, policy, todo, as_of)
        state = load_due_process(batch.conn, policy, sorted({k[1] for k in desired}))
        for key, d in desired.items():
            _reconcile(batch, policy, stats, current.get(key),
                       apply_due_process(policy, state, d)[0])
    return stats


def _kept_since(policy: Policy, current: dict[Any, Any],
                desired: dict[Any, DesiredEntry]) -> dict[Any, DesiredEntry]:
    """A score-list entry is computed with ``since`` = the evaluation date; one already live
    keeps the date it was first listed."""
    out = {}
    for key, d in desired.items():
        row = current.get(key)
        if (policy.lists[d.list].score is not None and row is not None
                and row.status == d.status):
            d = replace(d, since=row.since)
        out[key] = d
    return out


def _exempted(current: dict[Any, Any], desired: dict[Any, DesiredEntry], as_of: dt.date,
              ) -> dict[Any, DesiredEntry]:
    """An exempt case whose entry is live (listed before the exemption was known) ends on
    ``as_of`` with reason ``exempt:<name>``."""
    out = {}
    for key, d in desired.items():
        row = current.get(key)
        if d.status == "exempt" and row is not None and row.status in _LIVE:
            d = replace(d, status="removed", since=row.since, until=row.until,
                        ended_on=as_of.isoformat())
        out[key] = d
    return out


def _write_scores(batch: Batch, policy: Policy, stats: EvaluationStats, ids: list[int],
                  results: list[ScoreResult], as_of: dt.date) -> None:
    """Append a ``scores`` row (and a ``score.changed`` event) for each result that differs
    from the subject's newest row for that score. A subject with a score row but no result
    (its last records were suppressed, withdrawn or moved by a merge) is back at ``base``."""
    if not policy.scores:
        return
    newest = select(func.max(scores.c.id)).where(scores.c.subject_id.in_(ids)).group_by(
        scores.c.subject_id, scores.c.score)
    latest = {(r.subject_id, r.score): r for r in batch.conn.execute(
        select(scores).where(scores.c.id.in_(newest)))}
    have = {(r.subject_id, r.score) for r in results}
    for sid, name in sorted(set(latest) - have):
        spec = policy.scores.get(name)
        if spec is not None:
            results = [*results, ScoreResult(name, sid, spec.base, spec.grade_of(spec.base),
                                             ())]
    for res in results:
        reasons = json.dumps(list(res.reasons))
        row = latest.get((res.subject_id, res.score))
        if row is not None and (row.value, row.grade, row.reasons) == (res.value, res.grade,
                                                                         reasons):
            continue
        body = {"score": res.score, "value": res.value, "grade": res.grade,
                "reasons": list(res.reasons), "as_of": as_of.isoformat(),
                "previous": None if row is None else {"value": row.value, "grade": row.grade}}
        seq = batch.emit("score.changed", body, subject_id=res.subject_id)
        batch.add(scores, {"id": batch.next_id(scores), "subject_id": res.subject_id,
                           "score": res.score, "value": res.value, "grade": res.grade,
                           "reasons": reasons, "as_of": as_of.isoformat(),
                           "policy_version": policy.version_hash, "seq": seq})
        stats.scores_changed[res.score] += 1


@dataclass
class DueProcessState:
    """What due process says about some subjects' entries, read from the registry: granted
    repairs and due-process outcomes (entry key → condition, day), open disputes (records and
    entry keys), and records resting on a link not confirmed by an operator (record id → link
    row; ``(subject, kind, furnisher)`` → those record ids, for rating lists). An entry key is
    ``(list, subject_id, key)``."""

    granted: dict[tuple[str, int, str], tuple[str, str | None]]
    disputed_records: set[int]
    disputed_entries: set[tuple[str, int, str]]
    unconfirmed: dict[int, Any]
    by_source: dict[tuple[int, str, str], list[int]]


def load_due_process(conn: Connection, policy: Policy, subject_ids: list[int] | None,
                     ) -> DueProcessState:
    """Read :class:`DueProcessState` for ``subject_ids`` (None: every subject)."""
    def of(col: Any) -> Any:
        return col.in_(subject_ids) if subject_ids is not None else true()

    granted = {(r.list, r.subject_id, r.key): (r.condition, r.decided_on)
               for r in conn.execute(
                   select(list_entries.c.list, list_entries.c.subject_id, list_entries.c.key,
                          repairs.c.condition, repairs.c.decided_on)
                   .join(repairs, repairs.c.entry_id == list_entries.c.id)
                   .where(of(repairs.c.subject_id), repairs.c.status == "granted"))}
    disputed_records: set[int] = set()
    disputed_entries: set[tuple[str, int, str]] = set()
    if policy.due_process.suspend_listing_during_dispute:
        for r in conn.execute(
                select(disputes.c.record_id, list_entries.c.list, list_entries.c.subject_id,
                       list_entries.c.key)
                .outerjoin(list_entries, list_entries.c.id == disputes.c.entry_id)
                .where(of(disputes.c.subject_id), disputes.c.status == "open")):
            if r.record_id is not None:
                disputed_records.add(r.record_id)
            if r.list is not None:
                disputed_entries.add((r.list, r.subject_id, r.key))
    unconfirmed = {r.record_id: r for r in conn.execute(select(links).where(
        of(links.c.subject_id), links.c.status.in_(("pending", "confirmed")),
        links.c.rule != "manual"))}
    by_source: dict[tuple[int, str, str], list[int]] = defaultdict(list)
    if unconfirmed:
        # a rating entry rests on every rating of its platform, not only on the one that
        # crossed the line
        for rid, sid, kind, source in conn.execute(
                select(records.c.id, records.c.subject_id, records.c.kind, furnishers.c.name)
                .join(furnishers, furnishers.c.id == records.c.furnisher_id)
                .join(links, links.c.record_id == records.c.id)
                .where(of(links.c.subject_id), links.c.status.in_(("pending", "confirmed")),
                       links.c.rule != "manual")):
            by_source[(sid, kind, source)].append(rid)
    return DueProcessState(granted, disputed_records, disputed_entries, unconfirmed, by_source)


def apply_due_process(policy: Policy, state: DueProcessState, d: DesiredEntry,
                      ) -> tuple[DesiredEntry, list[int]]:
    """The entry as due process leaves it, and the unconfirmed records it rests on.

    * A granted repair or due-process outcome ends an active entry on the day of the grant
      (reason ``repair:<condition>`` for an application, else the outcome that ended it).
    * Under ``due_process.suspend_listing_during_dispute``, an active entry whose record or
      entry is disputed is ``suspended``.
    * An active or warned entry resting on a record not linked by its own checksum-valid ID
      nor confirmed by an operator is ``pending_review`` (DESIGN §3.2: "a list entry that
      triggers sanctions needs a checksum-valid identifier or a human-confirmed link").
    """
    key = (d.list, d.subject_id, d.key)
    if d.status == "active" and key in state.granted:
        condition, day = state.granted[key]
        d = replace(d, status="removed", ended_on=day,
                    end_reason=f"repair:{condition}" if condition in _REPAIRS else condition)
    if d.status == "active" and (d.record_id in state.disputed_records
                                 or key in state.disputed_entries):
        d = replace(d, status="suspended")
    resting: list[int] = []
    if d.status in ("active", "warned"):
        resting = [d.record_id] if d.record_id in state.unconfirmed else []
        rule = policy.lists[d.list].rating
        if rule is not None and d.platform is not None:
            resting += state.by_source.get((d.subject_id, rule.kind, d.platform), [])
        if resting:
            d = replace(d, status="pending_review")
    return d, list(dict.fromkeys(resting))


def _queue(batch: Batch, link: Any) -> None:
    """An open review-queue pair for a model- or phone-confirmed link, unless there is one."""
    if link.status != "confirmed":
        return  # a pending link has its candidates queued already
    batch.flush()
    if batch.conn.execute(select(link_candidates.c.id).where(
            link_candidates.c.record_id == link.record_id,
            link_candidates.c.status == "open")).first() is not None:
        return
    cid = batch.next_id(link_candidates)  # the pair copies the link (`audit replay`)
    batch.emit("link.queued", {"candidate_id": cid, "record_id": link.record_id,
                               "subject_id": link.subject_id}, subject_id=link.subject_id)
    batch.add(link_candidates, {
        "id": cid, "record_id": link.record_id,
        "subject_id": link.subject_id, "match_weight": link.match_weight or 0.0,
        "match_probability": link.match_probability or 0.0,
        "explanation": link.explanation, "model_version": link.model_version,
        "status": "open", "created_seq": link.seq})


def _reconcile(batch: Batch, policy: Policy, stats: EvaluationStats, row: Any,
               d: DesiredEntry) -> None:
    if d.status == "exempt":
        return  # an exempt case lists nobody (a live entry was ended by _exempted)
    values = {k: getattr(d, k) for k in (*_COMPARED[:-1], "furnisher_id", "platform",
                                          "end_record_id")}
    values["lifted"] = _lifted(d)
    if row is None:
        entry_id = batch.next_id(list_entries)
        if d.status in ("warned", "pending_review"):  # not listed (yet): no sanction
            seq = batch.emit(f"entry.{d.status}",
                             _event_payload(entry_id, d, policy.lists[d.list].public),
                             subject_id=d.subject_id)
            (stats.warned if d.status == "warned" else stats.pending_review)[d.list] += 1
            batch.add(list_entries, {"id": entry_id, "list": d.list,
                                     "subject_id": d.subject_id, "key": d.key,
                                     "public": policy.lists[d.list].public,
                                     "policy_version": policy.version_hash, "seq": seq,
                                     **values})
            return
        seq = batch.emit("entry.listed",
                         _event_payload(entry_id, d, policy.lists[d.list].public),
                         subject_id=d.subject_id)
        stats.listed[d.list] += 1
        if d.status != "active":
            seq = batch.emit(f"entry.{d.status}", _event_payload(entry_id, d),
                             subject_id=d.subject_id)
            _ended(stats, d)
        batch.add(list_entries, {"id": entry_id, "list": d.list, "subject_id": d.subject_id,
                                 "key": d.key, "public": policy.lists[d.list].public,
                                 "policy_version": policy.version_hash, "seq": seq, **values})
        return
    if all(getattr(row, k) == values[k] for k in _COMPARED):
        return
    if d.status == "active":
        kind = "entry.listed" if row.status != "active" else "entry.updated"
        if kind == "entry.listed":
            stats.listed[d.list] += 1
        else:
            stats.updated += 1
    else:
        kind = f"entry.{d.status}"
        if row.status == d.status:
            stats.updated += 1
        else:
            _ended(stats, d)
    seq = batch.emit(kind, _event_payload(row.id, d), subject_id=d.subject_id)
    batch.conn.execute(update(list_entries).where(list_entries.c.id == row.id).values(
        policy_version=policy.version_hash, seq=seq, **values))


def _ended(stats: EvaluationStats, d: DesiredEntry) -> None:
    counter = {"removed": stats.removed, "expired": stats.expired,
               "suspended": stats.suspended, "warned": stats.warned,
               "pending_review": stats.pending_review}[d.status]
    counter[d.list] += 1


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
