"""Trigger lists (``rules._trigger``): the earliest live record of each key lists, after
any warning period; extension, removal and lifting records change it."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from socialcredit.policy.compile.base import Steps, _days, _null, _period_until
from socialcredit.policy.model import ListSpec

__all__ = ["Triggers"]


class Triggers(Steps):
    """The trigger-list builder of :class:`~socialcredit.policy.compile.CompiledPolicy`."""

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
        # a grace period (rules.listed_from): counted as a listing period, or in days
        first = first.mutate(since=_period_until(first.f_day, self.counting, 0,
                                                 spec.grace_months) if spec.grace_months
                             else _days(first.f_day, spec.warning_days))
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
