"""``socialcredit policy …``: check a policy file and compare two (issue #4).

* ``policy validate FILE`` prints the policy's version, version hash (``sha256:`` of the file
  bytes, written on every ledger event evaluation causes), the number of lists, scores and
  sanctions, and every warning (YAML path and message); exit 0. An invalid file prints every
  problem with its YAML path, line and reason and exits 1 (a ``ConfigError``, as everywhere in
  :mod:`socialcredit.cli`).
* ``policy diff A B`` validates both files, then prints the structural difference: YAML paths
  added, removed or changed, with old → new values (``lists.repeat_fare_evaders.criteria.
  at_least: 3 → 2``), and both version hashes.

:func:`print_what_if` renders the report of ``socialcredit evaluate --policy NEW --compare
CURRENT`` (:mod:`socialcredit.policy.whatif`) as Rich tables. ``policy_app`` is registered by
:mod:`socialcredit.cli` as ``socialcredit policy``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich import box
from rich.console import Console
from rich.table import Table

__all__ = ["policy_app", "print_what_if", "yaml_diff"]

policy_app = typer.Typer(no_args_is_help=True, help="Validate a policy file; diff two.")

# socialcredit.cli registers ``policy_app`` and this module uses its helpers: ``policy_app``
# exists before that import, so either module may be imported first
from socialcredit.cli import JsonOpt, _out, console, err_console  # noqa: E402
from socialcredit.errors import ConfigError  # noqa: E402
from socialcredit.policy.diff import yaml_diff  # noqa: E402
from socialcredit.policy.model import Policy, line_of, load_policy, yaml_lines  # noqa: E402
from socialcredit.policy.whatif import SMALL_GROUP  # noqa: E402

FileArg = Annotated[Path, typer.Argument(help="Policy YAML file.", show_default=False)]


def _checked(path: Path, as_json: bool) -> Policy:
    """The validated policy, or every problem printed and a ConfigError (exit 1)."""
    try:
        return load_policy(path)
    except ConfigError as e:
        problems = e.details.get("problems")
        if not problems:
            raise  # unreadable or not YAML: one message
        if as_json:
            _out({"ok": False, "file": str(path), "problems": problems,
                  "count": len(problems)})
        else:
            err_console.print(f"[red]INVALID[/] {path}: {len(problems)} problem(s)",
                              highlight=False)
            for p in problems:
                at = f" (line {p['line']})" if p.get("line") else ""
                err_console.print(f"  {p['path']}{at}: {p['reason']}", highlight=False,
                                  markup=False)
        raise ConfigError(f"policy file {path} is invalid ({len(problems)} problem(s))",
                          details={"problems": problems}) from None


def _warnings(path: Path, policy: Policy) -> list[dict[str, Any]]:
    lines = yaml_lines(path.read_bytes())
    return [{"path": where, "line": line_of(lines, where), "message": msg}
            for where, msg in policy.warnings()]


def _about(path: Path, policy: Policy) -> dict[str, Any]:
    return {"file": str(path), "name": policy.name, "version": policy.version,
            "version_hash": policy.version_hash}


@policy_app.command("validate")
def validate(file: FileArg, as_json: JsonOpt = False) -> None:
    """Validate a policy file: its version, hash, counts and warnings (exit 0), or every
    problem with its YAML path and line (exit 1)."""
    policy = _checked(file, as_json)
    warnings = _warnings(file, policy)
    counts = {"lists": len(policy.lists), "scores": len(policy.scores),
              "sanctions": len(policy.sanctions), "services": len(policy.services),
              "record_kinds": len(policy.catalogue), "sharing": len(policy.sharing)}
    if as_json:
        _out({"ok": True, **_about(file, policy), "counts": counts, "warnings": warnings})
        return
    console.print(f"[green]OK[/] {file}: policy {policy.name!r} version {policy.version} "
                  f"({policy.version_hash})", highlight=False)
    console.print("  " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()),
                  highlight=False)
    for w in warnings:
        at = f" (line {w['line']})" if w["line"] else ""
        console.print(f"  [yellow]warning[/] {w['path']}{at}: {w['message']}",
                      highlight=False)


def _show(v: Any, width: int = 70) -> str:
    if v is None:
        return "-"
    text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


@policy_app.command("diff")
def diff(a: FileArg, b: FileArg, as_json: JsonOpt = False) -> None:
    """Validate A and B, then list the YAML paths added, removed and changed from A to B with
    old → new values, and both version hashes."""
    pa, pb = _checked(a, as_json), _checked(b, as_json)
    changes = yaml_diff(yaml.safe_load(a.read_bytes()), yaml.safe_load(b.read_bytes()))
    if as_json:
        _out({"a": _about(a, pa), "b": _about(b, pb), "same_hash":
              pa.version_hash == pb.version_hash, "changes": changes, "count": len(changes)})
        return
    console.print(f"A {a}: {pa.name} {pa.version} ({pa.version_hash})\n"
                  f"B {b}: {pb.name} {pb.version} ({pb.version_hash})", highlight=False)
    if not changes:
        console.print("No structural difference.")
        return
    table = Table("path", "change", "A → B", box=box.SIMPLE,
                  title=f"{len(changes)} difference(s)")
    for c in changes:
        text = {"added": f"+ {_show(c['new'])}", "removed": f"- {_show(c['old'])}",
                "changed": f"{_show(c['old'], 34)} → {_show(c['new'], 34)}"}[c["change"]]
        table.add_row(c["path"], c["change"], text)
    Console().print(_fold(table))


def _fold(table: Table) -> Table:
    """Long YAML paths and list names wrap in narrow terminals instead of being cut short."""
    for column in table.columns:
        column.overflow = "fold"
    return table


# ---------------------------------------------------------------------------------- what-if
def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.2%}"


def _ratio(side: dict[str, Any], flagged: bool) -> str:
    r = side["ratio"]
    if r is None:
        return "-"
    return f"[bold red]{r:.2f} ![/]" if flagged else f"{r:.2f}"


def print_what_if(report: dict[str, Any]) -> None:
    """Render :func:`socialcredit.policy.whatif.compare`'s report as Rich tables (stdout)."""
    out = Console()
    new, cur = report["new"], report["current"]
    out.print(f"What-if as of {report['as_of']} ({new['engine']}; nothing written)\n"
              f"  NEW     {new['name']} {new['version']} ({new['version_hash']})\n"
              f"  CURRENT {cur['name']} {cur['version']} ({cur['version_hash']})",
              highlight=False)
    t = Table("list", "active CURRENT", "active NEW", "added", "removed", "dates changed",
              "subjects C → N", "warned C → N", "exempt C → N", "pending C → N",
              title="Entries", box=box.SIMPLE)
    for name, c in report["lists"].items():
        s = c["status"]

        def pair(status: str, s: dict[str, Any] = s) -> str:
            return f"{s['current'].get(status, 0):,} → {s['new'].get(status, 0):,}"

        t.add_row(name, f"{s['current'].get('active', 0):,}", f"{s['new'].get('active', 0):,}",
                  f"+{c['added']:,}", f"-{c['removed']:,}", f"{c['dates_changed']:,}",
                  f"{c['subjects']['current']:,} → {c['subjects']['new']:,}",
                  pair("warned"), pair("exempt"), pair("pending_review"))
    out.print(_fold(t))
    t = Table("service", "platform", "refused CURRENT", "refused NEW", "NEW only",
              "CURRENT only", title="Refusals (subjects)", box=box.SIMPLE)
    for r in report["refusals"]:
        t.add_row(r["service"], r["platform"] or "all", f"{r['refused']['current']:,}",
                  f"{r['refused']['new']:,}", f"+{r['new_only']:,}", f"-{r['current_only']:,}")
    out.print(_fold(t))
    dec = report["decisions"]
    if dec["by_service"]:
        t = Table("service", "logged refusals", "NEW would allow", "CURRENT would allow",
                  "flip (CURRENT refuses, NEW allows)",
                  title=f"Gate refusals logged in the last {dec['window_days']} days",
                  box=box.SIMPLE)
        for svc, c in dec["by_service"].items():
            t.add_row(svc, f"{c['denied']:,}", f"{c['allow_under_new']:,}",
                      f"{c['allow_under_current']:,}", f"{c['flip']:,}")
        out.print(_fold(t))
    else:
        out.print(f"No gate refusals logged in the last {dec['window_days']} days.")
    for name, sc in report["scores"].items():
        t = Table("grade", "CURRENT", "NEW", "change", box=box.SIMPLE,
                  title=f"Score {name}: {sc['scored']['current']:,} → "
                        f"{sc['scored']['new']:,} subjects scored, {sc['grade_changed']:,} "
                        "change grade")
        for grade, g in sc["grades"].items():
            t.add_row(grade, f"{g['current']:,}", f"{g['new']:,}", f"{g['change']:+,}")
        out.print(_fold(t))
    di = report["disparate_impact"]
    if not di["population"]:
        out.print("Disparate impact: no subject with a valid CN resident ID.")
        return
    lo, hi = di["band"]
    t = Table("group", "", "population", "rate CURRENT", "ratio", "rate NEW", "ratio",
              box=box.SIMPLE, title=f"Disparate impact: listing rate by group and its ratio "
                                    f"to the overall rate (flag ! outside {lo}–{hi}, four-"
                                    "fifths rule, 29 CFR 1607.4(D))")
    ov = di["overall"]
    t.add_row("overall", "", f"{di['population']:,}", _pct(ov["current"]["rate"]), "1.00",
              _pct(ov["new"]["rate"]), "1.00")
    for dim, rows in di["groups"].items():
        for row in rows:
            t.add_row(dim, row["label"] + (" (small)" if row["small"] else ""),
                      f"{row['population']:,}",
                      _pct(row["current"]["rate"]),
                      _ratio(row["current"], "current" in row["flagged"]),
                      _pct(row["new"]["rate"]), _ratio(row["new"], "new" in row["flagged"]))
    out.print(_fold(t))
    out.print(f"(small: a group of fewer than {SMALL_GROUP} people, where a rate differs by "
              "chance; 29 CFR 1607.4(D) discounts differences based on small numbers.)")
    if di["invalid_ids"]:
        out.print(f"({di['invalid_ids']:,} subjects' national IDs are not valid CN resident "
                  "IDs and are left out.)")
