"""``socialcredit policy …`` (check a policy file, compare two; issue #4) and ``socialcredit
evaluate`` (run the policy on the registry, or compare two policies on it).

* ``policy validate FILE`` prints the policy's version, version hash (``sha256:`` of the file
  bytes, written on every ledger event evaluation causes), the number of lists, scores and
  sanctions, and every warning (YAML path and message); exit 0. An invalid file prints every
  problem with its YAML path, line and reason and exits 1 (a ``ConfigError``, as everywhere in
  :mod:`socialcredit.cli`).
* ``policy diff A B`` validates both files, then prints the structural difference: YAML paths
  added, removed or changed, with old → new values (``lists.repeat_fare_evaders.criteria.
  at_least: 3 → 2``), and both version hashes.
* ``evaluate`` evaluates the policy for every subject as of today
  (:func:`socialcredit.policy.sweeps.evaluate_all`); ``evaluate --policy NEW --compare
  CURRENT`` reports what would change (:mod:`socialcredit.reports.whatif`, printed by
  :func:`socialcredit.cli.whatif.print_what_if`) and writes nothing.

:mod:`socialcredit.cli` registers ``policy_app`` as ``socialcredit policy`` and
:func:`evaluate` on the root app.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich import box
from rich.table import Table

from socialcredit.cli import common
from socialcredit.cli.common import AsOfOpt, JsonOpt, console, err_console
from socialcredit.cli.whatif import fold, print_what_if
from socialcredit.errors import ConfigError, InputError
from socialcredit.policy.diff import yaml_diff
from socialcredit.policy.model import (
    Policy,
    line_of,
    load_policy,
    resolve_policy_path,
    yaml_lines,
)

__all__ = ["evaluate", "policy_app"]

policy_app = typer.Typer(no_args_is_help=True, help="Validate a policy file; diff two.")

FileArg = Annotated[Path, typer.Argument(
    help="Policy YAML file, or a shipped policy's name (default, strict, us).",
    show_default=False, parser=lambda v: resolve_policy_path(v))]


def _checked(path: Path, as_json: bool) -> Policy:
    """The validated policy, or every problem printed and a ConfigError (exit 1)."""
    try:
        return load_policy(path)
    except ConfigError as e:
        problems = e.details.get("problems")
        if not problems:
            raise  # unreadable or not YAML: one message
        if as_json:
            common.out({"ok": False, "file": str(path), "problems": problems,
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
        common.out({"ok": True, **_about(file, policy), "counts": counts, "warnings": warnings})
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
        common.out({"a": _about(a, pa), "b": _about(b, pb), "same_hash":
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
    common.make_console().print(fold(table))


def evaluate(
    as_of: AsOfOpt = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Compute what would change and write nothing.")] = False,
    policy: Annotated[Path | None, typer.Option(
        "--policy", metavar="NEW", help="The policy to evaluate (default: the registry's, "
                                        "from the global --policy or SOCIALCREDIT_POLICY_PATH"
                                        "); with --compare, the candidate.")] = None,
    compare: Annotated[Path | None, typer.Option(
        "--compare", metavar="CURRENT", help="What-if: compare the policy (NEW) with this one "
                                             "on the registry's records; writes nothing.")
                       ] = None,
    engine: Annotated[str | None, typer.Option(
        help="incremental (default: per subject, in the database) | python | duckdb | spark "
             "(over a Parquet export); with --compare: duckdb (default) | python | spark.")
                      ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate the policy for every subject as of today (expiry, removals), or compare two
    policies (--compare).

    The registry's state is written only as of today: another date would pre-empt the clock
    (a future date) or withdraw entries whose records came later (a past date), so any other
    ``--as-of`` needs ``--dry-run``, which reports what would change and writes nothing.

    ``evaluate --policy NEW --compare CURRENT`` writes nothing at any ``--as-of``: it reports
    entries added and removed per list, refusals that would change (and logged gate refusals
    that would flip), score grade shifts and a disparate-impact table by region, age band and
    sex (see socialcredit.reports.whatif).
    """
    day = common.as_of(as_of)
    if policy is not None:
        common.state.policy = policy  # the same as the global --policy, for this command
    if compare is not None:
        _what_if(compare, day, engine or "duckdb", as_json)
        return
    from socialcredit.policy.sweeps import evaluate_all

    engine = engine or "incremental"
    if engine not in ("incremental", "python", "duckdb", "spark"):
        raise InputError(f"--engine {engine!r}: use incremental, python, duckdb or spark")
    today = common.today()
    if day != today and not dry_run:
        raise InputError(f"--as-of {day} is not today ({today}): the registry is evaluated "
                         "only as of today; add --dry-run to preview that date")
    reg = common.registry(today=day)
    stats = evaluate_all(reg.store, reg.policy, day, dry_run=dry_run,
                         engine=engine)  # type: ignore[arg-type]
    if as_json:
        common.out({"as_of": day.isoformat(), "dry_run": dry_run, "engine": engine,
                    **stats.as_dict()})
    else:
        verb = "would be" if dry_run else "were"
        console.print(f"Evaluated {stats.subjects:,} subjects as of {day}; entries that {verb} "
                      f"listed {dict(stats.listed)}, removed {dict(stats.removed)}, expired "
                      f"{dict(stats.expired)}, updated {stats.updated}.")
        common.say_already_ended(stats.as_dict())


def _what_if(compare: Path, day: dt.date, engine: str, as_json: bool) -> None:
    """``evaluate --policy NEW --compare CURRENT``: read-only; see socialcredit.reports.whatif."""
    from socialcredit.reports.whatif import what_if

    if engine == "incremental":
        engine = "python"  # the same rules in this process
    if engine not in ("python", "duckdb", "spark"):
        raise InputError(f"--engine {engine!r}: use duckdb, python or spark with --compare")
    current = load_policy(compare)
    reg = common.registry(today=day)
    try:
        report = what_if(reg.store, reg.policy, current, day,
                         engine=engine)  # type: ignore[arg-type]
    except ImportError as e:  # the engine's extra (pyspark, duckdb) is not installed
        raise ConfigError(f"--engine {engine}: {e}") from e
    finally:
        reg.close()
    if as_json:
        common.out(report)
    else:
        print_what_if(report)
