"""Rich tables for the CLI: the what-if report of ``socialcredit evaluate --policy NEW
--compare CURRENT`` (:func:`print_what_if`) and :func:`fold`, which lets long YAML paths and
list names wrap.

A rendering helper of :mod:`socialcredit.cli.policy`; it defines no command.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table

from socialcredit.cli import common

__all__ = ["fold", "print_what_if"]


def fold(table: Table) -> Table:
    """Long YAML paths and list names wrap in narrow terminals instead of being cut short."""
    for column in table.columns:
        column.overflow = "fold"
    return table


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.2%}"


def _ratio(side: dict[str, Any], flagged: bool) -> str:
    r = side["ratio"]
    if r is None:
        return "-"
    return f"[bold red]{r:.2f} ![/]" if flagged else f"{r:.2f}"


def print_what_if(report: dict[str, Any]) -> None:
    """Render :func:`socialcredit.reports.whatif.compare`'s report as Rich tables (stdout)."""
    out = common.make_console()
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
    out.print(fold(t))
    t = Table("service", "platform", "refused CURRENT", "refused NEW", "NEW only",
              "CURRENT only", title="Refusals (subjects)", box=box.SIMPLE)
    for r in report["refusals"]:
        t.add_row(r["service"], r["platform"] or "all", f"{r['refused']['current']:,}",
                  f"{r['refused']['new']:,}", f"+{r['new_only']:,}", f"-{r['current_only']:,}")
    out.print(fold(t))
    dec = report["decisions"]
    if dec["by_service"]:
        t = Table("service", "logged refusals", "NEW would allow", "CURRENT would allow",
                  "flip (CURRENT refuses, NEW allows)",
                  title=f"Gate refusals logged in the last {dec['window_days']} days",
                  box=box.SIMPLE)
        for svc, c in dec["by_service"].items():
            t.add_row(svc, f"{c['denied']:,}", f"{c['allow_under_new']:,}",
                      f"{c['allow_under_current']:,}", f"{c['flip']:,}")
        out.print(fold(t))
    else:
        out.print(f"No gate refusals logged in the last {dec['window_days']} days.")
    for name, sc in report["scores"].items():
        t = Table("grade", "CURRENT", "NEW", "change", box=box.SIMPLE,
                  title=f"Score {name}: {sc['scored']['current']:,} → "
                        f"{sc['scored']['new']:,} subjects scored; of those scored under both, "
                        f"{sc['grade_changed']:,} change grade; {sc['score_lost']:,} lose "
                        f"their score, {sc['score_gained']:,} gain one (rows count people "
                        "per grade)")
        for grade, g in sc["grades"].items():
            t.add_row(grade, f"{g['current']:,}", f"{g['new']:,}", f"{g['change']:+,}")
        out.print(fold(t))
    di = report["disparate_impact"]
    if not di["population"]:
        out.print("Disparate impact: no subject with a valid national ID.")
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
    out.print(fold(t))
    from socialcredit.reports.whatif import SMALL_GROUP  # lazily: `--help` loads no store

    out.print(f"(small: a group of fewer than {SMALL_GROUP} people, where a rate differs by "
              "chance; 29 CFR 1607.4(D) discounts differences based on small numbers.)")
    for dim, why in di.get("unavailable", {}).items():
        out.print(f"(no {dim} groups: {why})")
    for dim, n in di.get("missing", {}).items():
        if n:
            out.print(f"({n:,} people have no {dim} in the data ({di['dimensions'][dim]}) and "
                      "count only in the overall rate.)")
    if di["invalid_ids"]:
        out.print(f"({di['invalid_ids']:,} subjects' national IDs are not valid CN resident "
                  "IDs and are left out.)")
