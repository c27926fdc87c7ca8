"""The ``socialcredit`` command line (Typer + Rich).

Every command exits 0 on success and non-zero with one clear message on error (exit 1; usage
errors 2); ``check`` exits 0 for allow, 3 for deny and 4 for review. ``--json`` prints one JSON
object and no progress bar.

The root app, its helpers and the commands of the intake and the gate (``init``, ``ingest``,
``evaluate``, ``check``); the other command groups live in their own modules
(``keys_cli``, ``snapshot_cli``, ``ops_cli``, ``demo_cli``, ``link_cli``, ``policy_cli``,
``audit_cli``, ``contact_cli``, ``screen_cli``, ``totp_cli``), imported below. Longer than
400 lines (405): the shared helpers (``_today``, ``_as_of``, ``_registry``) stay beside the
root app until this module is split into a package of one module per command group.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.engine import make_url

from socialcredit import access
from socialcredit.errors import ConfigError, InputError, SocialCreditError
from socialcredit.registry import Registry
from socialcredit.settings import Settings

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

#: Human output (results) goes to stdout, so `> file` keeps it; errors and progress go to
#: stderr (DESIGN §6).
console = Console()
err_console = Console(stderr=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Evaluate as of this ISO date "
                                             "(default: today in the policy's time zone).")]


class _State:
    database_url: str | None = None
    policy: Path | None = None


state = _State()


@app.callback()
def _root(
    database_url: Annotated[str | None, typer.Option(
        "--database-url", envvar="SOCIALCREDIT_DATABASE_URL",
        help="Store URL (default sqlite:///./var/registry.db).")] = None,
    policy: Annotated[Path | None, typer.Option(
        "--policy", envvar="SOCIALCREDIT_POLICY_PATH", help="Policy YAML file.")] = None,
) -> None:
    state.database_url, state.policy = database_url, policy


def _settings() -> Settings:
    overrides: dict[str, Any] = {}
    if state.database_url:
        overrides["database_url"] = state.database_url
    if state.policy:
        overrides["policy_path"] = state.policy
    return Settings(**overrides)


def _no_new_sqlite_file(url: str) -> None:
    """Raises ConfigError before SQLite would create an empty file at a mistyped path (a
    failed command must leave nothing behind)."""
    parsed = make_url(url)
    if (parsed.get_backend_name() == "sqlite" and parsed.database
            and parsed.database != ":memory:" and not parsed.database.startswith("file:")
            and not Path(parsed.database).exists()):
        raise ConfigError(f"no registry at {url}; create one with `socialcredit init` "
                          "(or check SOCIALCREDIT_DATABASE_URL)")


def _registry(*, today: dt.date | None = None, create: bool = False) -> Registry:
    """The configured registry. Only ``init`` (``create=True``) makes one: any other command
    on a database without a registry fails, so a mistyped URL can never answer "allow" from an
    empty registry. An existing registry is upgraded to the newest schema."""
    settings = _settings()
    if not create:
        _no_new_sqlite_file(settings.database_url)
    reg = Registry(settings, today=today)
    if not create and not reg.store.initialised():
        raise ConfigError(f"no registry at {reg.store.url}; create one with `socialcredit init` "
                          "(or check SOCIALCREDIT_DATABASE_URL)")
    reg.ensure_schema()
    return reg


def _today() -> dt.date:
    """Today in the configured policy's time zone (:mod:`socialcredit.policy.jurisdiction`)."""
    from socialcredit.policy import jurisdiction, model
    return jurisdiction.local_today(model.load_policy(_settings().policy_path).jurisdiction)


def _as_of(value: str | None) -> dt.date:
    if value is None:
        return _today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"--as-of {value!r} is not an ISO date (YYYY-MM-DD)") from None


