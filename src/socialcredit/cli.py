"""The ``socialcredit`` command line (Typer + Rich).

Every command exits 0 on success and non-zero with one clear message on error (exit 1; usage
errors 2); ``check`` exits 0 for allow, 3 for deny and 4 for review. ``--json`` prints one JSON
object and no progress bar.

Longer than 400 lines: command groups move out one by one into their own modules
(``link_cli``, ``policy_cli``, ``totp_cli``); the rest is still here.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
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

console = Console(stderr=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Evaluate as of this ISO date "
                                             "(default: today, UTC).")]


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


def _registry(*, today: dt.date | None = None, create: bool = False) -> Registry:
    """The configured registry. Only ``init`` (``create=True``) makes one: any other command
    on a database without a registry fails, so a mistyped URL can never answer "allow" from an
    empty registry. An existing registry is upgraded to the newest schema."""
    reg = Registry(_settings(), today=today)
    if not create and not reg.store.initialised():
        raise ConfigError(f"no registry at {reg.store.url}; create one with `socialcredit init` "
                          "(or check SOCIALCREDIT_DATABASE_URL)")
    reg.ensure_schema()
    return reg


def _as_of(value: str | None) -> dt.date:
    if value is None:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"--as-of {value!r} is not an ISO date (YYYY-MM-DD)") from None


def _out(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@contextmanager
def _bar(enabled: bool, label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A Rich progress bar on a terminal; a no-op in --json mode or when piped."""
    if not enabled or not console.is_terminal:
        yield lambda _n: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
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


@furnishers_app.command("add")
def furnishers_add(
    name: str,
    kind: Annotated[str, typer.Option(help="court|lender|payment|transport|platform|school")],
) -> None:
    """Register a furnisher and print its API key (shown once)."""
    key = access.add_furnisher(_registry().store, name=name, kind=kind)
    console.print(f"Furnisher {name!r} registered. API key (shown once, store it now):")
    typer.echo(key)


@furnishers_app.command("list")
def furnishers_list(as_json: JsonOpt = False) -> None:
    """List registered furnishers."""
    rows = access.list_furnishers(_registry().store)
    if as_json:
        _out({"data": rows, "count": len(rows)})
        return
    table = Table("id", "name", "kind", "registered")
    for r in rows:
        table.add_row(str(r["id"]), str(r["name"]), str(r["kind"]), str(r["created_at"]))
    Console().print(table)


def _revoke(name: str, role: access.Role, as_json: bool) -> None:
    key_ids = access.revoke_key(_registry().store, name=name, role=role)
    if as_json:
        _out({"role": role, "name": name, "revoked_key_ids": key_ids, "count": len(key_ids)})
    elif key_ids:
        console.print(f"Revoked {len(key_ids)} key(s) of {role} {name!r}; running servers "
                      "refuse them within a second (one ledger follow, 200 ms by default).")
    else:
        console.print(f"{role.capitalize()} {name!r} has no live key: nothing to revoke.")


def _issue(name: str, role: access.Role) -> None:
    key = access.issue_key(_registry().store, role=role, name=name)
    console.print(f"New API key for {role} {name!r} (shown once, store it now; older keys "
                  f"stay valid until `socialcredit {role}s revoke {name}`):")
    typer.echo(key)


@furnishers_app.command("key")
def furnishers_key(name: str) -> None:
    """Issue a new API key for a registered furnisher (after a revocation, or to rotate)."""
    _issue(name, "furnisher")


@gates_app.command("key")
def gates_key(name: str) -> None:
    """Issue a new API key for a registered gate (after a revocation, or to rotate)."""
    _issue(name, "gate")


@furnishers_app.command("revoke")
def furnishers_revoke(name: str, as_json: JsonOpt = False) -> None:
    """Revoke every API key of a furnisher (ledger event access.revoked); exit 1 if there is
    no furnisher of that name."""
    _revoke(name, "furnisher", as_json)


@gates_app.command("add")
def gates_add(
    name: str,
    services: Annotated[str, typer.Option(help="Comma-separated: air,rail_hsr,...")],
    platform: Annotated[str | None, typer.Option(
        help="Platform for platform-scoped sanctions (ride_hail).")] = None,
) -> None:
    """Register a gate for some services and print its API key (shown once)."""
    reg = _registry()
    key = access.add_gate(reg.store, reg.policy, name=name, platform=platform,
                          services=[s.strip() for s in services.split(",") if s.strip()])
    console.print(f"Gate {name!r} registered. API key (shown once, store it now):")
    typer.echo(key)


