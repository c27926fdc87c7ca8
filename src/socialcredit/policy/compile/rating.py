"""Rating lists (``rules._rating``): per-platform ROWS windows ordered by ``(occurred_at, id)``;
the latest run of low ratings is the episode."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from socialcredit.policy.compile.base import Steps, _null
from socialcredit.policy.model import ListSpec

__all__ = ["Ratings"]


class Ratings(Steps):
    """The rating-list builder of :class:`~socialcredit.policy.compile.CompiledPolicy`."""

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
