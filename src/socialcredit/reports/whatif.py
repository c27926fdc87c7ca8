"""What-if: a candidate policy (NEW) against another (CURRENT) on the registry's records, writing
nothing (``socialcredit evaluate --policy NEW --compare CURRENT``).

Both policies are evaluated the same way on the same records as of the same day — by the
reference rules in process (engine ``python``) or by a batch engine over a Parquet export in a
temporary folder (``duckdb``, ``spark``: :mod:`socialcredit.policy.batch`) — and the same
read-only due-process overlay is applied to both (granted repairs end an entry, an open dispute
suspends it where the policy says so, an entry resting on an unconfirmed link is
``pending_review``; entries of external lists are taken from the registry as they stand). The
registry is only read: no transaction is opened for writing, the ledger head does not move.

:func:`compare` (pure) reports, as one JSON-ready mapping:

* ``lists``: per list, entries by status under each policy, entries ``added`` (active under NEW,
  not under CURRENT, same ``(list, subject, key)``; on a criteria list, same subject) and
  ``removed`` (the reverse), entries active under both whose dates change, subjects listed;
* ``refusals``: per service and platform (platform-scoped sanctions: the listing platform and
  the recipients of its sharing agreements), subjects refused under NEW only and under CURRENT
  only. A subject is refused for a service when an active entry's list has a sanction with that
  service not lifted on ``as_of``;
* ``decisions``: the gate refusals logged in the last :data:`DECISION_WINDOW_DAYS` days (table
  ``decisions``; allows are only counted, so only a deny can be re-decided) and how many each
  policy would now allow;
* ``scores``: per score, subjects by grade under each policy and subjects whose grade changes;
* ``benefits``: per service and benefit of a red list, subjects earning it under each policy,
  with the registry's precedence (none while a sanctioned entry is live), and red-list
  entries suspended (:func:`socialcredit.policy.incentives.benefit_changes`);
* ``disparate_impact``: per region, age band and sex, the population (subjects with a valid
  national ID in ``identifiers``), the listing rate under each policy (subjects with an active
  entry on a list that has a sanction) and its ratio to the overall rate, flagged outside
  [0.8, 1.25] (the four-fifths rule; :mod:`socialcredit.reports.impact`).

:func:`what_if` says what it is doing through ``progress`` (one short English phrase per
step), so that a page or a terminal can show it.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select

from socialcredit.errors import InputError
from socialcredit.policy.due_process import apply_due_process, load_due_process
from socialcredit.policy.incentives import benefit_changes
from socialcredit.policy.model import Policy
from socialcredit.policy.records import record_views
from socialcredit.policy.rules import (
    DesiredEntry,
    RecordView,
    ScoreResult,
    evaluate_records,
    kinds_read,
)
from socialcredit.reports.impact import (
    AGE_BANDS,
    FOUR_FIFTHS,
    GB2260_PROVINCES,
    SMALL_GROUP,
    Person,
    impact,
    people,
    person_of,
)
from socialcredit.store import Store
from socialcredit.store.tables import decisions, gates, list_entries

__all__ = ["AGE_BANDS", "DECISION_WINDOW_DAYS", "FOUR_FIFTHS", "GB2260_PROVINCES", "SMALL_GROUP",
           "Denial", "Engine", "Outcome", "Person", "compare", "evaluate_policy", "logged_denials",
           "people", "person_of", "refusals", "what_if"]

Engine = Literal["python", "duckdb", "spark"]

#: Logged refusals younger than this many days (before ``as_of``, inclusive) are re-decided.
DECISION_WINDOW_DAYS = 30

@dataclass(frozen=True, slots=True)
class Outcome:
    """One policy evaluated on the registry: its entries and scores, the records read (rows)
    and the time taken (seconds), by ``engine``."""

    entries: list[DesiredEntry]
    scores: list[ScoreResult]
    rows: int
    seconds: float
    engine: str


@dataclass(frozen=True, slots=True)
class Denial:
    """A logged gate refusal: service, subject, the platform of the gate (None: no platform,
    or an operator's check) and when (ISO instant)."""

    service: str
    subject_id: int
    platform: str | None
    at: str


# ------------------------------------------------------------------------ reading the registry
def _python(store: Store, policies: list[Policy], as_of: dt.date) -> list[Outcome]:
    """Every policy by the reference rules, one pass over the active records."""
    start = time.perf_counter()
    kinds = sorted(set().union(*(kinds_read(p) for p in policies)))
    outs: list[tuple[list[DesiredEntry], list[ScoreResult]]] = [([], []) for _ in policies]
    rows = 0

    def flush(recs: list[RecordView]) -> None:
        for policy, (entries, scores) in zip(policies, outs, strict=True):
            ev = evaluate_records(policy, recs[0].subject_id, recs, as_of)
            entries.extend(ev.entries)
            scores.extend(ev.scores)

    with store.read() as conn:
        current: list[RecordView] = []
        for rec in record_views(conn, kinds):
            rows += 1
            if current and current[0].subject_id != rec.subject_id:
                flush(current)
                current = []
            current.append(rec)
        if current:
            flush(current)
    seconds = time.perf_counter() - start
    return [Outcome(e, s, rows, seconds, "python") for e, s in outs]


def _batch(store: Store, policy: Policy, as_of: dt.date, engine: Engine, spark: Any) -> Outcome:
    """One policy by a batch engine over a Parquet export in a temporary folder."""
    from socialcredit.policy.batch import evaluate_parquet, export_records

    with tempfile.TemporaryDirectory(prefix="socialcredit-whatif-") as tmp:
        path = Path(tmp) / "records.parquet"
        export_records(store, policy, path)
        result = evaluate_parquet(policy, path, as_of, engine=engine, spark=spark)
    return Outcome(list(result.entries), list(result.scores), result.rows, result.seconds,
                   result.engine)


def _overlay(store: Store, policy: Policy, entries: list[DesiredEntry]) -> list[DesiredEntry]:
    """The registry's due-process state on the rule entries, read only, by the same code
    :func:`socialcredit.policy.evaluate.evaluate_subjects` applies when it writes; plus the
    registry's active entries of the policy's external lists."""
    # the external lists, and the lists of organisations' representatives (read from the
    # registry as they stand: they follow the organisations' entries, not the rules)
    external = sorted(n for n, s in policy.lists.items()
                      if s.external or s.represents is not None)
    with store.read() as conn:
        state = load_due_process(conn, policy, None)
        ext = [DesiredEntry(r.list, r.subject_id, r.key, "active", r.since, r.until, r.ground,
                            r.record_id, r.furnisher_id, r.platform)
               for r in conn.execute(select(list_entries).where(
                   list_entries.c.status == "active", list_entries.c.list.in_(external)))]
    return [apply_due_process(policy, state, d)[0] for d in entries] + ext


def _quiet(step: str) -> None:
    """The default ``progress``: says nothing."""


def evaluate_policy(store: Store, policies: list[Policy], as_of: dt.date, *,
                    engine: Engine = "duckdb", spark: Any = None,
                    progress: Callable[[str], None] = _quiet) -> list[Outcome]:
    """Evaluate each of ``policies`` on the registry's active records as of ``as_of``, with the
    due-process overlay (module docstring); nothing is written. ``progress`` is told each step.

    Raises:
        InputError: an unknown ``engine``.
        ImportError: the engine's extra is not installed (``socialcredit[spark]``).
    """
    n = len(policies)
    if engine == "python":
        progress(f"evaluating {n} policies in one pass over the records (python)")
        raw = _python(store, policies, as_of)
    elif engine in ("duckdb", "spark"):
        raw = []
        for i, p in enumerate(policies, 1):
            progress(f"evaluating policy {i} of {n} ({p.name} {p.version}) on {engine}")
            raw.append(_batch(store, p, as_of, engine, spark))
    else:
        raise InputError(f"unknown engine {engine!r}: use python, duckdb or spark")
    progress("applying the registry's disputes, repairs and reviews to both")
    return [replace(o, entries=_overlay(store, p, o.entries))
            for p, o in zip(policies, raw, strict=True)]


def logged_denials(store: Store, as_of: dt.date, days: int = DECISION_WINDOW_DAYS, *,
                   zone: dt.tzinfo = dt.UTC) -> list[Denial]:
    """Refusals logged in the ``days`` local days up to ``as_of`` (inclusive) of ``zone`` (the
    policy's time zone), with the platform of the deciding gate. ``decisions.at`` is a UTC
    timestamp: the window's ends are the local midnights, in UTC."""
    def utc_midnight(day: dt.date) -> str:
        local = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
        return local.astimezone(dt.UTC).isoformat(timespec="microseconds")

    start = utc_midnight(as_of - dt.timedelta(days=days - 1))
    end = utc_midnight(as_of + dt.timedelta(days=1))
    with store.read() as conn:
        return [Denial(r.service, r.subject_id, r.platform, r.at) for r in conn.execute(
            select(decisions.c.service, decisions.c.subject_id, gates.c.platform,
                   decisions.c.at)
            .outerjoin(gates, gates.c.name == decisions.c.gate)
            .where(decisions.c.outcome == "deny", decisions.c.subject_id.is_not(None),
                   decisions.c.at >= start, decisions.c.at < end)
            .order_by(decisions.c.at))]


# ------------------------------------------------------------------------------- comparing
Refusal = tuple[str, str | None, int]


def refusals(policy: Policy, entries: Iterable[DesiredEntry], as_of: dt.date) -> set[Refusal]:
    """(service, platform or None, subject) refused: an active entry, a sanction of its list
    with that service not lifted on ``as_of``; a platform-scoped sanction refuses on the
    entry's platform and the recipients of a sharing agreement from it for that list."""
    day = as_of.isoformat()
    out: set[Refusal] = set()
    for e in entries:
        if e.status != "active" or (e.until is not None and e.until <= day):
            continue
        lifted = {svc for svc, until in e.lifted if until is None or until > day}
        for s in policy.sanctions_for(e.list):
            if s.scope == "platform":
                where: set[str | None] = {e.platform} | {
                    r for a in policy.sharing if a.source == e.platform and e.list in a.lists
                    for r in a.recipients}
            else:
                where = {None}
            out.update((svc, p, e.subject_id) for svc in s.services if svc not in lifted
                       for p in where)
    return out


def _refused(refused: set[Refusal], d: Denial) -> bool:
    return ((d.service, None, d.subject_id) in refused
            or (d.platform is not None and (d.service, d.platform, d.subject_id) in refused))


def _listed(policy: Policy, entries: Iterable[DesiredEntry]) -> set[int]:
    """Subjects with an active entry on a list that has at least one sanction."""
    sanctioned = {s.list for s in policy.sanctions}
    return {e.subject_id for e in entries if e.status == "active" and e.list in sanctioned}


def _lists(new: Policy, cur: Policy, o_new: Outcome, o_cur: Outcome, names: list[str],
           ) -> dict[str, Any]:
    """Per list: active entries matched across the policies by (subject, key) — by subject
    alone on a criteria list, whose key is the date its episode started (a lower threshold
    starts the same episode earlier; a subject has at most one active episode per list)."""
    def active(p: Policy, o: Outcome) -> dict[str, dict[tuple[int, str], DesiredEntry]]:
        out: dict[str, dict[tuple[int, str], DesiredEntry]] = defaultdict(dict)
        for e in o.entries:
            if e.status == "active":
                spec = p.lists.get(e.list)
                key = "" if spec is not None and spec.criteria is not None else e.key
                out[e.list][(e.subject_id, key)] = e
        return out

    def statuses(o: Outcome) -> dict[str, Counter[str]]:
        out: dict[str, Counter[str]] = defaultdict(Counter)
        for e in o.entries:
            out[e.list][e.status] += 1
        return out

    a_new, a_cur = active(new, o_new), active(cur, o_cur)
    s_new, s_cur = statuses(o_new), statuses(o_cur)
    return {name: {
        "added": len(a_new[name].keys() - a_cur[name].keys()),
        "removed": len(a_cur[name].keys() - a_new[name].keys()),
        "dates_changed": sum(1 for k, e in a_new[name].items() if k in a_cur[name]
                             and (a_cur[name][k].since, a_cur[name][k].until)
                             != (e.since, e.until)),
        "subjects": {"current": len({s for s, _ in a_cur[name]}),
                     "new": len({s for s, _ in a_new[name]})},
        "status": {"current": dict(sorted(s_cur[name].items())),
                   "new": dict(sorted(s_new[name].items()))},
    } for name in names}


def _refusal_changes(r_new: set[Refusal], r_cur: set[Refusal], sample: int,
                     ) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str | None], dict[str, set[int]]] = defaultdict(
        lambda: {"new": set(), "current": set()})
    for side, refused in (("new", r_new), ("current", r_cur)):
        for svc, platform, sid in refused:
            groups[(svc, platform)][side].add(sid)
    out = []
    for (svc, platform), g in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        only_new, only_cur = sorted(g["new"] - g["current"]), sorted(g["current"] - g["new"])
        out.append({"service": svc, "platform": platform,
                    "refused": {"current": len(g["current"]), "new": len(g["new"])},
                    "new_only": len(only_new), "current_only": len(only_cur),
                    "new_only_sample": only_new[:sample],
                    "current_only_sample": only_cur[:sample]})
    return out