@gates_app.command("list")
def gates_list(as_json: JsonOpt = False) -> None:
    """List registered gates."""
    rows = access.list_gates(_registry().store)
    if as_json:
        _out({"data": rows, "count": len(rows)})
        return
    table = Table("id", "name", "services", "platform")
    for r in rows:
        table.add_row(str(r["id"]), str(r["name"]), str(r["services"]), str(r["platform"] or ""))
    Console().print(table)


@gates_app.command("revoke")
def gates_revoke(name: str, as_json: JsonOpt = False) -> None:
    """Revoke every API key of a gate (ledger event access.revoked); exit 1 if there is no
    gate of that name."""
    _revoke(name, "gate", as_json)


@gates_app.command("export")
def gates_export(
    gate: Annotated[str, typer.Option("--gate", help="Gate name.")],
    out: Annotated[Path | None, typer.Option(help="Snapshot file (default var/snapshots/"
                                                  "<gate>.snap).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a signed offline snapshot for one gate (keyed hashes, no identifier in clear)."""
    from socialcredit.gate.offline import export_gate_snapshot, public_key_path

    reg = _registry()
    path = out or Path("var/snapshots") / f"{gate}.snap"
    path.parent.mkdir(parents=True, exist_ok=True)
    info, key_path = export_gate_snapshot(reg, gate=gate, out=path)
    result = {"snapshot": str(path), "gate": info.gate, "services": list(info.services),
              "items": info.count, "ledger_seq": info.ledger_seq, "sha256": info.digest,
              "gate_key_file": str(key_path),
              "public_key_file": str(public_key_path(reg.settings.keys_dir))}
    if as_json:
        _out(result)
    else:
        console.print(f"Snapshot for gate {gate!r}: {info.count:,} items at ledger event "
                      f"{info.ledger_seq}, written to {path}.\nGive the gate operator "
                      f"{key_path} (its key, secret) and {result['public_key_file']} "
                      "(the registry's public key).")


@gates_app.command("verify-snapshot")
def gates_verify_snapshot(
    snapshot: Path,
    public_key: Annotated[Path | None, typer.Option(
        help="Registry public key (PEM); default: this registry's own.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a snapshot's Ed25519 signature and show what it covers."""
    from socialcredit.gate.offline import public_key_path
    from socialcredit.gate.snapshot import verify_snapshot

    key_file = public_key or public_key_path(_settings().keys_dir)
    if not key_file.is_file():
        raise InputError(f"{key_file}: no public key file (give --public-key)")
    info = verify_snapshot(snapshot, key_file.read_bytes())
    data = {"ok": True, "gate": info.gate, "services": list(info.services), "items": info.count,
            "ledger_seq": info.ledger_seq, "created_at": info.created_at.isoformat(),
            "policy_version": info.policy_version, "sha256": info.digest}
    if as_json:
        _out(data)
    else:
        console.print(f"Signature valid: gate {info.gate!r}, {info.count:,} items, ledger event "
                      f"{info.ledger_seq}, made {info.created_at:%Y-%m-%d %H:%M} UTC.")


@gates_app.command("check-snapshot")
def gates_check_snapshot(
    snapshot: Path,
    gate_key: Annotated[Path, typer.Option("--gate-key", help="The gate's key file.")],
    service: Annotated[str, typer.Option()],
    national_id: Annotated[str | None, typer.Option("--national-id")] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    document: Annotated[str | None, typer.Option()] = None,
    public_key: Annotated[Path | None, typer.Option(help="Registry public key (PEM).")] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Check one person against a snapshot offline: exit 0 allow, 3 refused."""
    from socialcredit.gate.offline import public_key_path
    from socialcredit.gate.snapshot import SnapshotReader
    from socialcredit.identity import normalise_phone, scheme_for
    from socialcredit.policy.model import load_policy
    from socialcredit.screening.text import normalise_document_number

    settings = _settings()
    policy = load_policy(settings.policy_path)
    given = [v for v in (national_id, phone, document) if v]
    if len(given) != 1:
        raise InputError("give exactly one of --national-id, --phone, --document")
    if national_id:
        ident = policy.identity.national_id
        key = "national_id:" + scheme_for(ident.scheme, ident.pattern).parse(national_id).value
    elif phone:
        key = "phone:" + normalise_phone(phone, policy.identity.phone.default_region)
    else:
        key = "document:" + normalise_document_number(document or "")
    pub = (public_key or public_key_path(settings.keys_dir)).read_bytes()
    reader = SnapshotReader(snapshot, gate_key=gate_key.read_bytes(), public_key=pub)
    hit = reader.check(key, service, on=_as_of(as_of))
    if hit is None:
        console.print(f"ALLOW ({service}) per snapshot of ledger event {reader.info.ledger_seq}")
        raise typer.Exit(0)
    console.print(f"REFUSED ({service}) until {hit.until or '-'}; entries "
                  f"{', '.join(map(str, hit.entry_ids))}")
    raise typer.Exit(3)


@operators_app.command("add")
def operators_add(name: str) -> None:
    """Create an operator API key (shown once)."""
    key = access.add_operator(_registry().store, name=name)
    console.print(f"Operator key for {name!r} (shown once, store it now):")
    typer.echo(key)


@operators_app.command("revoke")
def operators_revoke(name: str, as_json: JsonOpt = False) -> None:
    """Revoke every API key of an operator (ledger event access.revoked); exit 1 if there is
    no operator of that name."""
    _revoke(name, "operator", as_json)


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
    if day > dt.datetime.now(dt.UTC).date():
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


# `socialcredit link …` (linkage runs, review queue, merge and split) uses the helpers above
from socialcredit.audit_cli import register as _register_audit  # noqa: E402
from socialcredit.contact_cli import contact_app  # noqa: E402
from socialcredit.link_cli import link_app  # noqa: E402
from socialcredit.policy_cli import policy_app  # noqa: E402
from socialcredit.screen_cli import lists_import, screen_cmd  # noqa: E402
from socialcredit.totp_cli import operators_totp  # noqa: E402

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
    today = dt.datetime.now(dt.UTC).date()
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


@clocks_app.command("run")
def clocks_run(as_json: JsonOpt = False) -> None:
    """Run the clocks once now: suppress records of disputes past their deadline, retire
    records past retention (once a day), project and serve the notices owed (SMTP when
    SOCIALCREDIT_SMTP_HOST is set, else SOCIALCREDIT_NOTICES_DIR/outbox.jsonl). `serve`
    does this every few seconds; run it from cron when no server runs."""
    from socialcredit.disclosure.clocks import tick
    from socialcredit.disclosure.notices import adapter_for
    from socialcredit.gate.offline import signing_key

    reg = _registry()
    try:
        result = tick(reg.store, reg.policy, adapter_for(reg.settings),
                      now=dt.datetime.now(dt.UTC), signer=signing_key(reg.settings.keys_dir))
    finally:
        reg.close()
    if as_json:
        _out(result.as_dict())
        return
    console.print(f"disputes suppressed {result.suppressed:,}; records retired "
                  f"{result.retired:,}; notices added {result.notices_added:,}, served "
                  f"{result.served:,}, failed {result.failed:,}; tree head signed at "
                  f"{result.tree_size:,} events")


@app.command()
def report(
    out: Annotated[Path | None, typer.Option(help="Write index.html, charts and JSON here.")
                   ] = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Transparency report: subjects, records, entries by list, decisions by service."""
    from socialcredit.reports import render_report, summarise

    reg = _registry()
    summary = summarise(reg.store, reg.policy, as_of=_as_of(as_of))
    path = None
    if out is not None:
        path = render_report(summary, out, list_titles={n: s.title for n, s in
                                                       reg.policy.lists.items()},
                             service_labels=dict(reg.policy.services))
    if as_json:
        _out({**summary, **({"report": str(path)} if path else {})})
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


@app.command()
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

    settings = _settings()
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


@app.command("simulate")
def simulate_cmd(
    out: Annotated[Path, typer.Option(help="Output folder.")],
    subjects: Annotated[int, typer.Option(min=1)] = 100_000,
    seed: Annotated[int, typer.Option()] = 1,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a synthetic population's furnisher files, tickets and a manifest."""
    from socialcredit.simulate import simulate

    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder")
    with _bar(not as_json, "people simulated", subjects) as tick:
        manifest = simulate(out, subjects=subjects, seed=seed, as_of=_as_of(as_of),
                            progress=tick)
    if as_json:
        _out(manifest.model_dump(mode="json"))
    else:
        for f in manifest.furnishers:
            console.print(f"{out / f.file}: {f.rows:,} rows ({f.bad_rows} deliberately bad), "
                          f"furnisher {f.name} ({f.kind})")


@app.command()
def demo(
    subjects: Annotated[int, typer.Option(min=100)] = 100_000,
    seed: Annotated[int, typer.Option()] = 1,
    out: Annotated[Path, typer.Option(
        help="Work folder (recreated): simulated files, the demo's own SQLite database "
             "registry.db and the report.")] = Path("var/demo"),
    demo_db: Annotated[str | None, typer.Option(
        "--demo-database-url", help="Run on this empty database instead of OUT/registry.db "
                                    "(e.g. PostgreSQL).")] = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Simulate a nation, ingest it, evaluate, replay a day of tickets, report.

    The demo never touches the registry's configured database: it works in OUT (default
    var/demo), which it recreates, with its own SQLite file unless --demo-database-url is
    given (that database must be empty).
    """
    from socialcredit.demo import run_demo

    day = _as_of(as_of)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder")
    shutil.rmtree(out, ignore_errors=True)
    url = demo_db or f"sqlite:///{out / 'registry.db'}"
    settings = _settings().model_copy(update={"database_url": url,
                                               "notices_dir": out / "notices"})
    reg = Registry(settings, today=day)
    reg.ensure_schema()
    if reg.store.head()[0] > 0:
        raise InputError(f"{url} already holds a registry; the demo needs an empty database")
    say = (lambda _m: None) if as_json else (lambda m: console.print(f"[bold]·[/] {m}"))
    with _bar(not as_json, "ingest rows", None) as tick:
        seen = 0

        def progress(_stage: str, done: int, _total: int) -> None:
            nonlocal seen
            tick(done - seen)
            seen = done

        summary = run_demo(reg, subjects=subjects, seed=seed, work_dir=out, as_of=day, say=say,
                           progress=progress)
    reg.close()
    if as_json:
        _out(summary)
        return
    dec = summary["decisions"]
    console.print(
        f"\nIn a simulated nation of {subjects:,} people, "
        f"[bold]{summary['listed'].get('dishonest_judgment_debtors', 0):,}[/] are listed as "
        f"dishonest judgment debtors; in one day the gates refused "
        f"[bold]{dec.get('air', {}).get('deny', 0):,}[/] flight tickets and "
        f"[bold]{dec.get('rail_hsr', {}).get('deny', 0):,}[/] high-speed-rail tickets.\n"
        f"Subjects with records {summary['subjects']:,}; records {summary['records']:,} "
        f"({summary['unlinked_records']:,} unlinked); rejected rows "
        f"{summary['rejected_rows']:,} (see `socialcredit ingest --show-rejects`); ledger "
        f"events {summary['ledger_events']:,}.\nReport: {summary['report']}\n"
        f"Browse the public search page: `make serve` or `SOCIALCREDIT_NOTICES_DIR="
        f"{out / 'notices'} socialcredit --database-url {url} serve`, then "
        "http://127.0.0.1:8000/")
    others = ", ".join(f"{name} {n:,}" for name, n in summary["listed"].items()
                       if name != "dishonest_judgment_debtors")
    grades = "; ".join(f"{name}: " + ", ".join(f"{g} {n:,}" for g, n in by_grade.items())
                       for name, by_grade in summary.get("scores", {}).items())
    console.print(
        f"\nPeople on the other lists: {others}.\nScores by grade: {grades}.\n"
        f"What if the policy were harsher? `socialcredit --database-url {url} evaluate "
        "--policy policies/strict.yaml --compare policies/default.yaml` (writes nothing).")
    who = summary.get("sign_in")
    if who:
        console.print(
            f"\nFollow a dispute by hand: a listed person who was refused a service today can "
            f"read and contest their file at http://127.0.0.1:8000/me (after `make serve`).\n"
            f"  ID number {who['national_id']}, phone {who['phone']}, one-time code "
            f"[bold]{who['code']}[/] (valid {who['valid_minutes']} minutes; the page sends a "
            f"new one, written to {who['outbox']})")


@app.command("backup")
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

    reg = _registry()
    try:
        manifest = backup(reg.store, directory, schema=schema)
    finally:
        reg.close()
    if as_json:
        _out({"directory": str(directory), **manifest.__dict__})
    else:
        console.print(f"Backed up {manifest.dialect} registry at ledger event "
                      f"{manifest.ledger_seq} (head {manifest.head_hash[:16]}…) into "
                      f"{directory}.")


@app.command("restore")
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

    store = Store(_settings().database_url)
    try:
        result = restore(store, directory, force=force, schema=schema)
    finally:
        store.dispose()
    m = result.manifest
    if as_json:
        _out({"directory": str(directory), "events_verified": result.events, **m.__dict__})
    else:
        console.print(f"Restored {directory} (made {m.created_at}); ledger verified: "
                      f"{result.events:,} events, head {m.head_hash[:16]}… as in the manifest.")


@audit_app.command("verify")
def audit_verify(as_json: JsonOpt = False) -> None:
    """Recompute the ledger's hash chain; name the first broken event (exit 1 if broken)."""
    result = _registry(create=False).store.verify()
    if as_json:
        _out(result.__dict__)
    elif result.ok:
        console.print(f"Ledger verified: {result.events:,} events, head {result.head_hash}.")
    if not result.ok:
        result.raise_if_broken()


def _fail(message: str, code: int = 1) -> NoReturn:
    console.print(f"[red]error:[/] {escape(message)}", highlight=False)
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