def _out(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@contextmanager
def _bar(enabled: bool, label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A Rich progress bar on a terminal; a no-op in --json mode or when piped."""
    if not enabled or not err_console.is_terminal:
        yield lambda _n: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task(escape(label), total=total)  # a file name is not markup
        yield lambda n: bar.advance(task, n)


@app.command()
def init(as_json: JsonOpt = False) -> None:
    """Create or upgrade the registry's database schema (Alembic)."""
    reg = _registry(create=True)
    seq, head = reg.store.head()
    if as_json:
        _out({"database": reg.store.url, "ledger_seq": seq, "head_hash": head})
    else:
        from sqlalchemy import make_url

        console.print(f"Registry ready at "
                      f"{make_url(reg.store.url).render_as_string(hide_password=True)} "
                      f"(ledger at event {seq}).")


@app.command()
def ingest(
    files: Annotated[list[Path] | None, typer.Argument(help="CSV, JSON Lines or Parquet.")] = None,
    furnisher: Annotated[str | None, typer.Option(help="Registered furnisher name.")] = None,
    show_rejects: Annotated[bool, typer.Option(
        "--show-rejects", help="List quarantined rows (of --furnisher if given).")] = False,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest furnisher files: bad rows go to quarantine, good rows land, re-sending is a
    no-op."""
    day = _as_of(as_of)
    if day > _today():
        raise InputError(f"--as-of {day} is in the future: rows are checked and evaluated as "
                         "of today or an earlier date (to replay history)")
    reg = _registry(today=day)
    if show_rejects:
        _show_rejects(reg, furnisher, as_json)
        return
    if not files or not furnisher:
        raise InputError("give one or more FILES and --furnisher NAME (or --show-rejects)")
    fid = access.furnisher_id(reg.store, furnisher)
    from socialcredit.ingest.pipeline import ingest_file

    totals = {"accepted": 0, "rejected": 0, "duplicates": 0, "unlinked": 0}
    per_file = []
    for path in files:
        if path.is_dir():
            raise InputError(f"{path} is a folder; give the files in it (e.g. {path}/*.csv)")
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        lines = path.read_bytes().count(b"\n") if path.suffix != ".parquet" else None
        with _bar(not as_json, f"{path.name}", lines) as tick:
            result = ingest_file(reg.store, reg.policy, furnisher_id=fid, path=path, as_of=day,
                                 chunk_rows=reg.settings.ingest_batch_rows, progress=tick)
        for k in totals:
            totals[k] += getattr(result, k)
        per_file.append(result.as_dict())
    if as_json:
        _out({**totals, "files": per_file})
        return
    for r in per_file:
        # furnisher text (file names, kinds, values in reasons) is never read as markup
        console.print(f"{escape(str(r['source']))}: {r['accepted']:,} accepted, "
                      f"{r['rejected']:,} rejected, "
                      f"{r['duplicates']:,} duplicates, {r['unlinked']:,} unlinked")
        for p in r["problems"][:20]:
            console.print(f"  line {p['line']}: {escape(str(p['field'] or '(row)'))}: "
                          f"{escape(str(p['reason']))}")
        if len(r["problems"]) > 20:
            console.print("  … see `socialcredit ingest --show-rejects`")
        if r["pending_links"]:
            console.print(f"  {r['pending_links']:,} records wait for identity review "
                          "(`socialcredit link review`)")
        for f in r["flagged"][:20]:
            console.print(f"  line {f['line']}: {escape(str(f['field']))}: accepted, flagged "
                          f"{escape(str(f['flag']))} "
                          "(the ID is kept as sent and never trusted alone)")


def _show_rejects(reg: Registry, furnisher: str | None, as_json: bool) -> None:
    from socialcredit.store.tables import quarantine

    stmt = select(quarantine).order_by(quarantine.c.id)
    if furnisher:
        stmt = stmt.where(quarantine.c.furnisher_id == access.furnisher_id(reg.store, furnisher))
    with reg.store.read() as conn:
        rows = conn.execute(stmt).all()
    data = [{"file": r.source, "line": r.line, "field": r.field, "reason": r.reason}
            for r in rows]
    if as_json:
        _out({"data": data, "count": len(data)})
        return
    table = Table("file", "line", "field", "reason", title=f"{len(data)} quarantined problems")
    for d in data:
        table.add_row(escape(str(d["file"])), str(d["line"] or ""),
                      escape(str(d["field"] or "")), escape(str(d["reason"])))
    Console().print(table)


# command groups in their own modules use the helpers above
from socialcredit import demo_cli, keys_cli, ops_cli, snapshot_cli  # noqa: E402
from socialcredit.audit_cli import register as _register_audit  # noqa: E402
from socialcredit.contact_cli import contact_app  # noqa: E402
from socialcredit.link_cli import link_app  # noqa: E402
from socialcredit.policy_cli import policy_app  # noqa: E402
from socialcredit.screen_cli import lists_import, screen_cmd  # noqa: E402
from socialcredit.totp_cli import operators_totp  # noqa: E402

furnishers_app.add_typer(keys_cli.furnishers)
gates_app.add_typer(keys_cli.gates)
gates_app.add_typer(snapshot_cli.gates)
operators_app.add_typer(keys_cli.operators)
clocks_app.add_typer(ops_cli.clocks)
operators_app.command("totp")(operators_totp)

_register_audit(audit_app)

app.add_typer(link_app, name="link")
app.add_typer(policy_app, name="policy")
app.add_typer(contact_app, name="contact")
lists_app.command("import")(lists_import)
app.command("screen")(screen_cmd)


@app.command()
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
    sex (see socialcredit.policy.whatif).
    """
    day = _as_of(as_of)
    if policy is not None:
        state.policy = policy  # the same as the global --policy, for this command
    if compare is not None:
        _what_if(compare, day, engine or "duckdb", as_json)
        return
    from socialcredit.policy.evaluate import evaluate_all

    engine = engine or "incremental"
    if engine not in ("incremental", "python", "duckdb", "spark"):
        raise InputError(f"--engine {engine!r}: use incremental, python, duckdb or spark")
    today = _today()
    if day != today and not dry_run:
        raise InputError(f"--as-of {day} is not today ({today}): the registry is evaluated "
                         "only as of today; add --dry-run to preview that date")
    reg = _registry(today=day)
    stats = evaluate_all(reg.store, reg.policy, day, dry_run=dry_run,
                         engine=engine)  # type: ignore[arg-type]
    if as_json:
        _out({"as_of": day.isoformat(), "dry_run": dry_run, "engine": engine,
              **stats.as_dict()})
    else:
        verb = "would be" if dry_run else "were"
        console.print(f"Evaluated {stats.subjects:,} subjects as of {day}; entries that {verb} "
                      f"listed {dict(stats.listed)}, removed {dict(stats.removed)}, expired "
                      f"{dict(stats.expired)}, updated {stats.updated}.")


def _what_if(compare: Path, day: dt.date, engine: str, as_json: bool) -> None:
    """``evaluate --policy NEW --compare CURRENT``: read-only; see socialcredit.policy.whatif."""
    from socialcredit.policy.model import load_policy
    from socialcredit.policy.whatif import what_if
    from socialcredit.policy_cli import print_what_if

    if engine == "incremental":
        engine = "python"  # the same rules in this process
    if engine not in ("python", "duckdb", "spark"):
        raise InputError(f"--engine {engine!r}: use duckdb, python or spark with --compare")
    current = load_policy(compare)
    reg = _registry(today=day)
    try:
        report = what_if(reg.store, reg.policy, current, day,
                         engine=engine)  # type: ignore[arg-type]
    except ImportError as e:  # the engine's extra (pyspark, duckdb) is not installed
        raise ConfigError(f"--engine {engine}: {e}") from e
    finally:
        reg.close()
    if as_json:
        _out(report)
    else:
        print_what_if(report)


@app.command()
def check(
    service: Annotated[str, typer.Option(help="air, rail_hsr, hotel_star, credit, ...")],
    national_id: Annotated[str | None, typer.Option("--national-id")] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    document: Annotated[str | None, typer.Option(help="Passport or other document number.")
                        ] = None,
    name: Annotated[str | None, typer.Option(help="Name (only ever leads to review).")] = None,
    platform: Annotated[str | None, typer.Option()] = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Decide for one person as an operator: exit 0 allow, 3 deny, 4 review."""
    reg = _registry(today=_as_of(as_of) if as_of else None)
    try:
        decision = reg.decisions.decide(service=service, national_id=national_id, phone=phone,
                                        document=document, name=name, platform=platform)
    finally:
        reg.close()
    if as_json:
        _out(decision.as_dict())
    else:
        console.print(f"{decision.decision.upper()} ({service}) decision {decision.decision_id}")
        for r in decision.reasons:
            console.print(escape(
                f"  {r['list']} entry {r['entry_id']} since {r['since']} until "
                f"{r['until'] or '-'}; legal basis: {r['legal_basis']}; furnisher: "
                f"{r['furnisher'] or '-'}"))
        if decision.reasons:
            console.print("  How to contest: "
                          + escape(str(decision.reasons[0]["how_to_contest"])))
    raise typer.Exit({"allow": 0, "deny": 3, "review": 4}[decision.decision])


app.add_typer(ops_cli.root)  # report, serve, backup, restore
app.add_typer(demo_cli.root)  # simulate, demo


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
