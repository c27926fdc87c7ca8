"""Scores (``rules`` scores): integer hundredths floored by exact integer arithmetic, reason
codes ranked by (points, code)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir

from socialcredit.policy.compile.base import Steps, _null
from socialcredit.policy.model import ScoreSpec

__all__ = ["Scores"]


class Scores(Steps):
    """The score builder of :class:`~socialcredit.policy.compile.CompiledPolicy`."""

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
