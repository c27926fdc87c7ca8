"""The cross-reference checks of a policy: what no single model can see alone.

:func:`reference_problems` gives every problem as (YAML path, reason): a rule naming a record
kind, field, list, score, grade, service or furnisher kind that does not exist or has the
wrong type,
conditions that never match, money summed across currencies, special-category data in the
catalogue, and a cycle of lists fed by scores fed by lists. :class:`.policy.Policy` raises them
all at once, joined by ``; ``, and :func:`.loading.load_policy` splits them back into problems.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from socialcredit.policy.model.base import Range
from socialcredit.policy.model.catalogue import (
    FURNISHER_KINDS,
    special_category,
    special_choices,
)

if TYPE_CHECKING:
    from socialcredit.policy.model.policy import Policy

__all__ = ["dependencies", "dependency_cycle", "reference_problems"]


def dependencies(policy: Policy) -> dict[tuple[str, str], set[tuple[str, str]]]:
    deps: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for name, spec in policy.lists.items():
        if spec.score is not None:
            deps.setdefault(("list", name), set()).add(("score", spec.score.name))
    for name, score in policy.scores.items():
        for f in score.factors:
            if f.list is not None:
                deps.setdefault(("score", name), set()).add(("list", f.list))
    return deps


def dependency_cycle(policy: Policy) -> list[tuple[str, str]] | None:
    deps = dependencies(policy)
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


def reference_problems(policy: Policy) -> list[tuple[str, str]]:
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

    def furnisher_kinds_of(where: str, kinds: Any) -> None:
        unknown = [k for k in kinds or () if k not in FURNISHER_KINDS]
        if unknown:
            out.append((where, f"unknown furnisher kind {', '.join(map(repr, unknown))} (the "
                               f"registry knows {', '.join(FURNISHER_KINDS)})"))

    furnisher_kinds_of("identity.phone.authoritative_furnisher_kinds",
                       policy.identity.phone.authoritative_furnisher_kinds)
    for kname, kspec in cat.items():
        furnisher_kinds_of(f"catalogue.{kname}.furnisher_kinds", kspec.furnisher_kinds)
        if (w := special_category(kname)):
            out.append((f"catalogue.{kname}", f"special-category data ({w}…) may not be "
                        "collected (GDPR Art. 9, PIPL Art. 28)"))
        for fname, fspec in kspec.fields.items():
            if (w := special_category(fname)):
                out.append((f"catalogue.{kname}.fields.{fname}", f"special-category data "
                            f"({w}…) may not be collected (GDPR Art. 9, PIPL Art. 28)"))
            elif (values := special_choices(fspec.choices)):
                out.append((f"catalogue.{kname}.fields.{fname}.choices", "special-category "
                            f"values ({', '.join(values)}) may not be collected (GDPR "
                            "Art. 9, PIPL Art. 28)"))
        if (ob := kspec.obligation) is not None:
            at = f"catalogue.{kname}.obligation"
            for i, fld in enumerate(ob.key):
                field_of(f"{at}.key.{i}", kname, fld)
            if ob.creditor_field is not None:
                field_of(f"{at}.creditor_field", kname, ob.creditor_field, ("str",))
            if ob.transferred_key is not None:
                if ob.creditor_field is None:
                    out.append((f"{at}.transferred_key", "a transferred report names its "
                                "original creditor: set creditor_field too"))
                if len(ob.transferred_key) != len(ob.key):
                    out.append((f"{at}.transferred_key", f"{len(ob.transferred_key)} fields "
                                f"for the {len(ob.key)} of key"))
                for i, fld in enumerate(ob.transferred_key):
                    field_of(f"{at}.transferred_key.{i}", kname, fld)
            if ob.first_delinquency_field is not None:
                field_of(f"{at}.first_delinquency_field", kname, ob.first_delinquency_field,
                         ("date",))
            if ob.days_past_due_field is not None:
                field_of(f"{at}.days_past_due_field", kname, ob.days_past_due_field, ("int",))
                if ob.first_delinquency_field is None:
                    out.append((f"{at}.days_past_due_field", "the days are kept from the date "
                                "of first delinquency: set first_delinquency_field too"))
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
        if (rp := spec.represents) is not None:
            source = policy.lists.get(rp.list)
            if source is None or source.trigger is None:
                out.append((f"{at}.represents.list", f"{rp.list!r} is no trigger list of this "
                            "policy: the people of an organisation follow its listing"))
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
    if (cycle := dependency_cycle(policy)) is not None:
        path = " → ".join(f"{k}s.{n}" for k, n in cycle)
        out.append((f"{cycle[0][0]}s.{cycle[0][1]}", f"cycle: {path}"))
    if (aa := policy.due_process.adverse_action) is not None:
        if aa.score not in policy.scores:
            out.append(("due_process.adverse_action.score", f"unknown score {aa.score!r}"))
        for svc in aa.services:
            if svc not in policy.services:
                out.append(("due_process.adverse_action.services",
                            f"unknown service {svc!r}"))
    return out
