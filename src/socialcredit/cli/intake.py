"""``socialcredit init`` and ``socialcredit ingest``: create the registry and take furnishers'
files in.

* ``init`` creates or upgrades the schema and prints where the registry is (``--json``:
  ``database``, ``ledger_seq``, ``head_hash``).
* ``ingest FILES --furnisher NAME`` reads CSV, JSON Lines or Parquet files, or Metro 2 files
  with ``--format metro2`` (:func:`socialcredit.ingest.pipeline.ingest_file`): bad rows go to
  quarantine, good rows land, re-sending is a no-op; ``--show-rejects`` lists the quarantine.
  A Metro 2 problem's position is the record's byte in the file, not a line.

Registered on the root app by :mod:`socialcredit.cli`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from socialcredit.cli import common
from socialcredit.cli.common import AsOfOpt, JsonOpt, console
from socialcredit.errors import InputError

if TYPE_CHECKING:  # the registry loads the gate (pandas, pypinyin): only when used
    from socialcredit.api.registry import Registry

__all__ = ["ingest", "init"]


def init(as_json: JsonOpt = False) -> None:
    """Create or upgrade the registry's database schema (Alembic)."""
    reg = common.registry(create=True)
    seq, head = reg.store.head()
    if as_json:
        common.out({"database": reg.store.url, "ledger_seq": seq, "head_hash": head})
    else:
        from sqlalchemy import make_url

        console.print(f"Registry ready at "
                      f"{make_url(reg.store.url).render_as_string(hide_password=True)} "
                      f"(ledger at event {seq}).")


def ingest(
    files: Annotated[list[Path] | None, typer.Argument(
        help="CSV, JSON Lines or Parquet; Metro 2 with --format metro2.")] = None,
    furnisher: Annotated[str | None, typer.Option(help="Registered furnisher name.")] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", help="csv, jsonl, parquet or metro2 (the Metro 2 character format, "
        "426-byte records); default: from each file's suffix (.csv, .jsonl, .parquet).",
    )] = None,
    show_rejects: Annotated[bool, typer.Option(
        "--show-rejects", help="List quarantined rows (of --furnisher if given).")] = False,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest furnisher files: bad rows go to quarantine, good rows land, re-sending is a
    no-op."""
    day = common.as_of(as_of)
    if day > common.today():
        raise InputError(f"--as-of {day} is in the future: rows are checked and evaluated as "
                         "of today or an earlier date (to replay history)")
    reg = common.registry(today=day)
    if show_rejects:
        _show_rejects(reg, furnisher, as_json)
        return
    if not files or not furnisher:
        raise InputError("give one or more FILES and --furnisher NAME (or --show-rejects)")
    from socialcredit.ingest.readers import FORMATS

    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    from socialcredit.api import keys

    fid = keys.furnisher_id(reg.store, furnisher)
    from socialcredit.ingest.pipeline import ingest_file

    totals = {"accepted": 0, "rejected": 0, "duplicates": 0, "unlinked": 0}
    per_file = []
    for path in files:
        if path.is_dir():
            raise InputError(f"{path} is a folder; give the files in it (e.g. {path}/*.csv)")
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        lines = (path.read_bytes().count(b"\n")
                 if path.suffix != ".parquet" and fmt != "metro2" else None)
        with common.bar(not as_json, f"{path.name}", lines) as tick:
            result = ingest_file(reg.store, reg.policy, furnisher_id=fid, path=path, as_of=day,
                                 chunk_rows=reg.settings.ingest_batch_rows, progress=tick,
                                 fmt=fmt)
        for k in totals:
            totals[k] += getattr(result, k)
        per_file.append(result.as_dict())
    if as_json:
        common.out({**totals, "files": per_file})
        return
    where = "byte" if fmt == "metro2" else "line"
    for r in per_file:
        # furnisher text (file names, kinds, values in reasons) is never read as markup
        console.print(f"{escape(str(r['source']))}: {r['accepted']:,} accepted, "
                      f"{r['rejected']:,} rejected, "
                      f"{r['duplicates']:,} duplicates, {r['unlinked']:,} unlinked")
        for p in r["problems"][:20]:
            console.print(f"  {where} {p['line']}: {escape(str(p['field'] or '(row)'))}: "
                          f"{escape(str(p['reason']))}")
        if len(r["problems"]) > 20:
            console.print("  … see `socialcredit ingest --show-rejects`")
        listed = r["evaluation"]["listed"]
        if listed:
            console.print("  entries listed: " + ", ".join(
                f"{escape(k)} {v:,}" for k, v in sorted(listed.items())))
        common.say_already_ended(r["evaluation"])
        if r["pending_links"]:
            console.print(f"  {r['pending_links']:,} records wait for identity review "
                          "(`socialcredit link review`)")
        for f in r["flagged"][:20]:
            why = (escape(str(f["reason"])) if "reason" in f
                   else "the ID is kept as sent and never trusted alone")
            console.print(f"  {where} {f['line']}: {escape(str(f['field']))}: accepted, flagged "
                          f"{escape(str(f['flag']))} ({why})")


def _show_rejects(reg: Registry, furnisher: str | None, as_json: bool) -> None:
    from sqlalchemy import select

    from socialcredit.api import keys
    from socialcredit.store.tables import quarantine

    stmt = select(quarantine).order_by(quarantine.c.id)
    if furnisher:
        stmt = stmt.where(quarantine.c.furnisher_id == keys.furnisher_id(reg.store, furnisher))
    with reg.store.read() as conn:
        rows = conn.execute(stmt).all()
    data = [{"file": r.source, "line": r.line, "field": r.field, "reason": r.reason}
            for r in rows]
    if as_json:
        common.out({"data": data, "count": len(data)})
        return
    table = Table("file", "line", "field", "reason", title=f"{len(data)} quarantined problems")
    for d in data:
        table.add_row(escape(str(d["file"])), str(d["line"] or ""),
                      escape(str(d["field"] or "")), escape(str(d["reason"])))
    common.make_console().print(table)
