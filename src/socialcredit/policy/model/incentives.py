"""Incentives: a red list (``effect: incentive``) → the benefits it earns per service, and the
checks that keep a red list and a blacklist from resting on the same finding.

The joint incentives for trustworthiness of the State Council's Guiding Opinions on
Establishing and Improving the Systems of Joint Incentives for Trustworthiness and Joint
Punishment for Untrustworthiness (Guo Fa [2016] No. 33), Part II: a "green channel" and
acceptance with documents to follow (容缺受理) in administrative licensing, priority and
simplified handling in public services, and lower transaction costs (credit products such as
"tax-credit loans", 税易贷) for entities with good credit. The paragraph numbers cited in the
default policy are from the published text as we read it; where a figure or article number
is uncertain the policy says so beside it.

**Precedence (fixed by the registry, not a policy option).** An incentive never applies while
the same subject holds an active entry of a list that some sanction maps (a blacklist): the
red-list entry stays in the ledger as it is (it is not ended or re-created), and every reader
— the gate, the public search, the subject file, the what-if — treats it as *suspended* for
as long as the sanction entry is active (:mod:`socialcredit.policy.incentives`). So a gate
never gives benefits to a sanctioned subject, and the benefits return the moment the sanction
ends, with no ledger event of their own.

**What the validator refuses** (:func:`incentive_problems`, "a policy that would allow
both"): a list that would both refuse and benefit on one entry (a sanction naming a red list,
an incentive naming a blacklist), and a red list *overlapping* a sanctioned list — fed by the
same record kind with ``when`` conditions that one record can meet both of (e.g. a red list
of every ``tax_credit_rating`` and a blacklist of grade-D ratings: the same record would
refuse and benefit), or by the same score with a grade in common or below the blacklist's
threshold. Conditions are exclusive when some field they both test admits no common value
(``grade: A`` against ``grade: [C, D]``; ``{at_least: 90}`` against ``{below: 90}``). A red
list is fed by a trigger, criteria or score rule (not ratings of one platform, an
organisation's representation, or an external file), has no warning period and no
extension (burdens of a listing, SPC 2017 Art. 2 and Fa Fa [2019] No. 35), a red list fed
by a score names the ``grades`` that earn it, and no ``represents`` list follows a red list
(an honour restricts no one's representatives).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from socialcredit.policy.model.base import Range, _Strict

if TYPE_CHECKING:
    from socialcredit.policy.model.lists import ListSpec
    from socialcredit.policy.model.policy import Policy

__all__ = ["IncentiveSpec", "incentive_problems"]


class IncentiveSpec(_Strict):
    """Red list → benefits: ``benefits`` maps each service to the benefits (names of the
    policy's ``benefits``: ``green_channel``, ``deposit_waived``, ``simplified_approval`` …)
    an active entry of ``list`` earns there, on ``legal_basis``."""

    list: str
    benefits: dict[str, tuple[str, ...]] = Field(min_length=1)
    legal_basis: str = Field(min_length=3)

    @model_validator(mode="after")
    def _some_benefit(self) -> IncentiveSpec:
        empty = [svc for svc, names in self.benefits.items() if not names]
        if empty:
            raise ValueError(f"no benefit named for {', '.join(empty)}")
        return self


def _values(cond: Any) -> set[Any] | None:
    """The values a non-range condition admits (None for a range)."""
    if isinstance(cond, Range):
        return None
    return set(cond) if isinstance(cond, list) else {cond}


def _in_range(v: Any, r: Range) -> bool:
    return (not isinstance(v, int) or isinstance(v, bool)
            or ((r.at_least is None or v >= r.at_least) and (r.below is None or v < r.below)))


def exclusive(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True when no payload can meet both ``when`` conditions ``a`` and ``b``: some field they
    both test admits no common value."""
    for f in a.keys() & b.keys():
        va, vb = _values(a[f]), _values(b[f])
        if va is not None and vb is not None:
            if not va & vb:
                return True
        elif va is None and vb is None:
            lo = max(x for x in (a[f].at_least, b[f].at_least, -(2 ** 63)) if x is not None)
            hi = min(x for x in (a[f].below, b[f].below, 2 ** 63) if x is not None)
            if lo >= hi:
                return True
        else:
            values, rng = (vb, a[f]) if va is None else (va, b[f])
            if not any(_in_range(v, rng) for v in values or ()):
                return True
    return False


def _overlap(policy: Policy, red: ListSpec, black: ListSpec) -> str | None:
    """Why ``red`` and ``black`` can hold the same subject on the same finding, or None."""
    for r in (red.trigger, red.criteria):
        for b in (black.trigger, black.criteria):
            if r is not None and b is not None and r.kind == b.kind and not exclusive(
                    r.when, b.when):
                return (f"a {r.kind} record can meet both lists' conditions: make them "
                        "exclusive (e.g. different values of the same field)")
    if red.score is not None and black.score is not None \
            and red.score.name == black.score.name:
        common = set(red.score.grades) & set(black.score.grades)
        if common:
            return f"grade(s) {', '.join(sorted(common))} of score {red.score.name!r} in both"
        spec = policy.scores.get(red.score.name)
        if black.score.below is not None and spec is not None:
            low = [g.grade for g in spec.grades
                   if g.grade in red.score.grades and g.min < black.score.below]
            if low:
                return (f"grade(s) {', '.join(low)} of score {red.score.name!r} start below "
                        f"the blacklist's {black.score.below}")
    return None


def incentive_problems(policy: Policy) -> list[tuple[str, str]]:
    """Every problem of the policy's red lists and incentives as (YAML path, reason); see the
    module docstring for what is refused and why."""
    out: list[tuple[str, str]] = []
    sanctioned = {s.list for s in policy.sanctions}
    for i, s in enumerate(policy.sanctions):
        spec = policy.lists.get(s.list)
        if spec is not None and spec.effect == "incentive":
            out.append((f"sanctions.{i}.list", f"list {s.list!r} is a red list (effect: "
                        "incentive): a sanction on it would refuse and benefit on one entry"))
    for i, inc in enumerate(policy.incentives):
        at = f"incentives.{i}"
        spec = policy.lists.get(inc.list)
        if spec is None:
            out.append((f"{at}.list", f"unknown list {inc.list!r}"))
        elif spec.effect != "incentive":
            out.append((f"{at}.list", f"list {inc.list!r} has effect sanction: only a red "
                        "list (`effect: incentive`) earns benefits"))
        for service, names in inc.benefits.items():
            if service not in policy.services:
                out.append((f"{at}.benefits.{service}", f"unknown service {service!r}"))
            unknown = [n for n in names if n not in policy.benefits]
            if unknown:
                out.append((f"{at}.benefits.{service}", f"unknown benefit(s) "
                            f"{', '.join(map(repr, unknown))} (the policy's benefits: "
                            f"{', '.join(sorted(policy.benefits)) or 'none'})"))
    for name, spec in policy.lists.items():
        rp = spec.represents
        if rp is not None and getattr(policy.lists.get(rp.list), "effect", "") == "incentive":
            out.append((f"lists.{name}.represents.list", f"{rp.list!r} is a red list: an "
                        "honour restricts no one's representatives"))
        if spec.effect != "incentive":
            continue
        at = f"lists.{name}"
        if spec.rule not in ("trigger", "criteria", "score"):
            out.append((f"{at}.effect", f"a red list is fed by a trigger, criteria or score "
                        f"rule, not {spec.rule}"))
        if spec.has_grace or spec.extension is not None:
            out.append((f"{at}.effect", "a red list has no warning period and no extension "
                        "(they are burdens of a listing)"))
        if spec.score is not None and not spec.score.grades:
            out.append((f"{at}.score", "a red list fed by a score names the `grades` that "
                        "earn it, not `below`"))
        for other in sorted(sanctioned):
            black = policy.lists.get(other)
            if black is None or black.effect == "incentive":
                continue
            if (why := _overlap(policy, spec, black)) is not None:
                out.append((at, f"overlaps the sanctioned list {other!r}: {why} (no policy "
                            "may refuse and benefit on the same finding)"))
    return out