def _decisions(denials: list[Denial], r_new: set[Refusal], r_cur: set[Refusal],
               ) -> dict[str, Any]:
    by: dict[str, Counter[str]] = defaultdict(Counter)
    for d in denials:
        c = by[d.service]
        c["denied"] += 1
        c["allow_under_new"] += not _refused(r_new, d)
        c["allow_under_current"] += not _refused(r_cur, d)
        c["flip"] += _refused(r_cur, d) and not _refused(r_new, d)
    keys = ("denied", "allow_under_new", "allow_under_current", "flip")
    return {"window_days": DECISION_WINDOW_DAYS,
            "total": {k: sum(c[k] for c in by.values()) for k in keys},
            "by_service": {svc: {k: c[k] for k in keys} for svc, c in sorted(by.items())}}


def _scores(new: Policy, cur: Policy, o_new: Outcome, o_cur: Outcome) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in list(dict.fromkeys([*new.scores, *cur.scores])):
        grades = [g.grade for p in (new, cur) if name in p.scores for g in p.scores[name].grades]
        g_new = {s.subject_id: s.grade for s in o_new.scores if s.score == name}
        g_cur = {s.subject_id: s.grade for s in o_cur.scores if s.score == name}
        c_new, c_cur = Counter(g_new.values()), Counter(g_cur.values())
        out[name] = {
            "grades": {g: {"current": c_cur[g], "new": c_new[g], "change": c_new[g] - c_cur[g]}
                       for g in dict.fromkeys(grades)},
            "scored": {"current": len(g_cur), "new": len(g_new)},
            "grade_changed": sum(1 for s, g in g_new.items() if s in g_cur and g_cur[s] != g),
            # scored under one policy only: a fall in a grade's row can be people who lose
            # their score, not a change of grade
            "score_lost": sum(1 for s in g_cur if s not in g_new),
            "score_gained": sum(1 for s in g_new if s not in g_cur),
        }
    return out


