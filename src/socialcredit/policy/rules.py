"""Policy semantics: from one subject's records to the list entries the policy implies.

Pure functions, no database: the same code serves incremental evaluation after each ingest batch
and ``socialcredit evaluate --as-of DATE``. Records dated after ``as_of`` are ignored, so an
evaluation is reproducible for any date.

Trigger lists (SPC Provisions 2017, Arts. 1-2, 10): each distinct trigger key lists the subject
from the record's date (plus the list's ``warning_days``, during which the entry is ``warned``
and sanctions nothing) for ``period_days``; a removal record with the same key dated on or after
the listing ends it (``removed``, reason from the rule); reaching ``until`` ends it
(``expired``). Rating lists: per platform, the mean of the last ``window`` ratings below
``below`` (with at least ``min_count``) lists the subject on that platform from the rating that
first crossed the threshold, until ``period_days`` after the latest rating; a recovered mean
ends it (``removed``, reason ``rating_recovered``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from socialcredit.policy.model import ListSpec, Policy

__all__ = ["DesiredEntry", "RecordView", "desired_entries"]


@dataclass(frozen=True, slots=True)
class RecordView:
    """What evaluation reads of a record (superseded records are never passed in)."""

    id: int
    subject_id: int
    furnisher_id: int
    furnisher: str
    furnisher_record_id: str
    kind: str
    occurred_at: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DesiredEntry:
    list: str
    subject_id: int
    key: str
    status: str  # active | warned | removed | expired
    since: str
    until: str | None
    ground: int | None = None
    record_id: int | None = None
    furnisher_id: int | None = None
    platform: str | None = None
    ended_on: str | None = None
    end_reason: str | None = None
    end_record_id: int | None = None


def _matches(payload: dict[str, Any], when: dict[str, Any]) -> bool:
    return all(payload.get(k) == v for k, v in when.items())


def _value(rec: RecordView, key: str) -> str | None:
    if key == "furnisher_record_id":
        return rec.furnisher_record_id
    v = rec.payload.get(key)
    return None if v is None else str(v)


def _add_days(day: str, days: int) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=days)).isoformat()


def _until(day: str, spec: ListSpec) -> str:
    """End of a listing that starts on ``day`` (exclusive: on that date it has ended)."""
    if spec.period_years is not None:
        start = dt.date.fromisoformat(day)
        try:
            return start.replace(year=start.year + spec.period_years).isoformat()
        except ValueError:  # 29 February in a year without one
            return start.replace(year=start.year + spec.period_years, day=28).isoformat()
    assert spec.period_days is not None
    return _add_days(day, spec.period_days)


def _trigger(name: str, spec: ListSpec, recs: list[RecordView], as_of: str,
             ) -> Iterable[DesiredEntry]:
    assert spec.trigger is not None
    rule = spec.trigger
    first: dict[str, RecordView] = {}
    for r in recs:
        if r.kind == rule.kind and _matches(r.payload, rule.when):
            key = _value(r, rule.key)
            # the earliest record, ties to the lowest id: several furnishers may send the same
            # case, and the entry must not flip between their copies with the load order
            if key is not None and (key not in first or (r.occurred_at, r.id)
                                    < (first[key].occurred_at, first[key].id)):
                first[key] = r
    for key, r in first.items():
        # a warning period first, where the policy demands one: listed only after it
        since = _add_days(r.occurred_at, spec.warning_days)
        until = _until(since, spec)
        status, ended, reason, end_id = "active", None, None, None
        removals = sorted(
            (x for x in recs for rm in spec.removal
             if x.kind == rm.kind and _value(x, rm.key) == key and _matches(x.payload, rm.when)
             and x.occurred_at >= r.occurred_at
             # only the furnisher that listed can end it (the enforcing court, SPC 2017
             # Art. 10): a case number is public, another court's "performance" is not proof
             and (not spec.removal_by_lister or x.furnisher_id == r.furnisher_id)),
            key=lambda x: (x.occurred_at, x.id),
        )
        reasons = {rm.kind: rm.reason for rm in spec.removal}
        if removals and removals[0].occurred_at < until:
            status, ended = "removed", removals[0].occurred_at
            reason, end_id = reasons[removals[0].kind], removals[0].id
        elif until <= as_of:
            status, ended, reason = "expired", until, "period_ended"
        elif as_of < since:
            status = "warned"
        ground = r.payload.get(rule.ground_field) if rule.ground_field else None
        yield DesiredEntry(name, r.subject_id, key, status, since, until,
                           int(ground) if ground is not None else None, r.id, r.furnisher_id,
                           None, ended, reason, end_id)


def _rating(name: str, spec: ListSpec, recs: list[RecordView], as_of: str,
            ) -> Iterable[DesiredEntry]:
    assert spec.rating is not None
    rule = spec.rating
    by_platform: dict[str, list[RecordView]] = defaultdict(list)
    for r in recs:
        if r.kind == rule.kind and isinstance(r.payload.get(rule.field), int):
            by_platform[r.furnisher].append(r)
    for platform, ratings in by_platform.items():
        ratings.sort(key=lambda x: (x.occurred_at, x.id))
        window: deque[int] = deque(maxlen=rule.window)
        total, start, was_low = 0, None, False
        first_low: RecordView | None = None
        for r in ratings:
            if len(window) == window.maxlen:
                total -= window[0]
            value = int(r.payload[rule.field])
            window.append(value)
            total += value
            low = len(window) >= rule.min_count and total / len(window) < rule.below
            if low and not was_low:
                first_low, start = r, r.occurred_at
            was_low = low
        if first_low is None or start is None:
            continue
        last = ratings[-1]
        until = _until(last.occurred_at, spec)
        status, ended, reason = "active", None, None
        if not was_low:
            status, ended, reason = "removed", last.occurred_at, "rating_recovered"
        elif until <= as_of:
            status, ended, reason = "expired", until, "period_ended"
        yield DesiredEntry(name, first_low.subject_id, platform, status, start, until, None,
                           first_low.id, first_low.furnisher_id, platform, ended, reason,
                           last.id if reason == "rating_recovered" else None)


def desired_entries(policy: Policy, records: list[RecordView], as_of: dt.date,
                    ) -> list[DesiredEntry]:
    """Entries the policy implies for one subject's records on ``as_of`` (external lists are
    not evaluated: their entries come from ``lists import``)."""
    day = as_of.isoformat()
    recs = [r for r in records if r.occurred_at <= day]
    out: list[DesiredEntry] = []
    for name, spec in policy.lists.items():
        if spec.trigger is not None:
            out.extend(_trigger(name, spec, recs, day))
        elif spec.rating is not None:
            out.extend(_rating(name, spec, recs, day))
    return out
