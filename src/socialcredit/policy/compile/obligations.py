"""The reports of one obligation merged into one row (the batch form of
:func:`socialcredit.policy.obligations.merge_obligations`)."""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from socialcredit.policy.compile.base import Steps, _null, key_text

__all__ = ["Obligations"]


class Obligations(Steps):
    """The obligation step of :class:`~socialcredit.policy.compile.CompiledPolicy`."""

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
