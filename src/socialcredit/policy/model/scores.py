"""Scores: points models over records and list entries, decayed by age, graded, with the
adverse-action reason codes they give.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from socialcredit.policy.model.base import Condition, _Strict

__all__ = ["DecayBand", "GradeBand", "ScoreFactor", "ScoreSpec"]


class ScoreFactor(_Strict):
    """``points`` per record of ``kind`` (matching ``when``), decayed by age, the factor's total
    capped at ``cap`` points (same sign as ``points``); or ``points`` while the subject's entry
    on ``list`` is active. ``code`` and ``reason`` are the adverse-action reason code."""

    code: str = Field(min_length=1, max_length=8)
    reason: str = Field(min_length=3)
    kind: str | None = None
    list: str | None = None
    when: dict[str, Condition] = {}
    points: int
    cap: int | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ScoreFactor:
        if (self.kind is None) == (self.list is None):
            raise ValueError("a factor needs exactly one of `kind` or `list`")
        if self.points == 0:
            raise ValueError("`points` must not be 0")
        if self.cap is not None and (self.cap * self.points <= 0
                                     or abs(self.cap) < abs(self.points)):
            raise ValueError("`cap` must have the sign of `points` and be at least as large")
        if self.list is not None and (self.cap is not None or self.when):
            raise ValueError("a list factor takes no `cap` or `when`")
        return self


class DecayBand(_Strict):
    """Records younger than ``days`` count ``percent`` of their points (first band that fits)."""

    days: int = Field(gt=0)
    percent: int = Field(ge=0, le=100)


class GradeBand(_Strict):
    grade: str = Field(min_length=1, max_length=8)
    min: int


#: What an organisation's file calls a score whose policy names no ``organisation_title``.
ORGANISATION_SCORE_TITLE = "Credit score"


class ScoreSpec(_Strict):
    """A points model: ``base`` plus each factor's (decayed, capped) points, clamped to
    [``min``, ``max``], graded by the first band whose ``min`` the score reaches. Reason codes
    are the ``reason_codes`` factors that cost the most points (as US FCRA §615(a) adverse-action
    notices give the key factors of §609(f)(1)(C), 15 U.S.C. 1681g(f)(1)(C): "the total number
    of which shall not exceed 4")."""

    title: str
    #: the words for the score on an organisation's file (a legal person has no "personal"
    #: score); unset: :data:`ORGANISATION_SCORE_TITLE`
    organisation_title: str | None = None
    legal_basis: str = Field(min_length=3)
    base: int
    min: int = 0
    max: int
    factors: tuple[ScoreFactor, ...] = Field(min_length=1)
    #: Age bands (days); older records count nothing. Empty: no decay.
    decay: tuple[DecayBand, ...] = ()
    grades: tuple[GradeBand, ...] = Field(min_length=1)
    reason_codes: int = Field(4, ge=1, le=10)

    def title_for(self, kind: str) -> str:
        """The score's title on the file of a subject of ``kind`` (person, organisation)."""
        if kind == "organisation":
            return self.organisation_title or ORGANISATION_SCORE_TITLE
        return self.title

    @model_validator(mode="after")
    def _ordered(self) -> ScoreSpec:
        if not self.min <= self.base <= self.max:
            raise ValueError("`base` must lie between `min` and `max`")
        days = [b.days for b in self.decay]
        if days != sorted(set(days)):
            raise ValueError("`decay` bands must have increasing `days`")
        mins = [g.min for g in self.grades]
        if mins != sorted(set(mins), reverse=True):
            raise ValueError("`grades` must be ordered from the highest `min` down")
        if mins[-1] > self.min:
            raise ValueError(f"the last grade must start at or below `min` ({self.min})")
        codes = [f.code for f in self.factors]
        if len(codes) != len(set(codes)):
            raise ValueError("factor codes must be unique")
        return self

    def grade_of(self, score: int) -> str:
        return next(g.grade for g in self.grades if score >= g.min)
