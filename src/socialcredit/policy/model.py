"""The policy file model (YAML, validated by pydantic v2).

A policy holds the *catalogue* (which record kinds are accepted, their fields, legal basis and
retention), the *lists* (trigger lists, rating lists, external lists), the *sanctions* (list →
services), the identifier scheme and the jurisdiction (its time zone and how periods are
counted: :mod:`socialcredit.policy.jurisdiction`; a policy without a known time zone is
refused). Loading reports every problem with its YAML path
(``lists.dishonest_judgment_debtors.period_days: Input should be greater than 0``,
``jurisdiction.time_zone: Field required``).

Longer than 400 lines: the models and the cross-reference checks (``_problems``) that span
them are one schema, read together; the calendar arithmetic lives in ``jurisdiction.py``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from socialcredit.errors import ConfigError
from socialcredit.policy.jurisdiction import Jurisdiction

__all__ = [
    "FieldSpec",
    "GateSpec",
    "IdentitySpec",
    "Jurisdiction",
    "KindSpec",
    "ListSpec",
    "Policy",
    "RatingRule",
    "RemovalRule",
    "SanctionSpec",
    "TriggerRule",
    "line_of",
    "load_policy",
    "yaml_lines",
]

FieldType = Literal["str", "int", "bool", "money", "currency", "enum", "date"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """One payload field of a record kind. ``money`` is an integer amount in minor units
    (fen, cents) that must be ≥ 0; ``currency`` is an ISO 4217 alphabetic code."""

    type: FieldType
    required: bool = True
    min: int | None = None
    max: int | None = None
    choices: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _enum_has_choices(self) -> FieldSpec:
        if self.type == "enum" and not self.choices:
            raise ValueError("an enum field needs `choices`")
        return self


class KindSpec(_Strict):
    """A record kind of the catalogue: fields, legal basis and retention (days)."""

    description: str
    legal_basis: str = Field(min_length=3)
    retention_days: int = Field(gt=0)
    fields: dict[str, FieldSpec]
    #: Furnisher kinds that may report this record kind (None: any); a court reports
    #: judgments, a lender loan defaults.
    furnisher_kinds: tuple[str, ...] | None = None
    #: An adverse record is served to the subject as a notice when it arrives (as US FCRA
    #: §1681s-2(a)(7) asks of negative information); a payment or a rating is not.
    adverse: bool = True


class IdentitySpec(_Strict):
    class NationalId(_Strict):
        scheme: str = "cn.ric"
        label: str = "national ID"
        pattern: str | None = None  # for scheme "generic"

    class Phone(_Strict):
        default_region: str = "CN"
        #: A number used by a new subscriber at least this many days after its last use by
        #: the previous holder is taken as recycled (China's carriers hold a cancelled number
        #: 90 days before re-issuing it, MIIT practice); sooner, it is a shared phone.
        recycle_after_days: int = Field(default=90, ge=0)
        #: Furnisher kinds whose phones are authoritative for a person's trusted contact
        #: channel (e.g. ``carrier`` for a carrier's real-name registration, MIIT 2013 rules).
        #: A row from such a furnisher moves where codes and notices go; no other furnisher
        #: data ever does (identity/channel.py). Default: none.
        authoritative_furnisher_kinds: list[str] = Field(default_factory=list)
        #: A person with no trusted channel gets one from furnisher data only when this many
        #: distinct furnishers reported the same phone with their verified national ID (or
        #: one authoritative furnisher did). Two, not one: the first furnisher to report a
        #: person must not choose where their sign-in codes and notices go (issue #20), so a
        #: single dishonest or hacked furnisher key cannot plant a phone; raising it trades
        #: fewer people reachable without a visit to an operator for more collusion needed.
        channel_corroborating_furnishers: int = Field(default=2, ge=2)

    class Linkage(_Strict):
        """Probabilistic linkage (issue #3). A record is linked automatically when its best
        candidate reaches ``auto_link_probability``, is corroborated by a checksum-valid
        identifier (the national ID exactly, or the phone within its validity interval and not
        shared; an ID one typo away is evidence, not corroboration) and has no rival above
        ``review_probability``; between ``review_probability`` and that, it goes to the review
        queue. List entries resting on any link not by the record's own ID and not confirmed
        by an operator are ``pending_review`` and sanction nothing."""

        auto_link_probability: float = Field(default=0.999, gt=0, lt=1)
        review_probability: float = Field(default=0.5, gt=0, lt=1)
        max_candidates: int = Field(default=50, ge=1, le=1000)
        model: str | None = None  # path of a trained model JSON; None: the shipped default

        @model_validator(mode="after")
        def _ordered(self) -> IdentitySpec.Linkage:
            if self.review_probability >= self.auto_link_probability:
                raise ValueError("review_probability must be below auto_link_probability")
            return self

    national_id: NationalId = NationalId()
    phone: Phone = Phone()
    linkage: Linkage = Linkage()


class Range(_Strict):
    """A numeric condition on a payload field: ``{at_least: 90}``, ``{below: 5}``."""

    at_least: int | None = None
    below: int | None = None


#: A ``when`` condition: a value the field must equal, a list of allowed values, or a range.
Condition = str | int | bool | list[str | int] | Range


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


PublicField = Literal["ground", "case_number", "amount", "furnisher", "since", "until",
                      "legal_basis"]


class DisplayTier(_Strict):
    """How long (``days`` from ``since``) an entry with one of ``grounds`` stays on the public
    search; the listing itself (and its sanctions) lasts its full period."""

    tier: str
    grounds: tuple[int, ...] = Field(min_length=1)
    days: int = Field(gt=0)


class ListSpec(_Strict):
    title: str
    legal_basis: str = Field(min_length=3)
    public: bool = False
    external: bool = False
    trigger: TriggerRule | None = None
    rating: RatingRule | None = None
    criteria: CriteriaRule | None = None
    score: ScoreSource | None = None
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
    #: Public display period by severity tier (grounds not in any tier: the whole period).
    public_display: tuple[DisplayTier, ...] = ()
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

    @property
    def rule(self) -> str:
        """``trigger``, ``criteria``, ``rating``, ``score`` or ``external``."""
        if self.external:
            return "external"
        return next(n for n in ("trigger", "criteria", "rating", "score")
                    if getattr(self, n) is not None)

    @model_validator(mode="after")
    def _one_source(self) -> ListSpec:
        sources = [s for s in (self.trigger, self.rating, self.criteria, self.score)
                   if s is not None]
        if self.external and sources:
            raise ValueError("an external list has no trigger, criteria, rating or score rule")
        if not self.external and len(sources) != 1:
            raise ValueError("a list needs exactly one of `trigger`, `criteria`, `rating` or "
                             "`score` (or `external: true`)")
        periods = sum(p is not None
                      for p in (self.period_days, self.period_months, self.period_years))
        if self.score is not None:
            if periods:
                raise ValueError("a score list lasts while the score stays low: no period")
        elif not self.external and periods != 1:
            raise ValueError("a list needs one of `period_days`, `period_months` or "
                             "`period_years`: no listing is permanent")
        if self.extension is not None and self.trigger is None:
            raise ValueError("`extension` applies to trigger lists only")
        if self.exemptions and self.trigger is None and self.criteria is None:
            raise ValueError("`exemptions` apply to trigger and criteria lists only")
        if self.removal and self.trigger is None:
            raise ValueError("`removal` applies to trigger lists (criteria lists: `cured_by`)")
        return self


class LiftingRule(_Strict):
    """A record of ``kind`` with the entry's trigger ``key`` lifts this sanction for the service
    named in its ``service_field`` (from its date, until the date in ``until_field`` if given):
    SPC Several Provisions on Restricting High Consumption (2015), Art. 9 lets a court allow a
    restricted debtor a flight or a first-class seat for medical care, a funeral or an exam."""

    kind: str
    key: str
    service_field: str
    until_field: str | None = None


class SanctionSpec(_Strict):
    """List → services. ``scope: platform`` refuses only on the platform that listed (and the
    platforms a sharing agreement names); ``severity`` grades the sanction (1 mild … 5 most
    severe), shown with every refusal; ``lifting`` lets a record lift it for one entry."""

    list: str
    services: tuple[str, ...] = Field(min_length=1)
    legal_basis: str = Field(min_length=3)
    scope: Literal["all", "platform"] = "all"
    severity: int = Field(3, ge=1, le=5)
    lifting: LiftingRule | None = None


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


class ScoreSpec(_Strict):
    """A points model: ``base`` plus each factor's (decayed, capped) points, clamped to
    [``min``, ``max``], graded by the first band whose ``min`` the score reaches. Reason codes
    are the ``reason_codes`` factors that cost the most points (as US FCRA §615(a) adverse-action
    notices give up to four key factors, 12 CFR 1022.72)."""

    title: str
    legal_basis: str = Field(min_length=3)
    base: int
    min: int = 0
    max: int
    factors: tuple[ScoreFactor, ...] = Field(min_length=1)
    #: Age bands (days); older records count nothing. Empty: no decay.
    decay: tuple[DecayBand, ...] = ()
    grades: tuple[GradeBand, ...] = Field(min_length=1)
    reason_codes: int = Field(4, ge=1, le=10)

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


class SharingAgreement(_Strict):
    """Platform-scoped entries of ``lists`` made by ``source`` also refuse on the ``recipients``
    platforms (e.g. the ride-hail industry's shared safety list of banned riders)."""

    name: str
    source: str
    recipients: tuple[str, ...] = Field(min_length=1)
    lists: tuple[str, ...] = Field(min_length=1)
    legal_basis: str = Field(min_length=3)


class GateSpec(_Strict):
    """How long a gate may answer from its last good index when the registry database cannot
    be reached, per service (``default`` for the rest), in seconds. Past it the gate answers
    503 rather than guess (never a silent allow or deny)."""

    staleness_limit_seconds: dict[str, int] = {"default": 300}

    def limit_for(self, service: str) -> int:
        return self.staleness_limit_seconds.get(
            service, self.staleness_limit_seconds.get("default", 300))


class DueProcessSpec(_Strict):
    """The clocks of due process (DESIGN §3.4), each visible to the subject in their file.

    ``dispute_answer_days``: a furnisher answers a dispute within this many days, else the
    record is suppressed (30 days: US FCRA, 15 U.S.C. §1681i(a)(1)(A)); a list may set its own
    (SPC Provisions 2017, Art. 12: 15 days to review an objection to a listing).
    ``notice_within_hours``: a listing, removal, new adverse record, dispute outcome or gate
    refusal is served to the subject within this many hours of the event.
    ``suspend_listing_during_dispute``: while a dispute on a listing (or on the record behind
    it) is open, the entry is ``suspended`` and no gate refuses on it.
    ``sign_in_code_minutes`` / ``sign_in_max_attempts`` / ``session_hours``: the subject's
    one-time sign-in code lives this long and allows this many tries; a session this long.
    """

    dispute_answer_days: int = Field(30, gt=0)
    notice_within_hours: int = Field(24, gt=0)
    suspend_listing_during_dispute: bool = False
    sign_in_code_minutes: int = Field(10, gt=0, le=60)
    sign_in_max_attempts: int = Field(5, gt=0, le=20)
    session_hours: int = Field(12, gt=0, le=24 * 30)


class Policy(_Strict):
    """A validated policy. ``version_hash`` (``sha256:…`` of the file bytes) is written on every
    ledger event that evaluation causes."""

    version: str
    name: str
    description: str = ""
    #: The time zone of every local date and how periods are counted (required).
    jurisdiction: Jurisdiction
    identity: IdentitySpec = IdentitySpec()
    how_to_contest: str
    catalogue: dict[str, KindSpec]
    services: dict[str, str]
    lists: dict[str, ListSpec]
    sanctions: tuple[SanctionSpec, ...]
    scores: dict[str, ScoreSpec] = {}
    sharing: tuple[SharingAgreement, ...] = ()
    gate: GateSpec = GateSpec()
    due_process: DueProcessSpec = DueProcessSpec()
    version_hash: str = ""

    @model_validator(mode="after")
    def _references(self) -> Policy:
        problems = [f"{where}: {why}" for where, why in _problems(self)]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def warnings(self) -> list[tuple[str, str]]:
        """(YAML path, message) of what is allowed but questionable: a sanction fed by a score
        alone (a number is not a finding; the issue's rule: only where mapped explicitly)."""
        out = []
        for i, sanction in enumerate(self.sanctions):
            spec = self.lists.get(sanction.list)
            if spec is not None and spec.score is not None:
                out.append((f"sanctions.{i}", f"list {sanction.list!r} is fed by score "
                            f"{spec.score.name!r}: a score alone sanctions here "
                            f"({', '.join(sanction.services)})"))
        return out

    def evaluation_order(self) -> list[tuple[str, str]]:
        """Lists and scores as (``"list"`` | ``"score"``, name), each after what it reads."""
        deps = _dependencies(self)
        done: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()

        def visit(node: tuple[str, str]) -> None:
            if node in seen:
                return
            seen.add(node)
            for d in sorted(deps.get(node, ())):
                visit(d)
            done.append(node)

        for node in [("list", n) for n in self.lists] + [("score", n) for n in self.scores]:
            visit(node)
        return done

    def shared_with(self, list_name: str, platform: str | None) -> frozenset[str]:
        """Platforms whose platform-scoped entries of ``list_name`` refuse on ``platform``
        (itself, and every source of a sharing agreement naming it as a recipient)."""
        if platform is None:
            return frozenset()
        return frozenset({platform} | {a.source for a in self.sharing
                                        if list_name in a.lists and platform in a.recipients})

    def sanctions_for(self, list_name: str) -> list[SanctionSpec]:
        return [s for s in self.sanctions if s.list == list_name]

    def services_of(self, list_name: str) -> tuple[str, ...]:
        return tuple(sorted({svc for s in self.sanctions_for(list_name) for svc in s.services}))


def yaml_lines(text: bytes) -> dict[str, int]:
    """YAML path (``lists.x.trigger.kind``) → 1-based line of that node in the file."""
    out: dict[str, int] = {}

    def walk(node: yaml.Node, path: str) -> None:
        out.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                sub = f"{path}.{k.value}" if path else str(k.value)
                out[sub] = k.start_mark.line + 1
                walk(v, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, f"{path}.{i}" if path else str(i))

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return out
    if root is not None:
        walk(root, "")
    return out


def line_of(lines: dict[str, int], path: str) -> int | None:
    """Line of ``path`` or of its nearest ancestor present in the file."""
    parts = path.split(".")
    while parts:
        if (n := lines.get(".".join(parts))) is not None:
            return n
        parts.pop()
    return None


class _UniqueKeys(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (PyYAML keeps the last
    silently: ``period_years: 2`` then ``period_years: 5`` would be 5)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False,
                          ) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice (lines {seen[key]} and {line}); "
                    "the second would silently replace the first", key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _at_line(line: int | None) -> str:
    return f" (line {line})" if line else ""


def load_policy(path: Path | str) -> Policy:
    """Read and validate a policy YAML file.

    Raises:
        ConfigError: the file is missing or not YAML, or fails validation; ``details["problems"]``
            lists ``{"path": "lists.x.period_days", "line": 12, "reason": …}`` for every
            problem (the line of the YAML node, or of its nearest ancestor).
    """
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read policy file {path}: {e.strerror}") from e
    try:
        data = yaml.load(raw_bytes, Loader=_UniqueKeys)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as e:
        raise ConfigError(f"policy file {path} is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"policy file {path} must hold a mapping at the top level")
    data["version_hash"] = "sha256:" + hashlib.sha256(raw_bytes).hexdigest()
    try:
        return Policy.model_validate(data)
    except ValidationError as e:
        lines = yaml_lines(raw_bytes)
        problems: list[dict[str, Any]] = []
        for err in e.errors():
            where = ".".join(str(p) for p in err["loc"])
            if where or not err["msg"].startswith("Value error, "):
                problems.append({"path": where or "(top)", "reason": err["msg"]})
                continue
            # the cross-reference check reports "path: reason; path: reason"
            for part in err["msg"].removeprefix("Value error, ").split("; "):
                sub, _, why = part.partition(": ")
                problems.append({"path": sub, "reason": why})
        for prob in problems:
            prob["line"] = line_of(lines, prob["path"])
        summary = "; ".join(f"{p['path']}{_at_line(p['line'])}: {p['reason']}"
                            for p in problems)
        raise ConfigError(
            f"policy file {path} is invalid: {summary}", details={"problems": problems}
        ) from e


#: Names that reveal special-category data (GDPR Art. 9; PIPL Art. 28 "sensitive personal
#: information"; DESIGN §10): no record kind, field or condition may carry them. Matched as
#: prefixes of the words of a name (``religion``, ``ethnic_group``, ``health_status``,
#: ``political_opinion``), so ``trace_id`` or ``reunion_date`` pass.
SPECIAL_CATEGORIES = ("religio", "faith", "belief", "church", "mosque", "temple", "worship",
                      "ethnic", "race", "racial", "minzu", "tribe", "politic", "opinion",
                      "health", "medical", "diagnos", "disabilit", "pregnan", "hiv", "aids",
                      "illness", "disease", "sexual", "orientation", "genetic", "biometric",
                      "petition")
#: Word pairs that name a category where each word alone does not (``party_member``,
#: ``trade_union``; ``third_party_name`` and ``unionpay_card`` pass).
_SPECIAL_PAIRS = (("sex", "life"), ("party", "member"), ("party", "membership"),
                  ("trade", "union"), ("union", "member"), ("union", "membership"))
#: Enum choices that are special-category values (religions, ethnic groups of the PRC's 56
#: and of common census lists): a field of such choices reveals them whatever its name.
_SPECIAL_VALUES = frozenset((
    "muslim", "islam", "christian", "catholic", "protestant", "buddhist", "taoist", "jewish",
    "hindu", "atheist", "uyghur", "uighur", "tibetan", "hui", "zhuang", "manchu", "mongol",
    "mongolian", "kazakh", "miao", "yi", "tujia", "dong", "yao", "bai", "korean", "hani",
    "li", "dai", "she", "han_ethnic", "white", "black", "asian", "hispanic", "latino",
    "lgbt", "gay", "lesbian", "heterosexual", "homosexual", "bisexual", "hiv_positive"))


def _special(name: str) -> str | None:
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    for a, b in _SPECIAL_PAIRS:
        if a in words and b in words:
            return f"{a}_{b}"
    return next((stem for stem in SPECIAL_CATEGORIES for w in words
                 if w.startswith(stem) and not (stem in ("race", "hiv", "aids", "temple")
                                                and w != stem)), None)


def _special_choices(choices: tuple[str, ...] | None) -> list[str]:
    """Choices of an enum that are special-category values (at least two: one word such as
    ``li`` or ``dong`` may be a code; a set of them is a census of faiths or peoples)."""
    found = [c for c in choices or () if c.lower() in _SPECIAL_VALUES]
    return found if len(found) >= 2 else []


def _dependencies(policy: Policy) -> dict[tuple[str, str], set[tuple[str, str]]]:
    deps: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for name, spec in policy.lists.items():
        if spec.score is not None:
            deps.setdefault(("list", name), set()).add(("score", spec.score.name))
    for name, score in policy.scores.items():
        for f in score.factors:
            if f.list is not None:
                deps.setdefault(("score", name), set()).add(("list", f.list))
    return deps


def _cycle(policy: Policy) -> list[tuple[str, str]] | None:
    deps = _dependencies(policy)
    state: dict[tuple[str, str], int] = {}
    stack: list[tuple[str, str]] = []

    def visit(node: tuple[str, str]) -> list[tuple[str, str]] | None:
        state[node] = 1
        stack.append(node)
        for d in sorted(deps.get(node, ())):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state and (found := visit(d)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(deps):
        if node not in state and (found := visit(node)):
            return found
    return None


def _problems(policy: Policy) -> list[tuple[str, str]]:
    """Every cross-reference problem as (YAML path, reason)."""
    out: list[tuple[str, str]] = []
    cat = policy.catalogue

    def field_of(where: str, kind: str | None, field: str | None,
                 types: tuple[str, ...] | None = None) -> None:
        if kind is None or field is None or kind not in cat:
            return
        if field == "furnisher_record_id" and types is None:
            return
        spec = cat[kind].fields.get(field)
        if spec is None:
            out.append((where, f"record kind {kind!r} has no field {field!r}"))
        elif types is not None and spec.type not in types:
            out.append((where, f"field {field!r} of {kind!r} is {spec.type}, not "
                               f"{' or '.join(types)}"))

    def kind_of(where: str, kind: str | None) -> bool:
        if kind is not None and kind not in cat:
            out.append((where, f"unknown record kind {kind!r} (the catalogue has "
                               f"{', '.join(sorted(cat))})"))
            return False
        return True

    def when_of(where: str, kind: str | None, when: dict[str, Any]) -> None:
        for f, cond in when.items():
            # conditions read the payload: furnisher_record_id is a key, not a field
            field_of(f"{where}.{f}", kind, f, types=("str", "int", "bool", "money",
                                                     "currency", "enum", "date"))
            spec = cat[kind].fields.get(f) if kind in cat else None
            if spec is not None and spec.choices:
                values = cond if isinstance(cond, list) else [cond]
                wrong = [v for v in values if not isinstance(v, Range)
                         and v not in spec.choices]
                if wrong:
                    out.append((f"{where}.{f}", f"{wrong} never match: {f!r} of {kind!r} "
                                f"is one of {', '.join(spec.choices)}"))

    for kname, kspec in cat.items():
        if (w := _special(kname)):
            out.append((f"catalogue.{kname}", f"special-category data ({w}…) may not be "
                        "collected (GDPR Art. 9, PIPL Art. 28)"))
        for fname, fspec in kspec.fields.items():
            if (w := _special(fname)):
                out.append((f"catalogue.{kname}.fields.{fname}", f"special-category data "
                            f"({w}…) may not be collected (GDPR Art. 9, PIPL Art. 28)"))
            elif (values := _special_choices(fspec.choices)):
                out.append((f"catalogue.{kname}.fields.{fname}.choices", "special-category "
                            f"values ({', '.join(values)}) may not be collected (GDPR "
                            "Art. 9, PIPL Art. 28)"))
    for name, spec in policy.lists.items():
        at = f"lists.{name}"
        if (t := spec.trigger) and kind_of(f"{at}.trigger.kind", t.kind):
            field_of(f"{at}.trigger.key", t.kind, t.key)
            field_of(f"{at}.trigger.ground_field", t.kind, t.ground_field, ("int",))
            when_of(f"{at}.trigger.when", t.kind, t.when)
        if (r := spec.rating) and kind_of(f"{at}.rating.kind", r.kind):
            field_of(f"{at}.rating.field", r.kind, r.field, ("int",))
            rated = cat[r.kind].fields.get(r.field)
            if rated is not None and rated.max is not None and r.below > rated.max + 1:
                out.append((f"{at}.rating.below", f"{r.below} is above every possible mean "
                            f"({r.field} is at most {rated.max}): everyone would be refused"))
        if (c := spec.criteria) and kind_of(f"{at}.criteria.kind", c.kind):
            field_of(f"{at}.criteria.field", c.kind, c.field, ("int", "money"))
            when_of(f"{at}.criteria.when", c.kind, c.when)
            summed = cat[c.kind].fields.get(c.field or "")
            currencies = [f for f, fs in cat[c.kind].fields.items() if fs.type == "currency"]
            if (summed is not None and summed.type == "money" and currencies
                    and not any(isinstance(c.when.get(f), str) for f in currencies)):
                out.append((f"{at}.criteria.when", f"a {c.aggregate} of money must fix the "
                            f"currency (e.g. `{currencies[0]}: CNY`): amounts in different "
                            "currencies do not add up"))
            if (cb := c.cured_by) and kind_of(f"{at}.criteria.cured_by.kind", cb.kind):
                field_of(f"{at}.criteria.cured_by.key", cb.kind, cb.key)
                field_of(f"{at}.criteria.cured_by.key", c.kind, cb.key)
                when_of(f"{at}.criteria.cured_by.when", cb.kind, cb.when)
        if (sc := spec.score) is not None:
            if sc.name not in policy.scores:
                out.append((f"{at}.score.name", f"unknown score {sc.name!r}"))
            else:
                grades = {g.grade for g in policy.scores[sc.name].grades}
                for g in sc.grades:
                    if g not in grades:
                        out.append((f"{at}.score.grades", f"unknown grade {g!r} of score "
                                                          f"{sc.name!r}"))
        for i, rm in enumerate(spec.removal):
            if kind_of(f"{at}.removal.{i}.kind", rm.kind):
                field_of(f"{at}.removal.{i}.key", rm.kind, rm.key)
                when_of(f"{at}.removal.{i}.when", rm.kind, rm.when)
        if (ex := spec.extension) and kind_of(f"{at}.extension.kind", ex.kind):
            field_of(f"{at}.extension.key", ex.kind, ex.key)
            field_of(f"{at}.extension.field", ex.kind, ex.field, ("int",))
        source_kind = (spec.trigger.kind if spec.trigger else
                       spec.criteria.kind if spec.criteria else None)
        for i, e in enumerate(spec.exemptions):
            when_of(f"{at}.exemptions.{i}.when", source_kind, e.when)
            if kind_of(f"{at}.exemptions.{i}.record", e.record):
                when_of(f"{at}.exemptions.{i}.record_when", e.record, e.record_when)
        for i, tier in enumerate(spec.public_display):
            unknown = sorted(set(tier.grounds) - set(spec.grounds))
            if not spec.public:
                out.append((f"{at}.public_display", "the list is not public"))
            elif unknown:
                out.append((f"{at}.public_display.{i}.grounds", f"unknown ground(s) {unknown}"))
    for i, sanction in enumerate(policy.sanctions):
        at = f"sanctions.{i}"
        if sanction.list not in policy.lists:
            out.append((f"{at}.list", f"unknown list {sanction.list!r}"))
        for service in sanction.services:
            if service not in policy.services:
                out.append((f"{at}.services", f"unknown service {service!r}"))
        if (lf := sanction.lifting) and kind_of(f"{at}.lifting.kind", lf.kind):
            field_of(f"{at}.lifting.service_field", lf.kind, lf.service_field, ("enum", "str"))
            field_of(f"{at}.lifting.until_field", lf.kind, lf.until_field, ("date",))
            target = policy.lists.get(sanction.list)
            if target is not None and target.trigger is None:
                out.append((f"{at}.lifting", "lifting by record needs a trigger list (its key)"))
            else:
                field_of(f"{at}.lifting.key", lf.kind, lf.key)
    for name, score in policy.scores.items():
        for i, f in enumerate(score.factors):
            at = f"scores.{name}.factors.{i}"
            if f.list is not None and f.list not in policy.lists:
                out.append((f"{at}.list", f"unknown list {f.list!r}"))
            if kind_of(f"{at}.kind", f.kind):
                when_of(f"{at}.when", f.kind, f.when)
    for i, agreement in enumerate(policy.sharing):
        for name in agreement.lists:
            if name not in policy.lists:
                out.append((f"sharing.{i}.lists", f"unknown list {name!r}"))
            elif not any(s.scope == "platform" for s in policy.sanctions_for(name)):
                out.append((f"sharing.{i}.lists", f"list {name!r} has no platform-scoped "
                                                  "sanction to share"))
    if (cycle := _cycle(policy)) is not None:
        path = " → ".join(f"{k}s.{n}" for k, n in cycle)
        out.append((f"{cycle[0][0]}s.{cycle[0][1]}", f"cycle: {path}"))
    return out
