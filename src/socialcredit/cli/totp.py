"""``socialcredit operators totp NAME [--remove]``: the operator's authenticator code for the
console (:mod:`socialcredit.api.totp`), registered on the ``operators`` group by
:mod:`socialcredit.cli`."""

from __future__ import annotations

from typing import Annotated

import typer

from socialcredit.cli import common
from socialcredit.cli.common import console, err_console

__all__ = ["operators_totp"]


def operators_totp(name: str, remove: Annotated[bool, typer.Option(
        "--remove", help="Stop asking this operator for a code.")] = False) -> None:
    """Ask operator NAME for an authenticator code (TOTP) at the console's sign-in: prints the
    secret and its otpauth:// URI once (a new one replaces the old)."""
    from socialcredit.api import totp

    store = common.registry().store
    if remove:
        console.print("removed" if totp.remove(store, name=name) else "nothing to remove")
        return
    secret, uri = totp.enrol(store, name=name)
    err_console.print(f"Authenticator secret for {name!r} (shown once; add it to an app):")
    typer.echo(secret)
    typer.echo(uri)