def compare(new: Policy, current: Policy, o_new: Outcome, o_cur: Outcome, as_of: dt.date, *,
            persons: Sequence[Person] = (), invalid_ids: int = 0,
            denials: Sequence[Denial] = (), sample: int = 20) -> dict[str, Any]:
    """The what-if report of two evaluated outcomes (pure; see the module docstring).

    Returns ``{"as_of", "new": {version, version_hash, name, engine, rows, seconds},
    "current": {…}, "lists": {list: {added, removed, dates_changed, subjects: {current, new},
    status: {current: {status: n}, new: {…}}}}, "refusals": [{service, platform, refused: {current,
    new}, new_only, current_only, new_only_sample, current_only_sample}], "decisions":
    {window_days, total, by_service: {service: {denied, allow_under_new, allow_under_current,
    flip}}}, "scores": {score: {grades: {grade: {current, new, change}}, scored, grade_changed,
    score_lost, score_gained}},
    "disparate_impact": {population, invalid_ids, overall, band, groups: {region | age_band |
    sex: [{group, label, population, small, current: {listed, rate, ratio}, new: {…},
    flagged}]}}}``.
    ``flip`` counts logged refusals that CURRENT would still refuse and NEW would allow;
    samples are the lowest ``sample`` subject ids.
    """
    names = list(dict.fromkeys([*current.lists, *new.lists]))
    r_new, r_cur = refusals(new, o_new.entries, as_of), refusals(current, o_cur.entries, as_of)

    def about(p: Policy, o: Outcome) -> dict[str, Any]:
        return {"name": p.name, "version": p.version, "version_hash": p.version_hash,
                "engine": o.engine, "rows": o.rows, "seconds": round(o.seconds, 3)}

    return {
        "as_of": as_of.isoformat(), "new": about(new, o_new), "current": about(current, o_cur),
        "lists": _lists(new, current, o_new, o_cur, names),
        "refusals": _refusal_changes(r_new, r_cur, sample),
        "decisions": _decisions(list(denials), r_new, r_cur),
        "scores": _scores(new, current, o_new, o_cur),
        "benefits": benefit_changes(new, current, o_new.entries, o_cur.entries, as_of),
        "disparate_impact": impact(list(persons), invalid_ids, _listed(new, o_new.entries),
                                    _listed(current, o_cur.entries), as_of, new),
    }


def what_if(store: Store, new: Policy, current: Policy, as_of: dt.date, *,
            engine: Engine = "duckdb", spark: Any = None,
            progress: Callable[[str], None] = _quiet) -> dict[str, Any]:
    """Evaluate ``new`` and ``current`` on the registry and :func:`compare` them; reads only.
    ``progress`` is told each step (module docstring).

    Raises:
        InputError: an unknown engine. StoreUnavailable: the database cannot be reached.
        ImportError: the engine's extra is not installed.
    """
    o_new, o_cur = evaluate_policy(store, [new, current], as_of, engine=engine, spark=spark,
                                   progress=progress)
    progress("reading the population by region, age and sex")
    persons, invalid = people(store, new)
    progress("re-deciding the gate refusals logged in the window")
    denials = logged_denials(store, as_of, zone=new.jurisdiction.zone)
    progress("comparing")
    return compare(new, current, o_new, o_cur, as_of, persons=persons, invalid_ids=invalid,
                   denials=denials)
