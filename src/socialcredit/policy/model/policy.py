"""The policy as a whole: :class:`Policy` gathers the facets and, once each is valid, runs the
cross-reference checks of :mod:`.validation` across them.
"""

from __future__ import annotations

from pydantic import model_validator

from socialcredit.policy.jurisdiction import Jurisdiction
from socialcredit.policy.model.base import _Strict
from socialcredit.policy.model.catalogue import KindSpec
from socialcredit.policy.model.incentives import IncentiveSpec, incentive_problems
from socialcredit.policy.model.lists import ListSpec
from socialcredit.policy.model.repair import RepairSpec, repair_problems, untiered_lists
from socialcredit.policy.model.sanctions import SanctionSpec, SharingAgreement
from socialcredit.policy.model.scores import ScoreSpec
from socialcredit.policy.model.settings import DueProcessSpec, GateSpec, IdentitySpec
from socialcredit.policy.model.validation import dependencies, reference_problems

__all__ = ["Policy"]


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
    #: Benefits a red list may earn (name → text for people, e.g. ``green_channel``).
    benefits: dict[str, str] = {}
    #: Red list → benefits per service (:mod:`.incentives`).
    incentives: tuple[IncentiveSpec, ...] = ()
    scores: dict[str, ScoreSpec] = {}
    sharing: tuple[SharingAgreement, ...] = ()
    gate: GateSpec = GateSpec()
    due_process: DueProcessSpec = DueProcessSpec()
    #: Credit repair by severity tier (NDRC Order 36; :mod:`.repair`); None: no tiers.
    repair: RepairSpec | None = None
    version_hash: str = ""

    @model_validator(mode="after")
    def _references(self) -> Policy:
        problems = [f"{where}: {why}" for where, why in (
            *reference_problems(self), *incentive_problems(self), *repair_problems(self))]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def warnings(self) -> list[tuple[str, str]]:
        """(YAML path, message) of what is allowed but questionable: a sanction fed by a score
        alone (a number is not a finding; the issue's rule: only where mapped explicitly); a
        sanction list without a severity tier where the policy has ``repair``."""
        out = []
        for i, sanction in enumerate(self.sanctions):
            spec = self.lists.get(sanction.list)
            if spec is not None and spec.score is not None:
                out.append((f"sanctions.{i}", f"list {sanction.list!r} is fed by score "
                            f"{spec.score.name!r}: a score alone sanctions here "
                            f"({', '.join(sanction.services)})"))
        return out + untiered_lists(self)

    def evaluation_order(self) -> list[tuple[str, str]]:
        """Lists and scores as (``"list"`` | ``"score"``, name), each after what it reads."""
        deps = dependencies(self)
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

    def incentives_for(self, list_name: str) -> list[IncentiveSpec]:
        return [i for i in self.incentives if i.list == list_name]

    def benefits_of(self, list_name: str, service: str) -> list[tuple[str, str]]:
        """(benefit, legal basis) an active entry of ``list_name`` earns for ``service``."""
        return [(b, i.legal_basis) for i in self.incentives_for(list_name)
                for b in i.benefits.get(service, ())]

    @property
    def suspending_lists(self) -> frozenset[str]:
        """Lists whose active entries suspend every incentive of their subject: the lists
        some sanction maps (:mod:`.incentives`, precedence)."""
        return frozenset(s.list for s in self.sanctions)

    def services_of(self, list_name: str) -> tuple[str, ...]:
        return tuple(sorted({svc for s in self.sanctions_for(list_name) for svc in s.services}))

    def adverse_kinds(self) -> frozenset[str]:
        """Record kinds of the catalogue whose arrival is served to the subject as a notice
        (``adverse: true``; disclosure/notices.py, and ``audit replay`` of the notices)."""
        return frozenset(k for k, spec in self.catalogue.items() if spec.adverse)
