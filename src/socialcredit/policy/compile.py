"""The policy compiled once into Ibis table expressions: the batch engines (DuckDB, Spark).

:func:`compile_policy` turns a :class:`~socialcredit.policy.model.Policy` into a
:class:`CompiledPolicy` (cached per policy); :meth:`CompiledPolicy.expressions` applies it to a
records table on a date and returns two engine-free expressions, run unchanged by any Ibis
backend (``tests/test_engines.py`` runs them on DuckDB and local Spark against the reference
:mod:`socialcredit.policy.rules`, which they must match exactly).

The records table (:func:`socialcredit.policy.batch.record_schema`) has one row per record:
``id, subject_id, furnisher_id, furnisher, furnisher_record_id, kind, occurred_at`` (date) and
one column ``f_<field>`` per payload field of the catalogue (see :func:`payload_columns`).

Output, one row per entry (:data:`ENTRY_SCHEMA`) and per score (:data:`SCORE_SCHEMA`), with the
fields of :class:`~socialcredit.policy.rules.DesiredEntry` / ``ScoreResult``; dates are ``date``
columns, ``lifted`` is ``"svc:until|svc2:"`` (services in order, an empty ``until`` for good),
``reasons`` is ``"A|B"`` (most costly first); both are ``""`` when empty.

How each rule of ``rules.py`` is expressed: the reports of one obligation are first merged into
one row (:meth:`CompiledPolicy._obligations`, window functions over the obligation key);
criteria windows are RANGE frames over day numbers (every record of the same date), rating
windows ROWS frames ordered by ``(occurred_at, id)``; ties are broken by ``(occurred_at, id)``
everywhere; periods are counted as :func:`socialcredit.policy.jurisdiction.period_until` counts
them (PRC Civil Code, arts. 200-204, for China: the start day not counted, months and years to
the corresponding day or the month's last day), calendar months added with ``make_date`` over a
month number and the month's length worked out in the expression (no engine's own month
arithmetic, whose end-of-month rules differ); the rating threshold is compared in double
precision (the literal is parsed by the engine as a double, not a decimal); scores are integer
hundredths floored by exact integer arithmetic (no engine's truncating division of negatives).

Longer than 400 lines: one builder per rule of ``rules.py``, kept in one class so that each
reads beside the helpers it shares with the others (keys, exemptions, periods).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from socialcredit.policy.jurisdiction import Counting
from socialcredit.policy.model import Exemption, ListSpec, Policy, Range, ScoreSpec
from socialcredit.policy.rules import kinds_read

__all__ = ["ENTRY_SCHEMA", "SCORE_SCHEMA", "CompiledPolicy", "compile_policy", "key_text",
           "payload_columns"]

ENTRY_SCHEMA = ibis.schema({
    "list": "string", "subject_id": "int64", "key": "string", "status": "string",
    "since": "date", "until": "date", "ground": "int64", "record_id": "int64",
    "furnisher_id": "int64", "platform": "string", "ended_on": "date",
    "end_reason": "string", "end_record_id": "int64", "lifted": "string"})
SCORE_SCHEMA = ibis.schema({
    "score": "string", "subject_id": "int64", "value": "int64", "grade": "string",
    "reasons": "string"})

_INT = ("int", "money")


def payload_columns(policy: Policy) -> dict[str, str]:
    """Payload field → column type (``int64``, ``boolean`` or ``string``) for every field name
    of the catalogue, sorted by name: ``int64`` when every kind with that field types it
    ``int`` or ``money``, ``boolean`` when every one types it ``bool``, else ``string``
    (dates as ISO strings; other kinds' values as ``str(value)``). The column is
    ``f_<field>``."""
    seen: dict[str, set[str]] = {}
    for kind in policy.catalogue.values():
        for name, f in kind.fields.items():
            seen.setdefault(name, set()).add(f.type)
    out = {}
    for name in sorted(seen):
        types = seen[name]
        out[name] = ("int64" if types <= set(_INT) else "boolean" if types == {"bool"}
                     else "string")
    return out


def _policy_key(policy: Policy) -> str:
    # the content, not ``version_hash``: a copy with other lists may keep the file's hash
    return hashlib.sha256(policy.model_dump_json().encode()).hexdigest()


_CACHE: dict[str, CompiledPolicy] = {}


def compile_policy(policy: Policy) -> CompiledPolicy:
    """The compiled form of ``policy`` (built once per policy content, then cached)."""
    key = _policy_key(policy)
    if key not in _CACHE:
        if len(_CACHE) > 32:
            _CACHE.clear()
        _CACHE[key] = CompiledPolicy(policy)
    return _CACHE[key]


def _shift_months(day: ir.DateValue, months: Any) -> ir.DateValue:
    """The corresponding day ``months`` later, or the month's last day when it has none (as
    :func:`socialcredit.policy.jurisdiction.shift_months`); ``months`` ≥ 0."""
    total = day.year() * 12 + day.month() - 1 + months
    m0 = total % 12
    y, m = ((total - m0) / 12).cast("int32"), (m0 + 1).cast("int32")
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    last = ibis.cases((m == 2, ibis.ifelse(leap, 29, 28)), (m.isin([4, 6, 9, 11]), 30),
                      else_=31)
    return ibis.date(y, m, ibis.least(day.day(), last))


def _period_until(day: ir.DateValue, counting: Counting, days: int, months: Any
                  ) -> ir.DateValue:
    """The exclusive end of a period (:func:`~socialcredit.policy.jurisdiction.period_until`);
    ``months`` an int or an integer column."""
    end = day if isinstance(months, int) and months == 0 else _shift_months(day, months)
    return _days(end, days + (1 if counting == "start_day_excluded" else 0))


def _days(day: ir.DateValue, days: int) -> ir.DateValue:
    return day + ibis.interval(days=days) if days >= 0 else day - ibis.interval(days=-days)


def _null(dtype: str) -> ir.Value:
    return ibis.null().cast(dtype)


def key_text(v: ir.StringValue) -> ir.StringValue:
    """An obligation key value as compared: lower case, no spaces (the reference:
    ``socialcredit.policy.obligations._text``)."""
    return v.lower().replace(" ", "")


class CompiledPolicy:
    """The policy's rules as Ibis expression builders (engine-free until executed)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.columns = payload_columns(policy)
        self.kinds = sorted(kinds_read(policy))
        self.order = policy.evaluation_order()
        self.counting = policy.jurisdiction.period_counting

    # -- payload access, as rules.matches / rules._value read a payload -------------------

    def _type(self, kind: str, field: str) -> str | None:
        spec = self.policy.catalogue.get(kind)
        f = spec.fields.get(field) if spec is not None else None
        return None if f is None else f.type

    def val(self, t: ir.Table, kind: str, field: str) -> ir.Value | None:
        """The typed value of ``field`` for records of ``kind`` (None: the kind lacks it)."""
        ftype = self._type(kind, field)
        if ftype is None:
            return None
        col = t[f"f_{field}"]
        if ftype in _INT:
            return col if self.columns[field] == "int64" else col.cast("int64")
        if ftype == "bool":
            return col if self.columns[field] == "boolean" else col == "True"
        return col

    def key(self, t: ir.Table, kind: str, field: str) -> ir.StringValue:
        """``str(value)`` of a key field, or the record's ``furnisher_record_id``."""
        if field == "furnisher_record_id":
            return t.furnisher_record_id
        v = self.val(t, kind, field)
        ftype = self._type(kind, field)
        if v is None:
            return _null("string")
        if ftype == "bool":
            return ibis.ifelse(v, "True", "False")
        return v.cast("string") if ftype in _INT else v

    def match(self, t: ir.Table, kind: str, when: dict[str, Any]) -> ir.BooleanValue:
        """``rules.matches(payload, when)`` for records of ``kind`` (never null)."""
        out: ir.BooleanValue = ibis.literal(True)
        for field, cond in when.items():
            out = out & self._cond(t, kind, field, cond).fill_null(False)
        return out

    def _cond(self, t: ir.Table, kind: str, field: str, cond: Any) -> ir.BooleanValue:
        v, ftype = self.val(t, kind, field), self._type(kind, field)
        false = ibis.literal(False)
        if v is None:
            return false
        if isinstance(cond, Range):
            if ftype not in _INT:
                return false
            c: ir.BooleanValue = v.notnull()
            if cond.at_least is not None:
                c = c & (v >= cond.at_least)
            if cond.below is not None:
                c = c & (v < cond.below)
            return c
        if isinstance(cond, list):
            # Python's ``in`` compares with ==: True == 1, but "1" != 1
            vals: list[Any]
            if ftype in _INT:
                vals = sorted({int(x) for x in cond if isinstance(x, int)})
            elif ftype == "bool":
                vals = sorted({bool(x) for x in cond if isinstance(x, int) and x in (0, 1)})
            else:
                vals = sorted({x for x in cond if isinstance(x, str)})
            return v.isin(vals) if vals else false
        if isinstance(cond, bool):
            return v == cond if ftype == "bool" else false
        if isinstance(cond, int):
            return v == cond if ftype in _INT else false
        return v == cond if ftype not in _INT and ftype != "bool" else false

    # -- shared steps ----------------------------------------------------------------------

    def _exemption(self, src: ir.Table, r: ir.Table, kind: str,
                   exemptions: Sequence[Exemption]) -> ir.Table:
        """``src`` plus ``ex``: the name of the first exemption a record falls under, or
        null (``rules._exemption``)."""
        cases = []
        for i, e in enumerate(exemptions):
            cond = self.match(src, kind, e.when)
            if e.record is not None:
                x = r.filter((r.kind == e.record) & self.match(r, e.record, e.record_when))
                x = x.select(x_subject=x.subject_id, x_day=x.occurred_at)
                hits = src.join(x, [src.subject_id == x.x_subject,
                                    x.x_day >= _days(src.occurred_at, -e.within_days),
                                    x.x_day <= src.occurred_at])
                hits = hits.select(hit_id=hits.id).distinct().mutate(**{f"hit{i}": True})
                src = src.left_join(hits, src.id == hits.hit_id).drop("hit_id")
                cond = cond & src[f"hit{i}"].fill_null(False)
            cases.append((cond, e.name))
        if not cases:
            return src.mutate(ex=_null("string"))
        return src.mutate(ex=ibis.cases(*cases, else_=_null("string"))).drop(
            *[c for c in src.columns if c.startswith("hit")])

    def _until(self, day: ir.DateValue, spec: ListSpec) -> ir.DateValue:
        days, months = spec.period
        return _period_until(day, self.counting, days, months)

    def _extend(self, until: ir.DateValue, years: ir.IntegerValue) -> ir.DateValue:
        """``until`` extended by ``years`` (≥ 1), as
        :func:`~socialcredit.policy.jurisdiction.extend_until`."""
        base = _days(until, -1) if self.counting == "start_day_excluded" else until
        return _period_until(base, self.counting, 0, years * 12)

    @staticmethod
    def _entry(t: ir.Table, name: str, **cols: Any) -> ir.Table:
        """``t`` projected on :data:`ENTRY_SCHEMA` (missing columns null)."""
        out = {"list": ibis.literal(name)}
        for col, dtype in ENTRY_SCHEMA.items():
            if col == "list":
                continue
            value = cols.get(col, "" if col == "lifted" else None)
            out[col] = (_null(str(dtype)) if value is None
                        else ibis.literal(value) if isinstance(value, str)
                        else value).cast(dtype)
        return t.select(**out)

    # -- the public entry point ------------------------------------------------------------

    def expressions(self, records: ir.Table, as_of: dt.date) -> tuple[ir.Table, ir.Table]:
        """(entries, scores) of every subject in ``records`` on ``as_of`` (see the module
        docstring for their columns). External lists are not evaluated."""
        day = ibis.literal(as_of)
        r = records.filter(records.occurred_at <= day, records.kind.isin(self.kinds))
        r = self._obligations(r)
        r = r.mutate(dn=r.occurred_at.delta(ibis.date(1970, 1, 1), unit="day"))
        entries: dict[str, ir.Table] = {}
        scores: dict[str, ir.Table] = {}
        for node, name in self.order:
            if node == "score":
                scores[name] = self._score(name, self.policy.scores[name], r, entries, as_of)
                continue
            spec = self.policy.lists[name]
            if spec.trigger is not None:
                entries[name] = self._trigger(name, spec, r, as_of)
            elif spec.criteria is not None:
                entries[name] = self._criteria(name, spec, r, as_of)
            elif spec.rating is not None:
                entries[name] = self._rating(name, spec, r, as_of)
            elif spec.score is not None:
                s = scores[spec.score.name]
                low = (s.value < spec.score.below if spec.score.below is not None
                       else s.grade.isin(list(spec.score.grades)))
                s = s.filter(low)
                entries[name] = self._entry(s, name, subject_id=s.subject_id, key="score",
                                            status="active", since=day)
        # a policy without lists (or scores): a typed empty table over the records, not an
        # empty in-memory frame (whose columns would come back as doubles)
        none = r.limit(0)
        empty_e = none.select(**{c: _null(str(t)) for c, t in ENTRY_SCHEMA.items()})
        empty_s = none.select(**{c: _null(str(t)) for c, t in SCORE_SCHEMA.items()})
        e_all = ibis.union(*entries.values(), distinct=False) if entries else empty_e
        s_all = ibis.union(*scores.values(), distinct=False) if scores else empty_s
        return e_all, s_all

    # -- obligations -----------------------------------------------------------------------

    def _obligations(self, r: ir.Table) -> ir.Table:
        """``r`` with the reports of each obligation merged into one row: the latest report
        by ``(occurred_at, id)``, dated by the obligation's anchor, the earliest of every
        report's date and date of first delinquency
        (:func:`socialcredit.policy.obligations.merge_obligations`). Keys are compared slot
        by slot (creditor, then the key values as strings), never concatenated."""
        kinds = {k: ob for k in self.kinds
                 if (ob := self.policy.catalogue[k].obligation) is not None}
        if not kinds:
            return r
        width = max(len(ob.key) for ob in kinds.values())
        creditor: list[Any] = []
        slots: list[list[Any]] = [[] for _ in range(width)]
        found: list[Any] = []
        anchor: list[Any] = []
        for kind, ob in kinds.items():
            is_kind = r.kind == kind
            named = ibis.literal(False)
            if ob.creditor_field is not None:
                c = self.key(r, kind, ob.creditor_field)
                named = c.notnull()
                creditor.append((is_kind, key_text(c.fill_null(r.furnisher))))
            own = [key_text(self.key(r, kind, f)) for f in ob.key]
            if ob.transferred_key is not None:
                moved = [key_text(self.key(r, kind, f)) for f in ob.transferred_key]
                use = named
                for v in moved:
                    use = use & v.notnull()
                own = [ibis.ifelse(use, m, o) for m, o in zip(moved, own, strict=True)]
            ok: ir.BooleanValue = ibis.literal(True)
            for i, v in enumerate(own):
                slots[i].append((is_kind, v))
                ok = ok & v.notnull()
            found.append((is_kind, ok))
            if (fd := ob.first_delinquency_field) is not None:
                first = self.val(r, kind, fd)
                assert first is not None
                first = first.cast("date")
                anchor.append((is_kind & first.notnull() & (first < r.occurred_at), first))
        cols: dict[str, Any] = {
            "ob": ibis.cases(*found, else_=False),
            "ob_c": ibis.cases(*creditor, else_=_null("string")) if creditor
            else _null("string"),
            **{f"ob_k{i}": ibis.cases(*slot, else_=_null("string"))
               for i, slot in enumerate(slots)},
            "ob_day": ibis.cases(*anchor, else_=r.occurred_at) if anchor else r.occurred_at}
        t = r.mutate(**cols)
        names = list(cols)
        single = t.filter(~t.ob).drop(*names)
        g = t.filter(t.ob)
        by = [g.subject_id, g.kind, g.ob_c, *[g[f"ob_k{i}"] for i in range(width)]]
        latest = ibis.window(group_by=by, order_by=[g.occurred_at.desc(), g.id.desc()])
        g = g.mutate(ob_anchor=g.ob_day.min().over(ibis.window(group_by=by)),
                     ob_rn=ibis.row_number().over(latest))
        g = g.filter(g.ob_rn == 0)
        g = g.mutate(occurred_at=g.ob_anchor).drop(*names, "ob_anchor", "ob_rn")
        return ibis.union(single, g, distinct=False)

    # -- trigger lists ---------------------------------------------------------------------

    def _trigger(self, name: str, spec: ListSpec, r: ir.Table, as_of: dt.date) -> ir.Table:
        rule = spec.trigger
        assert rule is not None
        day = ibis.literal(as_of)
        src = r.filter((r.kind == rule.kind) & self.match(r, rule.kind, rule.when))
        src = src.mutate(gkey=self.key(src, rule.kind, rule.key))
        src = src.filter(src.gkey.notnull())
        ground = self.val(src, rule.kind, rule.ground_field) if rule.ground_field else None
        src = src.mutate(ground=ground if ground is not None else _null("int64"))
        src = self._exemption(src, r, rule.kind, spec.exemptions)
        w = ibis.window(group_by=[src.subject_id, src.gkey], order_by=[src.occurred_at, src.id])
        src = src.mutate(rn_all=ibis.row_number().over(w))
        live = src.filter(src.ex.isnull())
        wl = ibis.window(group_by=[live.subject_id, live.gkey],
                         order_by=[live.occurred_at, live.id])
        first = live.mutate(rn=ibis.row_number().over(wl))
        first = first.filter(first.rn == 0).select(
            f_subject=first.subject_id, f_key=first.gkey, f_id=first.id,
            f_day=first.occurred_at, f_fid=first.furnisher_id, f_ground=first.ground)
        # groups without a live record: one exempt entry from the earliest record
        g0 = src.filter(src.rn_all == 0)
        exempt = g0.anti_join(first, [g0.subject_id == first.f_subject,
                                      g0.gkey == first.f_key])
        exempt_e = self._entry(exempt, name, subject_id=exempt.subject_id, key=exempt.gkey,
                               status="exempt", since=exempt.occurred_at,
                               ground=exempt.ground, record_id=exempt.id,
                               furnisher_id=exempt.furnisher_id,
                               end_reason=ibis.literal("exempt:").concat(exempt.ex))
        first = first.mutate(since=_days(first.f_day, spec.warning_days))
        first = first.mutate(until0=self._until(first.since, spec))

        if (ext := spec.extension) is not None:
            x = r.filter(r.kind == ext.kind)
            x = x.mutate(x_key=self.key(x, ext.kind, ext.key))
            years = self.val(x, ext.kind, ext.field)
            assert years is not None
            x = x.mutate(x_years=years).filter(lambda t: t.x_years.notnull())
            preds = [x.subject_id == first.f_subject, x.x_key == first.f_key,
                     x.occurred_at >= first.f_day, x.occurred_at < first.until0]
            if spec.removal_by_lister:
                preds.append(x.furnisher_id == first.f_fid)
            j = first.join(x, preds)
            ext_t = j.group_by(e_subject=j.f_subject, e_key=j.f_key).aggregate(
                e_years=j.x_years.max())
            first = first.left_join(ext_t, [first.f_subject == ext_t.e_subject,
                                            first.f_key == ext_t.e_key])
            extra = ibis.least(first.e_years.fill_null(0), ext.max_years)
            first = first.mutate(until=ibis.ifelse(extra > 0, self._extend(first.until0, extra),
                                                   first.until0))
            first = first.drop("e_subject", "e_key", "e_years")
        else:
            first = first.mutate(until=first.until0)

        if spec.removal:
            parts = []
            for i, rm in enumerate(spec.removal):
                x = r.filter((r.kind == rm.kind) & self.match(r, rm.kind, rm.when))
                x = x.select(m_subject=x.subject_id, m_key=self.key(x, rm.kind, rm.key),
                             m_day=x.occurred_at, m_id=x.id, m_fid=x.furnisher_id,
                             m_rule=ibis.literal(i), m_reason=ibis.literal(rm.reason))
                parts.append(x)
            m = ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
            preds = [m.m_subject == first.f_subject, m.m_key == first.f_key,
                     m.m_day >= first.f_day]
            if spec.removal_by_lister:
                preds.append(m.m_fid == first.f_fid)
            j = first.join(m, preds).select("f_subject", "f_key", "m_day", "m_id", "m_rule",
                                            "m_reason")
            # the earliest removal record; one matching two rules: the first rule's reason
            wm = ibis.window(group_by=[j.f_subject, j.f_key],
                             order_by=[j.m_day, j.m_id, j.m_rule])
            j = j.mutate(rn=ibis.row_number().over(wm))
            j = j.filter(j.rn == 0).select(rm_subject=j.f_subject, rm_key=j.f_key,
                                           rm_day=j.m_day, rm_id=j.m_id, rm_reason=j.m_reason)
            first = first.left_join(j, [first.f_subject == j.rm_subject,
                                        first.f_key == j.rm_key])
        else:
            first = first.mutate(rm_day=_null("date"), rm_id=_null("int64"),
                                 rm_reason=_null("string"))
        if (lifts := self._lifted(name, spec, r, first, as_of)) is not None:
            first = first.left_join(lifts, [first.f_subject == lifts.lk_subject,
                                            first.f_key == lifts.lk_key])
            first = first.mutate(lifted=first.lk_lifted.fill_null(""))
        else:
            first = first.mutate(lifted=ibis.literal(""))
        removed = first.rm_day.notnull() & (first.rm_day < first.until)
        expired = first.until <= day
        status = ibis.cases((removed, "removed"), (expired, "expired"),
                            (day < first.since, "warned"), else_="active")
        ended = ibis.cases((removed, first.rm_day), (expired, first.until),
                           else_=_null("date"))
        reason = ibis.cases((removed, first.rm_reason), (expired, "period_ended"),
                            else_=_null("string"))
        listed = self._entry(first, name, subject_id=first.f_subject, key=first.f_key,
                             status=status, since=first.since, until=first.until,
                             ground=first.f_ground, record_id=first.f_id,
                             furnisher_id=first.f_fid, ended_on=ended, end_reason=reason,
                             end_record_id=ibis.ifelse(removed, first.rm_id, _null("int64")),
                             lifted=first.lifted)
        return ibis.union(listed, exempt_e, distinct=False)

    def _lifted(self, name: str, spec: ListSpec, r: ir.Table, first: ir.Table,
                as_of: dt.date) -> ir.Table | None:
        """``lk_subject, lk_key, lk_lifted`` of the entries of ``first`` with a lift in force
        (rules: the latest lifting record per service; ties to the earlier sanction)."""
        parts = []
        services: set[str] = set()
        for i, sanction in enumerate(self.policy.sanctions_for(name)):
            if (lf := sanction.lifting) is None:
                continue
            x = r.filter(r.kind == lf.kind)
            svc = self.val(x, lf.kind, lf.service_field)
            if svc is None:
                continue
            end = self.val(x, lf.kind, lf.until_field) if lf.until_field else None
            x = x.select(l_subject=x.subject_id, l_key=self.key(x, lf.kind, lf.key),
                         l_day=x.occurred_at, l_id=x.id, l_fid=x.furnisher_id,
                         l_svc=svc.cast("string"),
                         l_end=(end.cast("string") if end is not None else _null("string")),
                         l_rule=ibis.literal(i))
            parts.append(x.filter(x.l_svc.isin(list(sanction.services))))
            services.update(sanction.services)
        if not parts:
            return None
        x = ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
        f = first.select("f_subject", "f_key", "f_day", "f_fid")
        preds = [x.l_subject == f.f_subject, x.l_key == f.f_key, x.l_day >= f.f_day]
        if spec.removal_by_lister:
            preds.append(x.l_fid == f.f_fid)
        j = f.join(x, preds)
        wl = ibis.window(group_by=[j.f_subject, j.f_key, j.l_svc],
                         order_by=[j.l_day.desc(), j.l_id.desc(), j.l_rule])
        j = j.mutate(rn=ibis.row_number().over(wl))
        j = j.filter((j.rn == 0) & (j.l_end.isnull() | (j.l_end > as_of.isoformat())))
        j = j.mutate(piece=j.l_svc.concat(":", j.l_end.fill_null("")))
        names = sorted(services)
        per = j.group_by(lk_subject=j.f_subject, lk_key=j.f_key).aggregate(**{
            f"lk{n}": ibis.ifelse(j.l_svc == s, j.piece, _null("string")).max()
            for n, s in enumerate(names)})
        return per.select("lk_subject", "lk_key", lk_lifted=ibis.literal("|").join(
            [per[f"lk{n}"] for n in range(len(names))]))

    # -- criteria lists --------------------------------------------------------------------

    def _criteria(self, name: str, spec: ListSpec, r: ir.Table, as_of: dt.date) -> ir.Table:
        rule = spec.criteria
        assert rule is not None
        day = ibis.literal(as_of)
        src = r.filter((r.kind == rule.kind) & self.match(r, rule.kind, rule.when))
        if spec.exemptions:
            src = self._exemption(src, r, rule.kind, spec.exemptions)
            src = src.filter(src.ex.isnull()).drop("ex")
        if (cb := rule.cured_by) is not None:
            src = src.mutate(c_key=self.key(src, rule.kind, cb.key))
            y = r.filter((r.kind == cb.kind) & self.match(r, cb.kind, cb.when))
            y = y.select(y_subject=y.subject_id, y_key=self.key(y, cb.kind, cb.key),
                         y_day=y.occurred_at)
            cured = src.join(y, [src.subject_id == y.y_subject, src.c_key == y.y_key,
                                 y.y_day >= src.occurred_at])
            cured = cured.select(cured_id=cured.id).distinct()
            src = src.anti_join(cured, src.id == cured.cured_id)
        if rule.field is None:
            src = src.mutate(v=ibis.literal(1, type="int64"))
        else:
            v = self.val(src, rule.kind, rule.field)
            if v is None:
                return self._entry(src.filter(ibis.literal(False)), name)
            src = src.mutate(v=v).filter(lambda t: t.v.notnull())
        w = ibis.window(group_by=src.subject_id, order_by=src.dn,
                        range=(-(rule.window_days - 1), 0))
        agg = {"count": src.v.count(), "sum": src.v.sum(), "max": src.v.max()}[rule.aggregate]
        q = src.mutate(w_agg=agg.over(w))
        q = q.filter(q.w_agg >= rule.at_least)
        wq = ibis.window(group_by=q.subject_id, order_by=[q.occurred_at, q.id])
        q = q.mutate(prev=q.occurred_at.lag().over(wq))
        q = q.mutate(new=(q.prev.isnull() | (q.occurred_at >= self._until(q.prev, spec))))
        wc = ibis.window(group_by=q.subject_id, order_by=[q.occurred_at, q.id],
                         rows=(None, 0))
        q = q.mutate(ep=q.new.cast("int64").sum().over(wc))
        last = q.group_by(e_subject=q.subject_id, e_ep=q.ep).aggregate(e_last=q.occurred_at.max())
        first = q.filter(q.new)
        ep = first.join(last, [first.subject_id == last.e_subject, first.ep == last.e_ep])
        ep = ep.mutate(until=self._until(ep.e_last, spec))
        expired = ep.until <= day
        return self._entry(ep, name, subject_id=ep.subject_id, key=ep.occurred_at.cast("string"),
                           status=ibis.ifelse(expired, "expired", "active"),
                           since=ep.occurred_at, until=ep.until, record_id=ep.id,
                           furnisher_id=ep.furnisher_id,
                           ended_on=ibis.ifelse(expired, ep.until, _null("date")),
                           end_reason=ibis.ifelse(expired, "period_ended", _null("string")))

    # -- rating lists ----------------------------------------------------------------------

    def _rating(self, name: str, spec: ListSpec, r: ir.Table, as_of: dt.date) -> ir.Table:
        rule = spec.rating
        assert rule is not None
        day = ibis.literal(as_of)
        src = r.filter(r.kind == rule.kind)
        v = self.val(src, rule.kind, rule.field)
        if v is None:
            return self._entry(src.filter(ibis.literal(False)), name)
        src = src.mutate(v=v).filter(lambda t: t.v.notnull())
        by = [src.subject_id, src.furnisher]
        order = [src.occurred_at, src.id]
        w = ibis.window(group_by=by, order_by=order, rows=(-(rule.window - 1), 0))
        # the sum against threshold × count in double precision, as rules.py compares
        below = ibis.literal(repr(float(rule.below))).cast("float64")
        src = src.mutate(cnt=src.v.count().over(w), total=src.v.sum().over(w),
                         rn=ibis.row_number().over(ibis.window(group_by=by, order_by=order)))
        src = src.mutate(low=(src.cnt >= rule.min_count)
                         & (src.total.cast("float64") < below * src.cnt.cast("float64")))
        wo = ibis.window(group_by=[src.subject_id, src.furnisher],
                         order_by=[src.occurred_at, src.id])
        src = src.mutate(prev_low=src.low.lag().over(wo))
        src = src.mutate(start=src.low & (src.prev_low.isnull() | ~src.prev_low))
        a1 = src.group_by(a_subject=src.subject_id, a_platform=src.furnisher).aggregate(
            a_n=src.rn.count(), a_s=ibis.ifelse(src.start, src.rn, _null("int64")).max())
        a1 = a1.filter(a1.a_s.notnull())
        j = src.join(a1, [src.subject_id == a1.a_subject, src.furnisher == a1.a_platform])
        a2 = j.group_by(b_subject=j.subject_id, b_platform=j.furnisher).aggregate(
            b_end=ibis.ifelse((j.rn > j.a_s) & ~j.low, j.rn, _null("int64")).min())
        j = j.join(a2, [j.subject_id == a2.b_subject, j.furnisher == a2.b_platform])
        refused = j.a_s + rule.warnings
        has_refusal = refused < j.b_end.fill_null(j.a_n)

        def at(cond: ir.BooleanValue, col: ir.Value) -> ir.Value:
            return ibis.ifelse(cond, col, _null(str(col.type()))).max()

        p = j.group_by(p_subject=j.subject_id, p_platform=j.furnisher).aggregate(
            first_id=at(j.rn == j.a_s, j.id), first_day=at(j.rn == j.a_s, j.occurred_at),
            first_fid=at(j.rn == j.a_s, j.furnisher_id), last_day=j.occurred_at.max(),
            end_day=at(j.rn == j.b_end, j.occurred_at), end_id=at(j.rn == j.b_end, j.id),
            refusal_day=at(has_refusal & (j.rn == refused), j.occurred_at))
        p = p.mutate(until=self._until(p.last_day, spec))
        removed = p.end_day.notnull()
        expired = p.until <= day
        status = ibis.cases((removed, "removed"), (expired, "expired"),
                            (p.refusal_day.isnull(), "warned"), else_="active")
        return self._entry(
            p, name, subject_id=p.p_subject, key=p.p_platform, status=status,
            since=p.refusal_day.fill_null(p.first_day), until=p.until, record_id=p.first_id,
            furnisher_id=p.first_fid, platform=p.p_platform,
            ended_on=ibis.cases((removed, p.end_day), (expired, p.until),
                                else_=_null("date")),
            end_reason=ibis.cases((removed, "rating_recovered"), (expired, "period_ended"),
                                  else_=_null("string")),
            end_record_id=ibis.ifelse(removed, p.end_id, _null("int64")))

    # -- scores ----------------------------------------------------------------------------

    def _score(self, name: str, spec: ScoreSpec, r: ir.Table, entries: dict[str, ir.Table],
               as_of: dt.date) -> ir.Table:
        as_of_dn = (as_of - dt.date(1970, 1, 1)).days
        age = as_of_dn - r.dn
        if spec.decay:
            percent: ir.IntegerValue = ibis.cases(
                *[(age < b.days, b.percent) for b in spec.decay], else_=0)
        else:
            percent = ibis.literal(100)
        aggs: dict[str, Any] = {}
        for i, f in enumerate(spec.factors):
            if f.kind is None:
                continue
            hit = (r.kind == f.kind) & self.match(r, f.kind, f.when)
            aggs[f"p{i}"] = ibis.ifelse(hit, f.points * percent, 0).cast("int64").sum()
        s = r.group_by(s_subject=r.subject_id).aggregate(
            **aggs, s_n=r.id.count())
        cols: dict[str, Any] = {}
        for i, f in enumerate(spec.factors):
            if f.list is not None:
                e = entries.get(f.list)
                if e is None:  # an external list: no entries here
                    cols[f"p{i}"] = ibis.literal(0, type="int64")
                    continue
                act = e.filter(e.status == "active")
                act = act.select(a_subject=act.subject_id).distinct().mutate(
                    **{f"a{i}": True})
                s = s.left_join(act, s.s_subject == act.a_subject).drop("a_subject")
                cols[f"p{i}"] = ibis.ifelse(s[f"a{i}"].fill_null(False), f.points * 100, 0)
            elif f.cap is not None:
                p = s[f"p{i}"]
                cols[f"p{i}"] = (ibis.greatest(p, f.cap * 100) if f.points < 0
                                 else ibis.least(p, f.cap * 100))
        s = s.mutate(**{k: v.cast("int64") for k, v in cols.items()})
        total = ibis.literal(spec.base * 100, type="int64")
        for i in range(len(spec.factors)):
            total = total + s[f"p{i}"]
        centi = ibis.least(ibis.greatest(total, spec.min * 100), spec.max * 100)
        s = s.mutate(centi=centi.cast("int64"))
        # floor(centi / 100) exactly: subtract the non-negative remainder first
        s = s.mutate(value=((s.centi - (((s.centi % 100) + 100) % 100)) // 100).cast("int64"))
        grade = ibis.cases(*[(s.value >= g.min, g.grade) for g in spec.grades],
                           else_=_null("string"))
        # reason codes: the costly factors ranked by (points, code), most costly first
        costly = [(i, f.code) for i, f in enumerate(spec.factors) if f.points < 0]
        ranks = {}
        for i, code in costly:
            p_i = s[f"p{i}"]
            rank: ir.IntegerValue = ibis.literal(0, type="int64")
            for j, other in costly:
                if j == i:
                    continue
                p_j = s[f"p{j}"]
                # (p_j, code_j) sorts before (p_i, code_i)
                before = (p_j < 0) & ((p_j <= p_i) if other < code else (p_j < p_i))
                rank = rank + ibis.ifelse(before, 1, 0)
            ranks[i] = rank
        slots = []
        for k in range(min(spec.reason_codes, len(costly))):
            slots.append(ibis.cases(
                *[((s[f"p{i}"] < 0) & (ranks[i] == k), code) for i, code in costly],
                else_=_null("string")))
        reasons = ibis.literal("|").join(slots) if slots else ibis.literal("")
        return s.select(score=ibis.literal(name), subject_id=s.s_subject,
                        value=s.value, grade=grade, reasons=reasons.fill_null(""))
