"""Criteria lists (``rules._criteria``): rolling aggregates over RANGE frames of day numbers,
episodes of qualifying records."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from socialcredit.policy.compile.base import Steps, _null
from socialcredit.policy.model import ListSpec

__all__ = ["Criteria"]


class Criteria(Steps):
    """The criteria-list builder of :class:`~socialcredit.policy.compile.CompiledPolicy`."""

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
