"""The shared steps of the compiled policy: payload access as ``rules.matches`` reads a
payload, keys, exemptions, periods (counted as
:func:`socialcredit.policy.jurisdiction.period_until` counts them) and the entry
projection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from socialcredit.policy.jurisdiction import Counting
from socialcredit.policy.model import Exemption, ListSpec, Policy, Range
from socialcredit.policy.rules import kinds_read

__all__ = ["ENTRY_SCHEMA", "SCORE_SCHEMA", "Steps", "key_text", "payload_columns"]

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


class Steps:
    """The steps every rule builder shares (engine-free until executed)."""

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
