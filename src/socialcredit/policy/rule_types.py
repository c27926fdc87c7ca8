"""What the reference rules read and give: a record as evaluation sees it (:class:`RecordView`),
the entries and scores the rules imply (:class:`DesiredEntry`, :class:`ScoreResult`, gathered
in an :class:`Evaluation`), and the test of a rule's ``when`` conditions (:func:`matches`).

The rules themselves, and the statement of their semantics, are in
:mod:`socialcredit.policy.rules` (which re-exports every name here); the batch engines and the
what-if read these types too (issue #18: a facet of the rules module).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from socialcredit.policy.model import Range

__all__ = ["DesiredEntry", "Evaluation", "RecordView", "ScoreResult", "matches"]


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
    """An entry the rules imply. ``status``: active | warned | removed | expired | exempt.
    ``lifted``: (service, until or None) of sanctions lifted for this entry."""

    list: str
    subject_id: int
    key: str
    status: str
    since: str
    until: str | None
    ground: int | None = None
    record_id: int | None = None
    furnisher_id: int | None = None
    platform: str | None = None
    ended_on: str | None = None
    end_reason: str | None = None
    end_record_id: int | None = None
    lifted: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """A subject's score on ``as_of``: whole points, grade, reason codes (most costly first)."""

    score: str
    subject_id: int
    value: int
    grade: str
    reasons: tuple[str, ...]


@dataclass
class Evaluation:
    entries: list[DesiredEntry] = field(default_factory=list)
    scores: list[ScoreResult] = field(default_factory=list)


def matches(payload: dict[str, Any], when: dict[str, Any]) -> bool:
    """Does ``payload`` meet every condition of ``when`` (a value, a list of values, a range)?"""
    for k, cond in when.items():
        v = payload.get(k)
        if isinstance(cond, Range):
            if isinstance(v, bool) or not isinstance(v, int):
                return False
            if cond.at_least is not None and v < cond.at_least:
                return False
            if cond.below is not None and v >= cond.below:
                return False
        elif isinstance(cond, list):
            if v not in cond:
                return False
        elif v != cond or isinstance(v, bool) != isinstance(cond, bool):
            return False
    return True
