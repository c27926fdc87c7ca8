"""Credit repair by severity tier: NDRC Measures for the Administration of Credit Repair
(信用修复管理办法, NDRC Order No. 36, in force 2026-04-01, replacing the 2023 trial measures).

A policy's ``repair`` section names the three tiers of untrustworthy conduct with their
publication periods, the text each rule comes from, and the days an application waits for a
decision; each sanction list's entries get a tier (``severity_tier``, or by ground through the
list's ``public_display`` tiers). Rules (``socialcredit.disclosure.repairs``):

* an entry may be repaired only once the shortest publication period of its tier has run
  (``min_months`` from ``since``); an application or a grant before that is refused
  (:class:`~socialcredit.errors.RepairTooEarly`);
* a granted repair ends the entry: publication, sharing and sanctions together;
* an application carries its evidence and is decided within ``decision_days``.

Figures: light (轻微) normally not published, at most 3 months; general (一般) 3 months to
1 year; severe (严重) 1 to 3 years — as the issue and our reading of Order 36 give them. The
article numbers and the decision deadline are uncertain (see ``default.yaml``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from socialcredit.policy.model.base import _Strict

if TYPE_CHECKING:
    from socialcredit.policy.model.policy import Policy

__all__ = ["TIERS", "RepairSpec", "Tier", "TierSpec", "repair_problems", "untiered_lists"]

Tier = Literal["light", "general", "severe"]
TIERS: tuple[Tier, ...] = ("light", "general", "severe")


class TierSpec(_Strict):
    """One severity tier: ``min_months`` is the shortest publication period (repair may be
    granted only after it), ``max_months`` the longest; ``legal_basis`` the text."""

    min_months: int = Field(ge=0)
    max_months: int = Field(gt=0)
    published: bool = True
    legal_basis: str = Field(min_length=3)

    @model_validator(mode="after")
    def _ordered(self) -> TierSpec:
        if self.min_months > self.max_months:
            raise ValueError("`min_months` is more than `max_months`")
        return self


class RepairSpec(_Strict):
    legal_basis: str = Field(min_length=3)
    #: Calendar days from an application to the decision it is owed.
    decision_days: int = Field(gt=0, le=90)
    decision_legal_basis: str = Field(min_length=3)
    tiers: dict[Tier, TierSpec]

    @model_validator(mode="after")
    def _all_tiers(self) -> RepairSpec:
        if missing := [t for t in TIERS if t not in self.tiers]:
            raise ValueError(f"`tiers` lacks {', '.join(missing)}")
        return self


def repair_problems(policy: Policy) -> list[tuple[str, str]]:
    """(YAML path, reason) for each display tier whose name is not light, general or severe,
    when the policy has a ``repair`` section (refused)."""
    if policy.repair is None:
        return []
    return [(f"lists.{name}.public_display.{i}.tier",
             f"{t.tier!r} is not one of {', '.join(TIERS)} (NDRC Order 36)")
            for name, spec in policy.lists.items()
            for i, t in enumerate(spec.public_display) if t.tier not in TIERS]


def untiered_lists(policy: Policy) -> list[tuple[str, str]]:
    """(YAML path, message) for each sanction list with entries of no tier, when the policy
    has a ``repair`` section: a warning (``policy validate`` prints it); such entries may be
    repaired at any time. The shipped policy tiers every list (``tests/test_repair_tiers.py``)."""
    if policy.repair is None:
        return []
    out = []
    for name, spec in policy.lists.items():
        if spec.external or spec.represents is not None or spec.effect == "incentive":
            continue
        grounds: list[int | None] = [*spec.grounds] or [None]
        if any(spec.tier_of(g) is None for g in grounds):
            out.append((f"lists.{name}.severity_tier", "some entries have no severity tier "
                        "(NDRC Order 36): give `severity_tier` or tier every ground in "
                        "`public_display`"))
    return out
