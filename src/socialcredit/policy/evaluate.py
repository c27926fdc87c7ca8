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

This module reconciles; the due-process overlay it applies to each entry is
:mod:`socialcredit.policy.due_process`, and the whole-registry passes that call it
(``evaluate_all``, ``evaluate_due``) are :mod:`socialcredit.policy.sweeps`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy import func, select, update

from socialcredit.policy.due_process import apply_due_process, load_due_process
from socialcredit.policy.model import Policy
from socialcredit.policy.records import record_views
from socialcredit.policy.representatives import COVERED, covered_cases, representative_entries
from socialcredit.policy.rules import (
    DesiredEntry,
    Evaluation,
    RecordView,
    ScoreResult,
    evaluate_records,
    kinds_read,
)
from socialcredit.store.ledger import Batch
from socialcredit.store.tables import link_candidates, list_entries, scores, subjects

__all__ = ["EvaluationStats", "evaluate_subjects"]

_CHUNK = 500
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
    #: entries created already ended (their period over, or the debt paid, before this
    #: evaluation first saw them): neither listed nor counted in ``expired`` / ``removed``
    already_expired: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    already_removed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
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
                             (self.already_expired, other.already_expired),
                             (self.already_removed, other.already_removed),
                             (self.scores_changed, other.scores_changed)):
            for k, v in theirs.items():
                mine[k] += v

    def as_dict(self) -> dict[str, Any]:
        return {"subjects": self.subjects, "listed": dict(self.listed),
                "removed": dict(self.removed), "expired": dict(self.expired),
                "suspended": dict(self.suspended), "warned": dict(self.warned),
                "pending_review": dict(self.pending_review),
                "already_expired": dict(self.already_expired),
                "already_removed": dict(self.already_removed), "updated": self.updated,
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
    has_reps = any(s.represents is not None for s in policy.lists.values())
    todo = sorted(set(subject_ids))
    todo = _organisations_first(batch, todo) if has_reps else todo
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
        if has_reps:  # a representative is never listed for the organisation's case
            batch.flush()  # the organisations' entries of the chunks before (they come first)
            covered = covered_cases(batch.conn, policy, ids, as_of, desired.values())
            desired = {k: replace(d, status="exempt", end_reason=f"exempt:{COVERED}")
                       if k in covered and d.status != "exempt" else d
                       for k, d in desired.items()}
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
    if has_reps:
        # the people of organisations follow the organisations' entries just reconciled
        batch.flush()
        current, desired = representative_entries(batch.conn, policy, todo, as_of)
        state = load_due_process(batch.conn, policy, sorted({k[1] for k in desired}))
        for key, d in desired.items():
            _reconcile(batch, policy, stats, current.get(key),
                       apply_due_process(policy, state, d)[0])
        _end_covered(batch, policy, stats, sorted({k[1] for k in desired}), as_of)
    return stats


def _end_covered(batch: Batch, policy: Policy, stats: EvaluationStats, people: list[int],
                 as_of: dt.date) -> None:
    """End the live own entries of ``people`` for a case they are now restricted for as an
    organisation's representative (listed before the organisation's entry was known)."""
    batch.flush()
    for lst, sid, key in sorted(covered_cases(batch.conn, policy, people, as_of)):
        row = batch.conn.execute(select(list_entries).where(
            list_entries.c.list == lst, list_entries.c.subject_id == sid,
            list_entries.c.key == key)).first()
        if row is not None and row.status in _LIVE:
            _reconcile(batch, policy, stats, row, DesiredEntry(
                row.list, sid, key, "removed", row.since, row.until, row.ground,
                row.record_id, row.furnisher_id, row.platform, as_of.isoformat(),
                f"exempt:{COVERED}"))


def _organisations_first(batch: Batch, ids: list[int]) -> list[int]:
    """``ids`` with the organisations first, so that a representative named in an
    organisation's case finds its entry (:func:`covered_cases`)."""
    orgs: set[int] = set()
    for i in range(0, len(ids), 500):
        orgs.update(batch.conn.execute(select(subjects.c.id).where(
            subjects.c.id.in_(ids[i:i + 500]),
            subjects.c.kind == "organisation")).scalars())
    return sorted(orgs) + [i for i in ids if i not in orgs]


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
        if d.status in ("expired", "removed"):  # ended before it was first seen
            (stats.already_expired if d.status == "expired" else stats.already_removed)[
                d.list] += 1
        else:
            stats.listed[d.list] += 1
        if d.status != "active":
            seq = batch.emit(f"entry.{d.status}", _event_payload(entry_id, d),
                             subject_id=d.subject_id)
            if d.status not in ("expired", "removed"):
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
