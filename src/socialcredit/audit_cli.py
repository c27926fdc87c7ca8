"""``socialcredit audit replay | verify-proof | monitor`` (issue #15): a registry anyone can
verify.

* ``audit replay`` rebuilds every projection from the ledger alone into a scratch database and
  compares it with the live tables (:mod:`socialcredit.store.replay`); exit 1 naming the first
  differing row.

:func:`register` adds the commands to the ``audit`` Typer app of :mod:`socialcredit.cli`.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from socialcredit.errors import ProjectionMismatch

__all__ = ["register"]


def register(audit_app: typer.Typer) -> None:
    """Add this module's commands to ``audit_app``."""
    audit_app.command("replay")(audit_replay)


def audit_replay(as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
                 ) -> None:
    """Rebuild every projection from the ledger alone into a scratch database (a SQLite file,
    or a PostgreSQL schema) and compare it with the live tables; name the first differing row
    (exit 1)."""
    from socialcredit.cli import _out, _registry, console
    from socialcredit.store.replay import replay

    reg = _registry(create=False)
    try:
        public = {name: spec.public for name, spec in reg.policy.lists.items()}
        result = replay(reg.store, list_public=public)
    finally:
        reg.close()
    diff = result.first_difference
    if as_json:
        _out(result.to_dict())
    else:
        _print(console, result)
    if diff is not None:
        raise ProjectionMismatch(
            f"projection tampered or out of step with the ledger: {diff.describe()}",
            details={"table": diff.table, "key": diff.key, "column": diff.column})


def _print(console: Any, result: Any) -> None:
    table = Table("table", "replayed rows", "live rows", "result",
                  title=f"Replay of {result.events:,} events ({result.scratch}, "
                        f"{result.events_per_second:,.0f} events/s)")
    for t in result.tables:
        table.add_row(t.table, f"{t.rows:,}", f"{t.live_rows:,}",
                      "[green]same[/]" if t.difference is None
                      else f"[red]{t.difference.describe()}[/]")
    console.print(table)
    for title, items in (("Not projections of the ledger", result.not_projections),
                         ("Projections not replayed yet", result.not_yet_replayed),
                         ("Columns not compared", result.not_compared)):
        console.print(f"[bold]{title}[/]:")
        for name, why in items.items():
            console.print(f"  {name}: {why}", highlight=False)
    if result.unknown_event_types:
        console.print("Event types the replay does not know: "
                      + ", ".join(result.unknown_event_types))
