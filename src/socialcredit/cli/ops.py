"""Running the registry: ``clocks run``, ``report``, ``serve``, ``backup``, ``restore``.

:mod:`socialcredit.cli` adds ``clocks`` to the ``clocks`` group and ``root`` to the root app
(Typer apps without a name, so their commands merge).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from socialcredit.cli import common
from socialcredit.cli.common import AsOfOpt, JsonOpt, console
from socialcredit.errors import ConfigError, InputError

if TYPE_CHECKING:  # the registry loads the gate (pandas, pypinyin): only when used
    pass

__all__ = ["clocks", "root"]

clocks: typer.Typer = typer.Typer()
root: typer.Typer = typer.Typer()


@clocks.command("run")
def clocks_run(as_json: JsonOpt = False) -> None:
    """Run the clocks once now: suppress records of disputes past their deadline, retire
    records past retention (once a day), project and serve the notices owed (SMTP when
    SOCIALCREDIT_SMTP_HOST is set, else SOCIALCREDIT_NOTICES_DIR/outbox.jsonl). `serve`
    does this every few seconds; run it from cron when no server runs."""
    from socialcredit.disclosure.clocks import tick
    from socialcredit.disclosure.delivery import adapter_for
    from socialcredit.gate.offline import signing_key

    reg = common.registry()
    try:
        result = tick(reg.store, reg.policy, adapter_for(reg.settings),
                      now=dt.datetime.now(dt.UTC), signer=signing_key(reg.settings.keys_dir))
    finally:
        reg.close()
    if as_json:
        common.out(result.as_dict())
        return
    console.print(f"disputes suppressed {result.suppressed:,}; records retired "
                  f"{result.retired:,}; notices added {result.notices_added:,}, served "
                  f"{result.served:,}, failed {result.failed:,}; tree head signed at "
                  f"{result.tree_size:,} events")


@root.command()
def report(
    out: Annotated[Path | None, typer.Option(help="Write index.html, charts and JSON here.")
                   ] = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Transparency report: subjects, records, entries by list, decisions by service."""
    from socialcredit.reports import summarise
    from socialcredit.web.report import render_report

    reg = common.registry()
    summary = summarise(reg.store, reg.policy, as_of=common.as_of(as_of))
    path = None
    if out is not None:
        path = render_report(summary, out, list_titles={n: s.title for n, s in
                                                       reg.policy.lists.items()},
                             service_labels=dict(reg.policy.services))
    if as_json:
        common.out({**summary, **({"report": str(path)} if path else {})})
        return
    console.print(f"Subjects {summary['subjects']:,}; records {summary['records']:,} "
                  f"({summary['unlinked_records']:,} unlinked); rejected rows "
                  f"{summary['rejected_rows']:,}; ledger events {summary['ledger_events']:,}")
    for lst, c in summary["entries"].items():
        console.print(f"  {lst}: {c['active']:,} active, {c['removed']:,} removed, "
                      f"{c['expired']:,} expired")
    for svc, c in summary["decisions"].items():
        console.print(f"  {svc}: {c['allow']:,} allowed, {c['deny']:,} refused, "
                      f"{c['review']:,} for review")
    due = summary["due_process"]
    console.print(f"  disputes: {due['disputes'] or 'none'}; human reviews: "
                  f"{due['reviews'] or 'none'}; notices: {due['notices']['on_time']:,} served "
                  f"on time, {due['notices']['late']:,} late, {due['notices']['pending']:,} "
                  "pending")
    if path:
        console.print(f"Report written to {path}")


@root.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help="Default 8000.")] = None,
    role: Annotated[str, typer.Option(
        help="all: every route; gate: a decision replica (decisions, /metrics, /healthz) "
             "following the ledger.")] = "all",
    log_level: Annotated[str, typer.Option(
        "--log-level", help="debug|info|warning|error. At info every request is logged "
                            "(method, path without its query string, status): never a key, "
                            "an identifier or a name.")] = "warning",
) -> None:
    """Serve the API, the public search page (/) and OpenAPI docs (/docs)."""
    import uvicorn
    from sqlalchemy.engine import make_url

    from socialcredit.api import create_app
    from socialcredit.api.logs import log_config

    if log_level not in ("debug", "info", "warning", "error"):
        raise InputError(f"--log-level {log_level!r}: use debug, info, warning or error")

    settings = common.settings()
    from socialcredit.api.registry import Registry

    reg = Registry(settings)
    if not reg.store.initialised():
        raise ConfigError(f"no registry at {reg.store.url}; create one with `socialcredit init` "
                          "or run `make demo` and `make serve`")
    reg.ensure_schema()
    app_ = create_app(registry=reg, role=role)
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    console.print(f"Serving ({role}) on http://{host or settings.host}:"
                  f"{port or settings.port}/ (database {where})")
    # proxy headers are believed from settings.trusted_proxies only (api/clients.py), not
    # from uvicorn's default of any loopback peer
    uvicorn.run(app_, host=host or settings.host, port=port or settings.port,
                log_level=log_level, log_config=log_config(log_level), proxy_headers=False)


@root.command("backup")
def backup_cmd(
    directory: Annotated[Path, typer.Argument(help="New or empty folder for the backup.")],
    schema: Annotated[str | None, typer.Option(
        help="PostgreSQL schema to dump (default: the URL's search_path, else public).")
                      ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Back the registry up into DIRECTORY: SQLite online backup (safe while serving) or
    pg_dump -Fc, plus manifest.json (ledger head, policy version, sha256 of each file)."""
    from socialcredit.store.backup import backup

    reg = common.registry()
    try:
        manifest = backup(reg.store, directory, schema=schema)
    finally:
        reg.close()
    if as_json:
        common.out({"directory": str(directory), **manifest.__dict__})
    else:
        console.print(f"Backed up {manifest.dialect} registry at ledger event "
                      f"{manifest.ledger_seq} (head {manifest.head_hash[:16]}…) into "
                      f"{directory}.")


@root.command("restore")
def restore_cmd(
    directory: Annotated[Path, typer.Argument(help="Folder written by `socialcredit backup`.")],
    force: Annotated[bool, typer.Option(
        "--force", help="Replace a target database that is not empty (everything in it, or "
                        "in its PostgreSQL schema, is dropped).")] = False,
    schema: Annotated[str | None, typer.Option(
        help="PostgreSQL schema to restore into (default: the URL's search_path, else "
             "public); must be the backup's.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Restore a backup into the configured (empty) database, verify the ledger's hash chain
    and check its head against the manifest."""
    from socialcredit.store import Store
    from socialcredit.store.backup import restore

    store = Store(common.settings().database_url)
    try:
        result = restore(store, directory, force=force, schema=schema)
    finally:
        store.dispose()
    m = result.manifest
    if as_json:
        common.out({"directory": str(directory), "events_verified": result.events, **m.__dict__})
    else:
        console.print(f"Restored {directory} (made {m.created_at}); ledger verified: "
                      f"{result.events:,} events, head {m.head_hash[:16]}… as in the manifest.")
