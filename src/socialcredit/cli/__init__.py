"""The ``socialcredit`` command line (Typer + Rich).

Every command exits 0 on success and non-zero with one clear message on error (exit 1; usage
errors 2); ``check`` exits 0 for allow, 3 for deny and 4 for review. ``--json`` prints one JSON
object and no progress bar.

This module builds the app (:data:`app`, with the global options ``--database-url`` and
``--policy``) from one module per command group and gives the console script :func:`main`:

* :mod:`~socialcredit.cli.common`: consoles, ``--json`` / ``--as-of``, the configured registry;
* :mod:`~socialcredit.cli.intake`: ``init``, ``ingest``;
* :mod:`~socialcredit.cli.policy`: ``policy validate|diff``, ``evaluate`` (what-if tables in
  :mod:`~socialcredit.cli.whatif`);
* :mod:`~socialcredit.cli.gate`: ``check``, ``gates export|verify-snapshot|check-snapshot``;
* :mod:`~socialcredit.cli.keys`: ``furnishers|gates|operators add|list|key|revoke``;
* :mod:`~socialcredit.cli.totp`: ``operators totp``;
* :mod:`~socialcredit.cli.link`: ``link`` and its review commands;
* :mod:`~socialcredit.cli.contact`: ``contact flagged|set``;
* :mod:`~socialcredit.cli.screen`: ``lists import``, ``screen``;
* :mod:`~socialcredit.cli.audit`: ``audit verify|replay|verify-proof|monitor``;
* :mod:`~socialcredit.cli.ops`: ``clocks run``, ``report``, ``serve``, ``backup``, ``restore``;
* :mod:`~socialcredit.cli.demo`: ``simulate``, ``demo`` (the run itself in
  :mod:`~socialcredit.cli.demo_run`).

The command modules import :mod:`~socialcredit.cli.common` and never each other; only this
module imports them (no cycle, kept by the import-linter contracts in ``pyproject.toml``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape

from socialcredit.cli import (
    audit,
    contact,
    demo,
    gate,
    intake,
    keys,
    link,
    ops,
    policy,
    screen,
    totp,
)
from socialcredit.cli.common import err_console, state
from socialcredit.errors import InputError, SocialCreditError

__all__ = ["app", "main"]

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="socialcredit: a social credit registry with due process.")
furnishers_app = typer.Typer(no_args_is_help=True, help="Register and list furnishers.")
gates_app = typer.Typer(no_args_is_help=True, help="Register and list service gates.")
operators_app = typer.Typer(no_args_is_help=True, help="Operator keys.")
lists_app = typer.Typer(no_args_is_help=True, help="External lists (OFAC SDN, UN).")
audit_app = typer.Typer(no_args_is_help=True, help="Audit the ledger.")
clocks_app = typer.Typer(no_args_is_help=True, help="Due-process clocks: dispute deadlines, "
                                                    "retention, notices.")
for sub, name in ((furnishers_app, "furnishers"), (gates_app, "gates"),
                  (operators_app, "operators"), (lists_app, "lists"), (audit_app, "audit"),
                  (clocks_app, "clocks")):
    app.add_typer(sub, name=name)


@app.callback()
def _root(
    database_url: Annotated[str | None, typer.Option(
        "--database-url", envvar="SOCIALCREDIT_DATABASE_URL",
        help="Store URL (default sqlite:///./var/registry.db).")] = None,
    policy: Annotated[Path | None, typer.Option(
        "--policy", envvar="SOCIALCREDIT_POLICY_PATH", help="Policy YAML file.")] = None,
) -> None:
    state.database_url, state.policy = database_url, policy


# the order of registration is the order of `socialcredit --help` and docs/cli.md
app.command()(intake.init)
app.command()(intake.ingest)

furnishers_app.add_typer(keys.furnishers)
gates_app.add_typer(keys.gates)
gates_app.add_typer(gate.gates)
operators_app.add_typer(keys.operators)
clocks_app.add_typer(ops.clocks)
operators_app.command("totp")(totp.operators_totp)

audit.register(audit_app)

app.add_typer(link.link_app, name="link")
app.add_typer(policy.policy_app, name="policy")
app.add_typer(contact.contact_app, name="contact")
lists_app.command("import")(screen.lists_import)
lists_app.command("clear")(screen.lists_clear)
app.command("screen")(screen.screen_cmd)
app.command()(policy.evaluate)
app.command()(gate.check)
app.add_typer(ops.root)  # report, serve, backup, restore
app.add_typer(demo.root)  # simulate, demo


def _fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[red]error:[/] {escape(message)}", highlight=False)
    sys.exit(code)


def main() -> None:
    """Console-script entry point: one clear message per error, no traceback.

    Usage errors (unknown option, bad value) are reported by Typer itself with exit code 2.
    """
    try:
        app()
    except SocialCreditError as e:
        _fail(e.message, 2 if isinstance(e, InputError) else 1)
    except KeyboardInterrupt:
        _fail("aborted", 130)
