"""``socialcredit contact …``: the operator's side of a subject's trusted contact channel.

* ``contact flagged`` lists channels furnisher data put in doubt (an inferred recycling);
* ``contact set SUBJECT_ID PHONE --evidence "…"`` sets or confirms a subject's channel after an
  identity check (a ``contact.channel_changed`` ledger event; the old phone is told).

Recorded as made by ``cli:<OS user name>``. Registered by :mod:`socialcredit.cli`.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from socialcredit.cli import common
from socialcredit.cli.common import JsonOpt, console

__all__ = ["contact_app"]

contact_app = typer.Typer(no_args_is_help=True, help=(
    "Where a subject's codes and notices go: flagged channels, operator changes after an "
    "identity check."))


@contact_app.command("flagged")
def flagged_cmd(json_: JsonOpt = False) -> None:
    """List channels furnisher data put in doubt, for an operator to confirm or change."""
    from socialcredit.disclosure.contact import flagged

    reg = common.registry()
    try:
        data = flagged(reg.store)
    finally:
        reg.close()
    if json_:
        common.out({"data": data, "count": len(data)})
        return
    table = Table("subject", "phone", "reason", "flagged at", title=f"{len(data)} flagged")
    for d in data:
        table.add_row(str(d["subject_id"]), escape(str(d["phone"])), escape(str(d["reason"])),
                      str(d["flagged_at"]))
    console.print(table)


@contact_app.command("set")
def set_cmd(
    subject_id: Annotated[int, typer.Argument(help="The subject's id.")],
    phone: Annotated[str, typer.Argument(help="The phone checked to be theirs.")],
    evidence: Annotated[str, typer.Option("--evidence", help="The identity check made "
                                          "(kept in the ledger).")],
    json_: JsonOpt = False,
) -> None:
    """Set or confirm a subject's channel after an identity check."""
    from socialcredit.disclosure.contact import operator_set_channel

    reg = common.registry()
    try:
        out = operator_set_channel(reg.store, reg.policy, subject_id=subject_id, phone=phone,
                                   operator=common.by(), evidence=evidence)
    finally:
        reg.close()
    if json_:
        common.out(out)
        return
    verb = "now go to" if out["changed"] else "confirmed as"
    console.print(f"Subject {subject_id}: codes and notices {verb} {escape(str(out['phone']))}")
