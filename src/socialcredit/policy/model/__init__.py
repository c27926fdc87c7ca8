"""The policy file model (YAML, validated by pydantic v2).

A policy holds the *catalogue* (which record kinds are accepted, their fields, legal basis and
retention), the *lists* (trigger lists, rating lists, external lists), the *sanctions* (list →
services), the identifier scheme and the jurisdiction (its time zone and how periods are
counted: :mod:`socialcredit.policy.jurisdiction`; a policy without a known time zone is
refused). Loading reports every problem with its YAML path
(``lists.dishonest_judgment_debtors.period_days: Input should be greater than 0``,
``jurisdiction.time_zone: Field required``).

The package is split by facet (issue #18); this module only gathers the public names:

* :mod:`.base` — strict, frozen models and the ``when`` conditions (:class:`Range`);
* :mod:`.catalogue` — record kinds and their fields, and the special-category data no
  catalogue may collect;
* :mod:`.lists` — :class:`ListSpec` and its rules (trigger, criteria, rating, score, removal,
  extension, exemptions, public display);
* :mod:`.scores` — :class:`ScoreSpec`, its factors, decay and grades;
* :mod:`.sanctions` — :class:`SanctionSpec`, lifting, and sharing agreements;
* :mod:`.incentives` — :class:`IncentiveSpec` (red list → benefits) and the checks that keep
  a red list off a blacklist's findings;
* :mod:`.repair` — credit repair by severity tier (NDRC Order No. 36);
* :mod:`.settings` — identity, gate staleness and due-process settings;
* :mod:`.validation` — the cross-reference checks that span the facets;
* :mod:`.policy` — :class:`Policy`, the whole;
* :mod:`.loading` — :func:`load_policy` and YAML paths to lines.
"""

from __future__ import annotations

from socialcredit.policy.jurisdiction import Jurisdiction
from socialcredit.policy.model.base import Condition, Range
from socialcredit.policy.model.catalogue import FURNISHER_KINDS, FieldSpec, KindSpec, ObligationSpec
from socialcredit.policy.model.incentives import IncentiveSpec
from socialcredit.policy.model.lists import (
    CriteriaRule,
    DisplayTier,
    Exemption,
    ExtensionRule,
    ListSpec,
    RatingRule,
    RemovalRule,
    ScoreSource,
    TriggerRule,
)
from socialcredit.policy.model.loading import (
    line_of,
    load_policy,
    resolve_policy_path,
    shipped_policies,
    yaml_lines,
)
from socialcredit.policy.model.policy import Policy
from socialcredit.policy.model.sanctions import LiftingRule, SanctionSpec, SharingAgreement
from socialcredit.policy.model.scores import DecayBand, GradeBand, ScoreFactor, ScoreSpec
from socialcredit.policy.model.settings import DueProcessSpec, GateSpec, IdentitySpec

__all__ = [
    "FURNISHER_KINDS",
    "Condition",
    "CriteriaRule",
    "DecayBand",
    "DisplayTier",
    "DueProcessSpec",
    "Exemption",
    "ExtensionRule",
    "FieldSpec",
    "GateSpec",
    "GradeBand",
    "IdentitySpec",
    "IncentiveSpec",
    "Jurisdiction",
    "KindSpec",
    "LiftingRule",
    "ListSpec",
    "ObligationSpec",
    "Policy",
    "Range",
    "RatingRule",
    "RemovalRule",
    "SanctionSpec",
    "ScoreFactor",
    "ScoreSource",
    "ScoreSpec",
    "SharingAgreement",
    "TriggerRule",
    "line_of",
    "load_policy",
    "resolve_policy_path",
    "shipped_policies",
    "yaml_lines",
]
