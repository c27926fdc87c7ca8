"""The lists of a policy: how a subject gets on one (a trigger record, criteria over records, low
ratings, a low score, or an external authority's file), how long it lasts, how it ends (removal,
cure, extension), who is exempt, and what the public search shows.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from socialcredit.policy.model.base import Condition, _Strict

__all__ = ["CriteriaRule", "DisplayTier", "Exemption", "ExtensionRule", "ListSpec",
           "RatingRule", "RemovalRule", "RepresentsRule", "ScoreSource", "TriggerRule"]

#: Roles a person holds in an organisation, as a regulator reports them.
RepresentativeRole = Literal["legal_representative", "main_responsible_person"]


class TriggerRule(_Strict):
    """A record of ``kind`` (whose fields match ``when``) lists the subject; one entry per
    distinct value of ``key`` (a payload field or ``furnisher_record_id``)."""

    kind: str
    key: str
    ground_field: str | None = None
    when: dict[str, Condition] = {}


class RemovalRule(_Strict):
    """A record of ``kind`` with the same ``key`` value (and matching ``when``), dated on or after
    the listing, removes the entry with ``reason``."""

    kind: str
    key: str
    when: dict[str, Condition] = {}
    reason: str = "performed"


class RatingRule(_Strict):
    """Mean of the last ``window`` values of ``field`` per platform below ``below`` (with at least
    ``min_count`` ratings) lists the subject for that platform only. The first ``warnings`` low
    ratings of an episode only warn (entry ``warned``, nothing refused); the next one refuses."""

    kind: str
    field: str
    window: int = Field(gt=0)
    min_count: int = Field(ge=1)
    below: float
    warnings: int = Field(0, ge=0, le=100)


class CriteriaRule(_Strict):
    """An aggregate over a subject's records of ``kind`` (matching ``when``) in a rolling window
    of ``window_days`` ending on each such record: ``count``, ``sum`` or ``max`` of ``field``.
    The subject is listed from the first record at which it reaches ``at_least`` (e.g. three
    fare evasions in 365 days; loan defaults of 90+ days past due summing 50,000 CNY). A
    record ``cured_by`` a later record with the same ``key`` value (e.g. a full repayment of
    that loan) no longer counts."""

    kind: str
    aggregate: Literal["count", "sum", "max"]
    field: str | None = None
    at_least: int = Field(gt=0)
    window_days: int = Field(gt=0)
    when: dict[str, Condition] = {}
    cured_by: RemovalRule | None = None

    @model_validator(mode="after")
    def _field_for_sum(self) -> CriteriaRule:
        if (self.aggregate == "count") != (self.field is None):
            raise ValueError("`sum` and `max` need a `field`; `count` takes none")
        return self


class ScoreSource(_Strict):
    """A list fed by a score: listed while score ``name`` is below ``below`` (or its grade in
    ``grades``). The validator warns: a score alone should not sanction anyone."""

    name: str
    below: int | None = None
    grades: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one(self) -> ScoreSource:
        if (self.below is None) == (not self.grades):
            raise ValueError("give one of `below` or `grades`")
        return self


class RepresentsRule(_Strict):
    """The people who represent an organisation listed on ``list`` (its representatives in
    ``roles``, as a regulator reports them) are restricted in their own right while the
    organisation's entry is live and they hold the role: SPC Several Provisions on Restricting
    High Consumption (2015), Art. 3, para. 2 (a unit's legal representative, main responsible
    persons, directly responsible persons and actual controller). Each person gets an entry
    of their own (key ``<organisation subject id>:<the organisation's entry key>``), a notice,
    and the list's ``how_to_contest``; they are never put on ``list`` itself (SPC Opinions
    Fa Fa [2019] No. 35). The entry ends with the organisation's, or on the day the person
    stops holding the role (socialcredit/policy/representatives.py)."""

    list: str
    roles: tuple[RepresentativeRole, ...] = Field(("legal_representative",
                                                   "main_responsible_person"), min_length=1)


class ExtensionRule(_Strict):
    """A record of ``kind`` with the trigger's ``key`` value, dated within the listing, extends
    it by ``field`` years (the largest such record, at most ``max_years``): the SPC Provisions
    2017, Art. 2, allow one to three more years for serious cases."""

    kind: str
    key: str
    field: str
    max_years: int = Field(3, gt=0, le=10)


class Exemption(_Strict):
    """Records that match ``when`` (and, with ``record``, of a subject holding a record of that
    kind dated at most ``within_days`` before) list nobody: e.g. officers of a company debtor
    (SPC Provisions 2017, Art. 3 lists the company, not them), full-time students in campus-loan
    disputes (CBIRC/MOE Notice on campus lending, 2017)."""

    name: str
    reason: str = Field(min_length=3)
    when: dict[str, Condition] = {}
    record: str | None = None
    record_when: dict[str, Condition] = {}
    within_days: int = Field(365, gt=0)

    @model_validator(mode="after")
    def _says_something(self) -> Exemption:
        if not self.when and self.record is None:
            raise ValueError("an exemption needs `when` or `record`")
        return self


#: ``legal_representative`` and ``performance`` are shown for an organisation's entry only
#: (SPC 2017, Art. 6(2): a unit's name, code, legal representative's name ...).
PublicField = Literal["ground", "case_number", "amount", "furnisher", "since", "until",
                      "legal_basis", "legal_representative", "performance"]


class DisplayTier(_Strict):
    """How long (``days`` from ``since``) an entry with one of ``grounds`` stays on the public
    search; the listing itself (and its sanctions) lasts its full period."""

    tier: str
    grounds: tuple[int, ...] = Field(min_length=1)
    days: int = Field(gt=0)


class ListSpec(_Strict):
    title: str
    legal_basis: str = Field(min_length=3)
    #: ``sanction`` (a blacklist: its entries refuse the services its sanctions name) or
    #: ``incentive`` (a red list: its entries earn the benefits its incentives name, never
    #: while the subject holds an active sanction entry; :mod:`.incentives`).
    effect: Literal["sanction", "incentive"] = "sanction"
    public: bool = False
    external: bool = False
    trigger: TriggerRule | None = None
    rating: RatingRule | None = None
    criteria: CriteriaRule | None = None
    score: ScoreSource | None = None
    #: A list of the people who represent a listed organisation (no period of its own).
    represents: RepresentsRule | None = None
    #: The listing period in days, calendar months or calendar years (the SPC's "two
    #: years"), counted by the policy's ``jurisdiction.period_counting``
    #: (:mod:`socialcredit.policy.jurisdiction`): one of the three.
    period_days: int | None = Field(None, gt=0)
    period_months: int | None = Field(None, gt=0)
    period_years: int | None = Field(None, gt=0)
    removal: tuple[RemovalRule, ...] = ()
    grounds: dict[int, str] = {}
    #: Recourse for this list when it differs from the policy's (e.g. an external authority).
    how_to_contest: str | None = None
    #: The authority that keeps an external list (shown as the furnisher of its entries).
    source: str | None = None
    #: External lists: the screening score (0..1) from which a name-only hit is a match (a
    #: gate's review); ``None`` takes screening's default (``screening.DEFAULT_THRESHOLD``).
    review_threshold: float | None = Field(None, ge=0, le=1)
    #: Days the furnisher has to answer a dispute of an entry of this list (else the policy's).
    dispute_answer_days: int | None = Field(None, gt=0)
    #: Removal records count only from the furnisher whose record listed (the enforcing
    #: court); another furnisher's performance record for the same case number is ignored.
    removal_by_lister: bool = True
    #: Days between the trigger and the listing, during which the subject is warned (entry
    #: ``warned``, notice ``warning``) and nothing is sanctioned: the grace period of SPC
    #: Opinions Fa Fa [2019] No. 35, para. 16 (one to three months after a notice to perform).
    warning_days: int = Field(0, ge=0, le=366)
    #: A grace period in calendar months (trigger lists): the finding opens a ``warning``
    #: notice and the period; the listing takes effect on the day after it ends (the entry
    #: is ``warned`` until then and refuses nothing), and only if the obligation is still
    #: unperformed: a removal record dated within it ends the entry before it was ever in
    #: force. Counted from the finding by ``jurisdiction.period_counting``. Source: SPC
    #: Opinions on Further Strengthening the Concept of Good-Faith and Civilised Enforcement
    #: (Fa Fa [2019] No. 35), Part III: before listing, the court may give the debtor a grace
    #: period of one to three months (一至三个月宽限期), within which performance prevents the
    #: listing. Hence 1..3; the paragraph number (we believe para. 16) is uncertain. One of
    #: ``warning_days`` and ``grace_months``.
    grace_months: int | None = Field(None, ge=1, le=3)
    #: Public display period by severity tier (grounds not in any tier: the whole period).
    public_display: tuple[DisplayTier, ...] = ()
    #: The severity tier (NDRC Order 36: light, general, severe) of entries whose ground no
    #: ``public_display`` tier names; it sets when repair may be granted (:mod:`.repair`).
    severity_tier: Literal["light", "general", "severe"] | None = None
    #: Extension of a trigger listing by a later record (SPC 2017, Art. 2: 1-3 more years).
    extension: ExtensionRule | None = None
    #: Source records that list nobody (trigger and criteria lists).
    exemptions: tuple[Exemption, ...] = ()
    #: What the public search shows of an entry of a public list (the name and masked ID are
    #: always shown; SPC 2017, Art. 6 lists what the published list contains).
    public_fields: tuple[PublicField, ...] = ("ground", "case_number", "amount", "furnisher",
                                              "since", "until")

    @property
    def period(self) -> tuple[int, int]:
        """The listing period as (days, months): a year is twelve months."""
        return (self.period_days or 0,
                (self.period_months or 0) + 12 * (self.period_years or 0))

    def display_days(self, ground: int | None) -> int | None:
        """Days an entry with ``ground`` is shown publicly, or None for its whole period."""
        return next((t.days for t in self.public_display if ground in t.grounds), None)

    def tier_of(self, ground: int | None) -> str | None:
        """The severity tier of an entry with ``ground`` (its display tier, else the list's)."""
        return next((t.tier for t in self.public_display if ground in t.grounds),
                    self.severity_tier)

    @property
    def has_grace(self) -> bool:
        """Does a finding open a grace (warning) period before the listing?"""
        return bool(self.grace_months or self.warning_days)

    @property
    def rule(self) -> str:
        """``trigger``, ``criteria``, ``rating``, ``score``, ``represents`` or ``external``."""
        if self.external:
            return "external"
        return next(n for n in ("trigger", "criteria", "rating", "score", "represents")
                    if getattr(self, n) is not None)

    @model_validator(mode="after")
    def _one_source(self) -> ListSpec:
        sources = [s for s in (self.trigger, self.rating, self.criteria, self.score,
                               self.represents) if s is not None]
        if self.external and sources:
            raise ValueError("an external list has no trigger, criteria, rating or score rule")
        if not self.external and len(sources) != 1:
            raise ValueError("a list needs exactly one of `trigger`, `criteria`, `rating`, "
                             "`score` or `represents` (or `external: true`)")
        periods = sum(p is not None
                      for p in (self.period_days, self.period_months, self.period_years))
        if self.score is not None or self.represents is not None:
            if periods:
                raise ValueError("a score list lasts while the score stays low, a "
                                 "`represents` list while the organisation's entry lasts: "
                                 "no period")
        elif not self.external and periods != 1:
            raise ValueError("a list needs one of `period_days`, `period_months` or "
                             "`period_years`: no listing is permanent")
        if self.grace_months is not None and self.warning_days:
            raise ValueError("give one of `warning_days` and `grace_months`")
        if (self.grace_months is not None or self.warning_days) and self.trigger is None:
            raise ValueError("`grace_months` and `warning_days` apply to trigger lists only")
        if self.extension is not None and self.trigger is None:
            raise ValueError("`extension` applies to trigger lists only")
        if self.exemptions and self.trigger is None and self.criteria is None:
            raise ValueError("`exemptions` apply to trigger and criteria lists only")
        if self.removal and self.trigger is None:
            raise ValueError("`removal` applies to trigger lists (criteria lists: `cured_by`)")
        return self
