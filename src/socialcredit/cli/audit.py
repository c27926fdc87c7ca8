"""``socialcredit audit verify | replay | verify-proof | monitor`` (issue #15): a registry
anyone can verify.

* ``audit verify`` recomputes the ledger's hash chain; exit 1 naming the first broken event.
* ``audit replay`` rebuilds every projection from the ledger alone into a scratch database and
  compares it with the live tables (:mod:`socialcredit.store.replay`); exit 1 naming the first
  differing row.
* ``audit verify-proof FILE`` checks a receipt (or a file of receipts, as ``/v1/me/receipts``
  gives them) offline with only the registry's public key (:mod:`socialcredit.store.tree_head`).
* ``audit monitor --url URL`` fetches the registry's signed heads over time and checks each
  extends the last (:mod:`socialcredit.store.monitor`); exit 1 with both heads on a fork.

:func:`register` adds the commands to the ``audit`` Typer app of :mod:`socialcredit.cli`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from socialcredit.cli import common
from socialcredit.cli.common import console
from socialcredit.errors import InputError, ProjectionMismatch

__all__ = ["register"]


def register(audit_app: typer.Typer) -> None:
    """Add this module's commands to ``audit_app``."""
    audit_app.command("replay")(audit_replay)
    audit_app.command("verify-proof")(audit_verify_proof)
    audit_app.command("monitor")(audit_monitor)
    audit_app.command("verify")(audit_verify)


def audit_verify(as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
                 ) -> None:
    """Recompute the ledger's hash chain; name the first broken event (exit 1 if broken)."""
    result = common.registry(create=False).store.verify()
    if as_json:
        common.out(result.__dict__)
    elif result.ok:
        console.print(f"Ledger verified: {result.events:,} events, head {result.head_hash}.")
    if not result.ok:
        result.raise_if_broken()


def audit_replay(as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
                 ) -> None:
    """Rebuild every projection from the ledger alone into a scratch database (a SQLite file,
    or a PostgreSQL schema) and compare it with the live tables; name the first differing row
    (exit 1)."""
    from socialcredit.store.replay import replay

    reg = common.registry(create=False)
    try:
        public = {name: spec.public for name, spec in reg.policy.lists.items()}
        result = replay(reg.store, list_public=public,
                        adverse_kinds=reg.policy.adverse_kinds())
    finally:
        reg.close()
    diff = result.first_difference
    if as_json:
        common.out(result.to_dict())
    else:
        _print(result)
    if diff is not None:
        raise ProjectionMismatch(
            f"projection tampered or out of step with the ledger: {diff.describe()}",
            details={"table": diff.table, "key": diff.key, "column": diff.column})


def _print(result: Any) -> None:
    table = Table("table", "replayed rows", "live rows", "result",
                  title=f"Replay of {result.events:,} events ("
                        f"{result.events_per_second:,.0f} events/s; scratch copy: "
                        f"{result.scratch})")
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
    if result.taken_from_live:
        console.print("[bold]Cells an older ledger cannot give back, taken from the live "
                      "rows[/]: " + ", ".join(f"{k} ({v:,})"
                                             for k, v in result.taken_from_live.items()),
                      highlight=False)
    if result.unknown_event_types:
        console.print("Event types the replay does not know: "
                      + ", ".join(result.unknown_event_types))


def audit_verify_proof(
    receipt_file: Path = typer.Argument(..., help="A receipt (JSON), or the answer of "
                                        "GET /v1/me/receipts (every receipt in it)."),
    public_key: Path | None = typer.Option(
        None, "--public-key", help="The registry's public key (PEM); default: the one in "
                                   "SOCIALCREDIT_KEYS_DIR."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Check receipts offline: the tree head's signature (and that it is this registry's),
    the event's hash from its fields, and the inclusion proof to the head's root. Exit 2 if
    any fails, naming why."""
    from socialcredit.gate.offline import public_key_path
    from socialcredit.store.tree_head import load_public_key, verify_receipt

    key_file = public_key or public_key_path(common.settings().keys_dir)
    try:
        key = load_public_key(key_file.read_bytes())
        data = json.loads(receipt_file.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(f"cannot read {e.filename}: {e.strerror}") from e
    except ValueError as e:
        raise InputError(f"{receipt_file} is not JSON: {e}") from e
    receipts = data["receipts"] if isinstance(data, dict) and "receipts" in data else [data]
    checked = []
    for r in receipts:
        ev = verify_receipt(r, key)
        checked.append({"seq": ev["seq"], "type": ev["type"], "at": ev["at"],
                        "tree_size": r["head"]["tree_size"],
                        "head_signed_at": r["head"]["timestamp"]})
    if as_json:
        common.out({"valid": True, "receipts": checked})
        return
    for c in checked:
        console.print(f"valid: event {c['seq']} ({c['type']}, {c['at']}) is in the ledger "
                      f"under the head of {c['tree_size']:,} events signed {c['head_signed_at']}",
                      highlight=False)


def audit_monitor(
    url: str = typer.Option(..., "--url", help="The registry's base URL."),
    state: Path = typer.Option(Path("var/monitor.json"), "--state",
                               help="Where the pinned key and the last verified head are kept."),
    public_key: Path | None = typer.Option(
        None, "--public-key", help="The registry's public key (PEM); default: pinned on first "
                                   "contact."),
    count: int = typer.Option(1, min=1, help="Heads to fetch (one per --interval)."),
    interval: float = typer.Option(60.0, min=0.0, help="Seconds between fetches."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Fetch the registry's latest signed tree head and check it extends the last one seen
    (consistency proof); a rewritten, forked or rolled-back ledger exits 1 with both heads."""
    from socialcredit.store.monitor import LedgerForked, check_once

    pem = public_key.read_bytes() if public_key is not None else None
    seen = []
    for i in range(count):
        if i:
            time.sleep(interval)
        try:
            step = check_once(url, state, public_key_pem=pem)
        except LedgerForked as e:  # the evidence first: both heads, each signed
            common.out({"ok": False, "reason": e.details.get("reason"),
                  "older": e.details.get("older"), "newer": e.details.get("newer")})
            raise
        seen.append(step.head)
        if not as_json:
            before = ("first head seen" if step.previous is None else
                      f"consistent with the head of {step.previous['tree_size']:,}")
            console.print(f"head of {step.head['tree_size']:,} events, root "
                          f"{step.head['root_hash'][:16]}…, signed {step.head['timestamp']}: "
                          f"{before}", highlight=False)
    if as_json:
        common.out({"ok": True, "heads": seen})
