"""Policy semantics: from one subject's records to the list entries and scores the policy implies.

Pure functions, no database. This module is the reference: incremental evaluation after each
ingest batch calls it per subject, and the batch engines (:mod:`socialcredit.policy.compile`,
DuckDB and Spark) must give identical results (``tests/test_engines.py`` checks it on random
histories). Records dated after ``as_of`` are ignored, so an evaluation is reproducible for any
date. Every rule reads *obligations*, not reports: the reports of one obligation (a catalogue
kind's ``obligation`` key) are first merged into one record, the latest report's state dated by
the obligation's anchor, its first delinquency (:mod:`socialcredit.policy.obligations`).
Dates are ISO strings (``YYYY-MM-DD``), local dates of the policy's time zone; a period
ending on ``until`` has ended on that day (from local midnight). Periods are counted by the
policy's ``jurisdiction.period_counting`` (:mod:`socialcredit.policy.jurisdiction`: for China
the PRC Civil Code, arts. 200-204, the start day not counted, so two years from 2024-12-08 last
through 2026-12-08 and ``until`` is 2026-12-09).

The reference semantics of every rule kind stay in this module, beside this docstring that
states them, so that the batch engines have one text to match; the types the rules read and
give, and the ``when`` matcher, are in :mod:`socialcredit.policy.rule_types` (re-exported here).
That keeps it just over 400 lines (403): the semantics are one text, not split for a count.

**Trigger lists** (SPC Provisions 2017, Arts. 1-2, 10). Records of the trigger kind that match
``when`` are grouped by their ``key`` value; the earliest of a group (ties: lowest id) not
*exempt* lists the subject from its date plus ``warning_days``, or from the end of a grace period
of ``grace_months`` counted as a period is (``warned`` before that; :func:`listed_from`), for the
period, extended by the largest ``extension`` record of the same key dated within the listing
(at most ``max_years``; a further period counted from the listing's last day,
:func:`~socialcredit.policy.jurisdiction.extend_until`). The earliest removal record of the
same key dated on or after the trigger and before ``until`` (also one within the grace period,
which ends the entry before it was ever in force) (from the listing furnisher when
``removal_by_lister``) ends it (``removed``); otherwise reaching ``until`` ends it
(``expired``). A group whose records are all exempt gives an ``exempt`` entry (``end_reason``
``exempt:<name>``), which lists nobody.

**Criteria lists**. Each record of the kind matching ``when``, not exempt and not cured (a
``cured_by`` record with the same key value dated on or after it), is valued 1 (count) or its
``field``; at each such record the aggregate over those dated within ``window_days`` up to and
including its date (all records of that date) is taken. Records where it reaches ``at_least``
*qualify*. An episode starts at a qualifying record unless the previous qualifying record's
period (from its date) still runs; each episode is an entry keyed by its first date, listed from
that date until the period after its last qualifying record (``expired`` once reached).

**Rating lists**. Per platform, ratings in date order; a rating is *low* when the window of the
last ``window`` ratings holds at least ``min_count`` and their sum is below ``below`` × count.
The latest run of low ratings is the episode; its first ``warnings`` ratings warn, the next one
refuses (``since``). The entry lasts until the period after the platform's latest rating; a
rating that is not low ends it (``removed``, ``rating_recovered``).

**Scores**. ``base`` plus each factor's points in hundredths: a record factor gives
``points × percent`` per matching record, ``percent`` from the first decay band its age (days
before ``as_of``) is under (0 past the last band; 100 without bands), the factor's sum capped at
``cap × 100``; a list factor gives ``points × 100`` while the subject's entry on that list is
``active``. The sum is clamped to [``min``, ``max``] × 100 and floored to whole points. Reason
codes: the factors that cost points, most first (ties: code), at most ``reason_codes``. A
subject is scored when it has a record of a kind the policy reads.

**Score lists** are ``active`` (``key`` ``score``, ``since`` = ``as_of``, no ``until``) while the
score is below ``below`` or its grade is one of ``grades``.

**Lifting** (SPC 2015, Art. 9). For a sanction with ``lifting``: the latest lifting record of
the entry's key (dated on or after the listing record, from the listing furnisher when
``removal_by_lister``) per service it names lifts that service until its ``until_field`` date
(or for good); a lift whose date has passed on ``as_of`` is dropped.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque
from collections.abc import Iterable

from socialcredit.policy.jurisdiction import Counting, extend_until, period_until
from socialcredit.policy.model import Exemption, ListSpec, Policy, ScoreSpec
from socialcredit.policy.obligations import merge_obligations
from socialcredit.policy.rule_types import (
    DesiredEntry,
    Evaluation,
    RecordView,
    ScoreResult,
    matches,
)

__all__ = ["DesiredEntry", "Evaluation", "RecordView", "ScoreResult",
           "desired_entries", "evaluate_records", "kinds_read", "listed_from", "matches"]


def _value(rec: RecordView, key: str) -> str | None:
    if key == "furnisher_record_id":
        return rec.furnisher_record_id
    v = rec.payload.get(key)
    return None if v is None else str(v)


def _add_days(day: str, days: int) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=days)).isoformat()


def _until(day: str, spec: ListSpec, counting: Counting) -> str:
    """End of a listing that starts on ``day`` (exclusive: on that date it has ended)."""
    days, months = spec.period
    return period_until(dt.date.fromisoformat(day), counting, days=days,
                        months=months).isoformat()


def listed_from(day: str, spec: ListSpec, counting: Counting) -> str:
    """The day a trigger listing found on ``day`` takes effect: after ``grace_months`` (the
    exclusive end of that period, counted as a listing period is) or ``warning_days``."""
    if spec.grace_months:
        return period_until(dt.date.fromisoformat(day), counting,
                            months=spec.grace_months).isoformat()
    return _add_days(day, spec.warning_days)


def _order(r: RecordView) -> tuple[str, int]:
    return (r.occurred_at, r.id)


def _exemption(exemptions: tuple[Exemption, ...], r: RecordView,
               recs: list[RecordView]) -> str | None:
    """Name of the first exemption ``r`` falls under, or None."""
    for e in exemptions:
        if not matches(r.payload, e.when):
            continue
        if e.record is None:
            return e.name
        earliest = _add_days(r.occurred_at, -e.within_days)
        if any(x.kind == e.record and earliest <= x.occurred_at <= r.occurred_at
               and matches(x.payload, e.record_when) for x in recs):
            return e.name
    return None


def _trigger(policy: Policy, name: str, spec: ListSpec, recs: list[RecordView], as_of: str,
             ) -> Iterable[DesiredEntry]:
    assert spec.trigger is not None
    rule, counting = spec.trigger, policy.jurisdiction.period_counting
    groups: dict[str, list[RecordView]] = defaultdict(list)
    for r in recs:
        if r.kind == rule.kind and matches(r.payload, rule.when):
            key = _value(r, rule.key)
            if key is not None:
                groups[key].append(r)
    for key, group in groups.items():
        # the earliest record, ties to the lowest id: several furnishers may send the same
        # case, and the entry must not flip between their copies with the load order
        group.sort(key=_order)
        live = [r for r in group if _exemption(spec.exemptions, r, recs) is None]
        if not live:
            r = group[0]
            yield DesiredEntry(name, r.subject_id, key, "exempt", r.occurred_at, None,
                               _ground(r, rule.ground_field), r.id, r.furnisher_id,
                               end_reason=f"exempt:{_exemption(spec.exemptions, r, recs)}")
            continue
        r = live[0]

        def same_case(x: RecordView, kind: str, key_field: str, first: RecordView = r,
                      case: str = key) -> bool:
            # only the furnisher that listed can end or change it (the enforcing court, SPC
            # 2017 Art. 10): a case number is public, another court's record is not proof
            return (x.kind == kind and _value(x, key_field) == case
                    and x.occurred_at >= first.occurred_at
                    and (not spec.removal_by_lister or x.furnisher_id == first.furnisher_id))

        # a grace (warning) period first, where the policy demands one: listed only after it
        since = listed_from(r.occurred_at, spec, counting)
        until = _until(since, spec, counting)
        if (ext := spec.extension) is not None:
            years = [int(x.payload[ext.field]) for x in recs
                     if same_case(x, ext.kind, ext.key) and x.occurred_at < until
                     and isinstance(x.payload.get(ext.field), int)]
            extra = min(max(years, default=0), ext.max_years)
            if extra > 0:
                until = extend_until(dt.date.fromisoformat(until), counting,
                                     months=12 * extra).isoformat()
        status, ended, reason, end_id = "active", None, None, None
        # the earliest removal record; one that matches two rules takes the first's reason
        removals = sorted(((x, i) for x in recs for i, rm in enumerate(spec.removal)
                           if same_case(x, rm.kind, rm.key) and matches(x.payload, rm.when)),
                          key=lambda xi: (_order(xi[0]), xi[1]))
        if removals and removals[0][0].occurred_at < until:
            x, i = removals[0]
            status, ended, reason, end_id = "removed", x.occurred_at, spec.removal[i].reason, x.id
        elif until <= as_of:
            status, ended, reason = "expired", until, "period_ended"
        elif as_of < since:
            status = "warned"
        lifted: dict[str, tuple[tuple[str, int], str | None]] = {}
        for sanction in policy.sanctions_for(name):
            if (lf := sanction.lifting) is None:
                continue
            for x in recs:
                service = x.payload.get(lf.service_field)
                if same_case(x, lf.kind, lf.key) and service in sanction.services:
                    end = x.payload.get(lf.until_field) if lf.until_field else None
                    if service not in lifted or _order(x) > lifted[service][0]:
                        lifted[service] = (_order(x), end)
        lifts = tuple(sorted((svc, end) for svc, (_, end) in lifted.items()
                             if end is None or end > as_of))
        yield DesiredEntry(name, r.subject_id, key, status, since, until,
                           _ground(r, rule.ground_field), r.id, r.furnisher_id, None, ended,
                           reason, end_id, lifts)


def _ground(r: RecordView, ground_field: str | None) -> int | None:
    ground = r.payload.get(ground_field) if ground_field else None
    return int(ground) if ground is not None else None


def _criteria(name: str, spec: ListSpec, recs: list[RecordView], as_of: str,
              counting: Counting) -> Iterable[DesiredEntry]:
    assert spec.criteria is not None
    rule = spec.criteria
    counted: list[tuple[RecordView, int]] = []
    for r in recs:
        if r.kind != rule.kind or not matches(r.payload, rule.when):
            continue
        if _exemption(spec.exemptions, r, recs) is not None:
            continue
        if (cb := rule.cured_by) is not None:
            key = _value(r, cb.key)
            if key is not None and any(
                    y.kind == cb.kind and _value(y, cb.key) == key
                    and y.occurred_at >= r.occurred_at and matches(y.payload, cb.when)
                    for y in recs):
                continue
        if rule.field is None:
            counted.append((r, 1))
        elif isinstance(v := r.payload.get(rule.field), int) and not isinstance(v, bool):
            counted.append((r, v))
    counted.sort(key=lambda rv: _order(rv[0]))
    qualifying: list[RecordView] = []
    for r, _ in counted:
        start = _add_days(r.occurred_at, -rule.window_days)
        values = [v for x, v in counted if start < x.occurred_at <= r.occurred_at]
        agg = (len(values) if rule.aggregate == "count"
               else sum(values) if rule.aggregate == "sum" else max(values))
        if agg >= rule.at_least:
            qualifying.append(r)
    episodes: list[list[RecordView]] = []
    for q in qualifying:
        if episodes and q.occurred_at < _until(episodes[-1][-1].occurred_at, spec, counting):
            episodes[-1].append(q)
        else:
            episodes.append([q])
    for ep in episodes:
        first, until = ep[0], _until(ep[-1].occurred_at, spec, counting)
        expired = until <= as_of
        yield DesiredEntry(name, first.subject_id, first.occurred_at,
                           "expired" if expired else "active", first.occurred_at, until, None,
                           first.id, first.furnisher_id, None, until if expired else None,
                           "period_ended" if expired else None)


def _rating(name: str, spec: ListSpec, recs: list[RecordView], as_of: str,
            counting: Counting) -> Iterable[DesiredEntry]:
    assert spec.rating is not None
    rule = spec.rating
    by_platform: dict[str, list[RecordView]] = defaultdict(list)
    for r in recs:
        v = r.payload.get(rule.field)
        if r.kind == rule.kind and isinstance(v, int) and not isinstance(v, bool):
            by_platform[r.furnisher].append(r)
    for platform, ratings in by_platform.items():
        ratings.sort(key=_order)
        window: deque[int] = deque(maxlen=rule.window)
        total = 0
        low: list[bool] = []
        for r in ratings:
            if len(window) == window.maxlen:
                total -= window[0]
            value = int(r.payload[rule.field])
            window.append(value)
            total += value
            # sum against threshold × count: the same float comparison in SQL
            low.append(len(window) >= rule.min_count and total < rule.below * len(window))
        starts = [i for i, lo in enumerate(low) if lo and (i == 0 or not low[i - 1])]
        if not starts:
            continue
        s = starts[-1]
        end = next((j for j in range(s + 1, len(low)) if not low[j]), None)
        refused = s + rule.warnings
        refusal = ratings[refused] if refused < (end if end is not None else len(low)) else None
        first, last = ratings[s], ratings[-1]
        until = _until(last.occurred_at, spec, counting)
        since = refusal.occurred_at if refusal is not None else first.occurred_at
        status, ended, reason, end_id = "active", None, None, None
        if end is not None:
            status, ended = "removed", ratings[end].occurred_at
            reason, end_id = "rating_recovered", ratings[end].id
        elif until <= as_of:
            status, ended, reason = "expired", until, "period_ended"
        elif refusal is None:
            status = "warned"
        yield DesiredEntry(name, first.subject_id, platform, status, since, until, None,
                           first.id, first.furnisher_id, platform, ended, reason, end_id)


def _percent(spec: ScoreSpec, age_days: int) -> int:
    if not spec.decay:
        return 100
    return next((b.percent for b in spec.decay if age_days < b.days), 0)


def _score(name: str, spec: ScoreSpec, subject_id: int, recs: list[RecordView],
           entries: list[DesiredEntry], as_of: dt.date) -> ScoreResult:
    active = {e.list for e in entries if e.status == "active"}
    points: dict[str, int] = {}
    for f in spec.factors:
        if f.list is not None:
            total = f.points * 100 if f.list in active else 0
        else:
            total = sum(f.points * _percent(spec, (as_of - dt.date.fromisoformat(
                r.occurred_at)).days) for r in recs
                if r.kind == f.kind and matches(r.payload, f.when))
            if f.cap is not None:
                total = max(total, f.cap * 100) if f.points < 0 else min(total, f.cap * 100)
        points[f.code] = total
    centi = min(max(spec.base * 100 + sum(points.values()), spec.min * 100), spec.max * 100)
    value = centi // 100
    costly = sorted((p, code) for code, p in points.items() if p < 0)
    return ScoreResult(name, subject_id, value, spec.grade_of(value),
                       tuple(code for _, code in costly[:spec.reason_codes]))


def kinds_read(policy: Policy) -> set[str]:
    """Record kinds that evaluation reads (sources, removals, cures, extensions, exemptions,
    liftings, score factors). A new set on each call (callers may change it)."""
    return set(_derived(policy)[0])


def _kinds_read(policy: Policy) -> frozenset[str]:
    kinds: set[str] = set()
    for spec in policy.lists.values():
        for rule in (spec.trigger, spec.rating, spec.criteria, spec.extension):
            if rule is not None:
                kinds.add(rule.kind)
        if spec.criteria is not None and spec.criteria.cured_by is not None:
            kinds.add(spec.criteria.cured_by.kind)
        kinds.update(r.kind for r in spec.removal)
        kinds.update(e.record for e in spec.exemptions if e.record)
    kinds.update(s.lifting.kind for s in policy.sanctions if s.lifting)
    for score in policy.scores.values():
        kinds.update(f.kind for f in score.factors if f.kind)
    return frozenset(kinds)


#: id(policy) → (the policy, its kinds read, its evaluation order): worked out once per policy
#: object, not once per subject (they cost a third of the rules' time when evaluating
#: ingest chunks). A policy is frozen, so its derived facts cannot go stale; the identity check
#: guards against a reused id.
_DERIVED: dict[int, tuple[Policy, frozenset[str], tuple[tuple[str, str], ...]]] = {}


def _derived(policy: Policy) -> tuple[frozenset[str], tuple[tuple[str, str], ...]]:
    hit = _DERIVED.get(id(policy))
    if hit is None or hit[0] is not policy:
        if len(_DERIVED) > 64:
            _DERIVED.clear()
        hit = _DERIVED[id(policy)] = (policy, _kinds_read(policy),
                                      tuple(policy.evaluation_order()))
    return hit[1], hit[2]


def evaluate_records(policy: Policy, subject_id: int, records: list[RecordView],
                     as_of: dt.date) -> Evaluation:
    """Entries and scores the policy implies for one subject's records on ``as_of`` (external
    lists are not evaluated: their entries come from ``lists import``). Lists and scores are
    taken in :meth:`Policy.evaluation_order`, so a score sees the lists it reads."""
    day = as_of.isoformat()
    # reports dated by ``as_of``, those of one obligation merged into one (its latest state,
    # dated by its anchor: the first delinquency, which no later report moves)
    recs = merge_obligations(policy, [r for r in records if r.occurred_at <= day])
    out = Evaluation()
    read, order = _derived(policy)
    if not any(r.kind in read for r in recs):
        return out
    counting = policy.jurisdiction.period_counting
    for node, name in order:
        if node == "score":
            out.scores.append(_score(name, policy.scores[name], subject_id, recs, out.entries,
                                     as_of))
            continue
        spec = policy.lists[name]
        if spec.trigger is not None:
            out.entries.extend(_trigger(policy, name, spec, recs, day))
        elif spec.criteria is not None:
            out.entries.extend(_criteria(name, spec, recs, day, counting))
        elif spec.rating is not None:
            out.entries.extend(_rating(name, spec, recs, day, counting))
        elif spec.score is not None:
            result = next(s for s in out.scores if s.score == spec.score.name)
            low = (result.value < spec.score.below if spec.score.below is not None
                   else result.grade in spec.score.grades)
            if low:
                out.entries.append(DesiredEntry(name, subject_id, "score", "active", day, None))
    return out


def desired_entries(policy: Policy, records: list[RecordView], as_of: dt.date,
                    ) -> list[DesiredEntry]:
    """The entries of :func:`evaluate_records` for one subject's records."""
    if not records:
        return []
    return evaluate_records(policy, records[0].subject_id, records, as_of).entries
