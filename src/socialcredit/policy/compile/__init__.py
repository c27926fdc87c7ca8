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

One module per rule kind (:mod:`.trigger`, :mod:`.criteria`, :mod:`.rating`, :mod:`.scores`,
:mod:`.obligations`), each a facet of :class:`CompiledPolicy` over the shared steps of
:mod:`.base` (payload access, keys, exemptions, periods).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import ibis
import ibis.expr.types as ir

from socialcredit.policy.compile.base import (
    ENTRY_SCHEMA,
    SCORE_SCHEMA,
    _null,
    key_text,
    payload_columns,
)
from socialcredit.policy.compile.criteria import Criteria
from socialcredit.policy.compile.obligations import Obligations
from socialcredit.policy.compile.rating import Ratings
from socialcredit.policy.compile.scores import Scores
from socialcredit.policy.compile.trigger import Triggers
from socialcredit.policy.model import Policy

__all__ = ["ENTRY_SCHEMA", "SCORE_SCHEMA", "CompiledPolicy", "compile_policy", "key_text",
           "payload_columns"]


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


class CompiledPolicy(Obligations, Triggers, Criteria, Ratings, Scores):
    """The policy's rules as Ibis expression builders (engine-free until executed)."""

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
