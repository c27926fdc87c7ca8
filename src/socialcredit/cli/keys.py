"""``socialcredit furnishers|gates|operators add|list|key|revoke``: who may call the registry.

A new key is the one line on stdout (``KEY=$(socialcredit furnishers add …)`` keeps it); the
note saying it is shown once goes to stderr.

:mod:`socialcredit.cli` adds ``furnishers``, ``gates`` and ``operators`` (Typer apps without a
name, so their commands merge) to the command groups of those names, defined there.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from socialcredit.cli import common
from socialcredit.cli.common import JsonOpt, console, err_console
from socialcredit.policy.model import FURNISHER_KINDS

if TYPE_CHECKING:
    from socialcredit.api.keys import Role

__all__ = ["furnishers", "gates", "operators"]

furnishers: typer.Typer = typer.Typer()
gates: typer.Typer = typer.Typer()
operators: typer.Typer = typer.Typer()


def _keys() -> ModuleType:
    """The principals and keys, imported when a command runs (``--help`` loads no store)."""
    from socialcredit.api import keys

    return keys


@furnishers.command("add")
def furnishers_add(
    name: str,
    kind: Annotated[str, typer.Option(help="|".join(FURNISHER_KINDS))],
) -> None:
    """Register a furnisher and print its API key (shown once)."""
    key = _keys().add_furnisher(common.registry().store, name=name, kind=kind)
    err_console.print(f"Furnisher {name!r} registered. API key (shown once, store it now):")
    typer.echo(key)


@furnishers.command("list")
def furnishers_list(as_json: JsonOpt = False) -> None:
    """List registered furnishers."""
    rows = _keys().list_furnishers(common.registry().store)
    if as_json:
        common.out({"data": rows, "count": len(rows)})
        return
    table = Table("id", "name", "kind", "registered")
    for r in rows:
        table.add_row(str(r["id"]), str(r["name"]), str(r["kind"]), str(r["created_at"]))
    common.make_console().print(table)


@furnishers.command("alias")
def furnishers_alias(
    name: str,
    aliases: Annotated[list[str] | None, typer.Argument(
        help="Other names of the furnisher (its legal name, a trading name), as a "
             "collector's or debt buyer's report names it as the original creditor.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register other names of a furnisher (ledger event furnisher.alias_added), matched
    after normalisation (case, spaces, punctuation and legal form aside), so a report naming
    it as the original creditor by its legal name is its obligation; without ALIASES, list
    the furnisher's aliases. Exit 1 if an alias already names another furnisher."""
    from socialcredit.ingest.creditors import add_alias, list_aliases

    store = common.registry().store
    added = [add_alias(store, furnisher=name, alias=a) for a in aliases or []]
    held = [a for a in list_aliases(store) if a["furnisher"] == name]
    if as_json:
        common.out({"data": held, "count": len(held), "added": len(added)})
        return
    for a in held:
        console.print(f"{name}: {a['alias']} (matched as {a['key']!r})", highlight=False)
    if not held:
        console.print(f"Furnisher {name!r} has no alias.")


def _revoke(name: str, role: Role, as_json: bool) -> None:
    key_ids = _keys().revoke_key(common.registry().store, name=name, role=role)
    if as_json:
        common.out({"role": role, "name": name, "revoked_key_ids": key_ids, "count": len(key_ids)})
    elif key_ids:
        console.print(f"Revoked {len(key_ids)} key(s) of {role} {name!r}; running servers "
                      "refuse them within a second (one ledger follow, 200 ms by default).")
    else:
        console.print(f"{role.capitalize()} {name!r} has no live key: nothing to revoke.")


def _issue(name: str, role: Role) -> None:
    key = _keys().issue_key(common.registry().store, role=role, name=name)
    err_console.print(f"New API key for {role} {name!r} (shown once, store it now; older keys "
                      f"stay valid until `socialcredit {role}s revoke {name}`):")
    typer.echo(key)


@furnishers.command("key")
def furnishers_key(name: str) -> None:
    """Issue a new API key for a registered furnisher (after a revocation, or to rotate)."""
    _issue(name, "furnisher")


@gates.command("key")
def gates_key(name: str) -> None:
    """Issue a new API key for a registered gate (after a revocation, or to rotate)."""
    _issue(name, "gate")


@furnishers.command("revoke")
def furnishers_revoke(name: str, as_json: JsonOpt = False) -> None:
    """Revoke every API key of a furnisher (ledger event access.revoked); exit 1 if there is
    no furnisher of that name."""
    _revoke(name, "furnisher", as_json)


@gates.command("add")
def gates_add(
    name: str,
    services: Annotated[str, typer.Option(help="Comma-separated: air,rail_hsr,...")],
    platform: Annotated[str | None, typer.Option(
        help="Platform for platform-scoped sanctions (ride_hail).")] = None,
) -> None:
    """Register a gate for some services and print its API key (shown once)."""
    reg = common.registry()
    key = _keys().add_gate(reg.store, reg.policy, name=name, platform=platform,
                          services=[s.strip() for s in services.split(",") if s.strip()])
    err_console.print(f"Gate {name!r} registered. API key (shown once, store it now):")
    typer.echo(key)


@gates.command("list")
def gates_list(as_json: JsonOpt = False) -> None:
    """List registered gates."""
    rows = _keys().list_gates(common.registry().store)
    if as_json:
        common.out({"data": rows, "count": len(rows)})
        return
    table = Table("id", "name", "services", "platform")
    for r in rows:
        table.add_row(str(r["id"]), str(r["name"]), str(r["services"]), str(r["platform"] or ""))
    common.make_console().print(table)


@gates.command("revoke")
def gates_revoke(name: str, as_json: JsonOpt = False) -> None:
    """Revoke every API key of a gate (ledger event access.revoked); exit 1 if there is no
    gate of that name."""
    _revoke(name, "gate", as_json)


@operators.command("add")
def operators_add(name: str) -> None:
    """Create an operator API key (shown once)."""
    key = _keys().add_operator(common.registry().store, name=name)
    err_console.print(f"Operator key for {name!r} (shown once, store it now):")
    typer.echo(key)


@operators.command("revoke")
def operators_revoke(name: str, as_json: JsonOpt = False) -> None:
    """Revoke every API key of an operator (ledger event access.revoked); exit 1 if there is
    no operator of that name."""
    _revoke(name, "operator", as_json)
