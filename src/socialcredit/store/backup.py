"""Backup and restore of a registry database, SQLite or PostgreSQL.

A backup is a folder holding the dump and ``manifest.json``::

    {"format": 1, "created_at": ISO-8601 UTC, "dialect": "sqlite" | "postgresql",
     "schema": PostgreSQL schema or null, "schema_revision": Alembic revision,
     "ledger_seq": int, "head_hash": hex SHA-256, "policy_version": "sha256:…" or null,
     "files": [{"name", "sha256", "bytes"}]}

The manifest is written last, so a folder without one is an incomplete backup. Ledger head and
policy version are those of the dumped data, not of the live database (which may have moved
on): SQLite is copied with the online backup API (``sqlite3.Connection.backup``, a consistent
snapshot while a server keeps writing) and the head read from the copy; PostgreSQL is dumped
by ``pg_dump -Fc`` from a snapshot exported by the transaction that reads the head
(``pg_export_snapshot`` + ``pg_dump --snapshot``), so both see the same state.

PostgreSQL: one schema is dumped and restored: ``schema`` if given, else the first entry of
``search_path`` in the URL's ``options`` (``?options=-csearch_path%3Dregistry``), else
``public``. A backup restores into the same schema name (of any database); the password goes
to ``pg_dump`` / ``pg_restore`` in ``PGPASSWORD``, never on their command line.

Restore refuses a target that holds any table (``force`` empties it first), checks every
checksum before touching the target, restores, then recomputes the ledger's hash chain and
compares its head with the manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, inspect, select, text
from sqlalchemy.engine import make_url

from socialcredit.errors import ConfigError, Conflict, InputError, LedgerBroken
from socialcredit.store.private import private_dir, private_file
from socialcredit.store.store import Store
from socialcredit.store.tables import events, ledger_head

__all__ = ["MANIFEST", "Manifest", "backup", "restore", "schema_of"]

MANIFEST = "manifest.json"
_FILES = {"sqlite": "registry.db", "postgresql": "registry.dump"}
_SEARCH_PATH = re.compile(r"(?:-c\s*|--)search_path\s*=\s*([^\s,]+)")


@dataclass(frozen=True)
class Manifest:
    """What a backup holds (the JSON of ``manifest.json``; see the module docstring)."""

    created_at: str
    dialect: str
    schema: str | None
    schema_revision: str | None
    ledger_seq: int
    head_hash: str
    policy_version: str | None
    files: list[dict[str, Any]]
    format: int = 1


def schema_of(url: str, schema: str | None = None) -> str:
    """The PostgreSQL schema a URL works in: ``schema``, else the first ``search_path`` entry
    of its ``options`` query parameter, else ``public``."""
    if schema:
        return schema
    options = make_url(url).query.get("options")
    for opt in [options] if isinstance(options, str) else list(options or ()):
        m = _SEARCH_PATH.search(opt)
        if m:
            return m.group(1).strip("'\"")
    return "public"


def _safe(url: str) -> str:
    """``url`` with its password masked, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _state(conn: Connection) -> tuple[int, str, str | None, str | None]:
    """(ledger seq, head hash, latest policy version, Alembic revision) as ``conn`` sees it."""
    head = conn.execute(select(ledger_head.c.seq, ledger_head.c.hash)).one()
    policy = conn.execute(select(events.c.policy_version).where(
        events.c.policy_version.is_not(None)).order_by(events.c.seq.desc()).limit(1)).scalar()
    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return int(head.seq), str(head.hash), policy, revision


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ConfigError(f"{name} is not on PATH: install the PostgreSQL client tools of the "
                          "server's major version (e.g. apt install postgresql-client)")
    return path


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """(libpq URI without the password, environment with ``PGPASSWORD``) for the PG tools."""
    u: URL = make_url(url)
    env = {**os.environ}
    if u.password is not None:
        env["PGPASSWORD"] = str(u.password)
    u = u.set(drivername="postgresql", password=None)
    return u.render_as_string(hide_password=False), env


def _run(cmd: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise ConfigError(f"{Path(cmd[0]).name} failed (exit {proc.returncode}): {tail}")
    return proc.stdout


def backup(store: Store, directory: Path, *, schema: str | None = None) -> Manifest:
    """Back ``store`` up into the new or empty folder ``directory``; return the manifest.

    Raises:
        InputError: ``directory`` is a file or holds files. ConfigError: the store is not a
            registry, ``pg_dump`` is missing or fails. StoreUnavailable: unreachable database.
    """
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InputError(f"{directory} already exists and is not an empty folder; back up "
                         "into a new folder")
    if not store.initialised():
        raise ConfigError(f"no registry at {_safe(store.url)} to back up")
    private_dir(directory)  # a backup holds everything the database does: owner-only
    name = _FILES.get(store.dialect)
    if name is None:
        raise ConfigError(f"cannot back up a {store.dialect} database")
    target = private_file(directory / name)
    if store.dialect == "sqlite":
        raw = store.engine.raw_connection()
        try:
            dst = sqlite3.connect(target)
            try:
                raw.driver_connection.backup(dst)  # type: ignore[union-attr]
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
                if dst.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                    raise ConfigError(f"the copy {target} fails SQLite's quick_check")
            finally:
                dst.close()
        finally:
            raw.close()
        copy = Store(f"sqlite:///{target}")
        try:
            with copy.read() as conn:
                seq, head, policy, revision = _state(conn)
        finally:
            copy.dispose()
        schema = None
    else:
        pg_dump = _tool("pg_dump")
        schema = schema_of(store.url, schema)
        uri, env = _libpq(store.url)
        # the head is read in the snapshot pg_dump dumps, held open while it runs
        c = store.engine.connect().execution_options(isolation_level="REPEATABLE READ")
        with c, c.begin():
            snapshot = c.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            seq, head, policy, revision = _state(c)
            _run([pg_dump, "-Fc", "--no-owner", "--no-privileges", f"--schema={schema}",
                  f"--snapshot={snapshot}", f"--file={target}", f"--dbname={uri}"], env)
    manifest = Manifest(
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        dialect=store.dialect, schema=schema, schema_revision=revision, ledger_seq=seq,
        head_hash=head, policy_version=policy,
        files=[{"name": name, "sha256": _sha256(target), "bytes": target.stat().st_size}])
    tmp = private_file(directory / (MANIFEST + ".tmp"))
    tmp.write_text(json.dumps(asdict(manifest), indent=2) + "\n", encoding="utf-8")
    tmp.replace(directory / MANIFEST)
    return manifest


def read_manifest(directory: Path) -> Manifest:
    """The manifest of a backup folder, with every file's checksum checked.

    Raises:
        InputError: no such folder, no or unreadable manifest, a missing or altered file.
    """
    if not directory.is_dir():
        raise InputError(f"{directory}: no such backup folder")
    path = directory / MANIFEST
    if not path.is_file():
        raise InputError(f"{directory} has no {MANIFEST}: not a backup folder, or a backup "
                         "that did not finish")
    try:
        manifest = Manifest(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as e:
        raise InputError(f"{path} is not a valid backup manifest: {e}") from e
    if manifest.dialect not in _FILES or not manifest.files:
        raise InputError(f"{path} names no dump of a known dialect ({manifest.dialect!r})")
    for f in manifest.files:
        file = directory / str(f.get("name", ""))
        if not file.is_file():
            raise InputError(f"backup file {file} is missing")
        if _sha256(file) != f.get("sha256"):
            raise InputError(f"backup file {file} does not match its checksum in {MANIFEST}: "
                             "the backup is corrupt")
    return manifest


@dataclass(frozen=True)
class RestoreResult:
    """The restored backup's manifest and the number of ledger events verified."""

    manifest: Manifest
    events: int


def restore(store: Store, directory: Path, *, force: bool = False,
            schema: str | None = None) -> RestoreResult:
    """Restore the backup in ``directory`` into ``store`` (an empty database), verify it, and
    append a ``ledger.restored`` event (``{backup_created_at, ledger_seq, head_hash}``) so that
    followers know the ledger was restored, not rolled back.

    Raises:
        InputError: missing or corrupt backup; a backup of another dialect or schema.
        Conflict: the target holds tables and ``force`` is false. ConfigError: ``pg_restore``
            missing or failing. LedgerBroken: the restored ledger does not verify or its head
            differs from the manifest's. StoreUnavailable: unreachable database.
    """
    manifest = read_manifest(directory)
    if manifest.dialect != store.dialect:
        raise InputError(f"{directory} is a {manifest.dialect} backup; the target "
                         f"{_safe(store.url)} is {store.dialect}: restore into a "
                         f"{manifest.dialect} database")
    dump = directory / str(manifest.files[0]["name"])
    if store.dialect == "sqlite":
        _restore_sqlite(store, dump, force=force)
        check = store
    else:
        _restore_postgres(store, dump, manifest, force=force, schema=schema)
        # read the restored schema even if the URL's search_path names another
        url = make_url(store.url).update_query_dict(
            {"options": f"-csearch_path={manifest.schema}"})
        check = Store(url.render_as_string(hide_password=False))
    try:
        result = check.verify()
        result.raise_if_broken()
        seq, head = check.head()
        if (seq, head) != (manifest.ledger_seq, manifest.head_hash):
            raise LedgerBroken(
                f"the restored ledger ends at event {seq} ({head[:12]}…), the manifest says "
                f"{manifest.ledger_seq} ({manifest.head_hash[:12]}…)",
                details={"seq": seq, "head_hash": head})
        # the ledger says it was restored: gates that followed a longer or other ledger
        # rebuild from this one instead of refusing it (gate/went_back.py)
        with check.batch() as b:
            b.emit("ledger.restored", {"backup_created_at": manifest.created_at,
                                       "ledger_seq": manifest.ledger_seq,
                                       "head_hash": manifest.head_hash})
    finally:
        if check is not store:
            check.dispose()
    return RestoreResult(manifest, result.events)


def _refuse_non_empty(tables: list[str], where: str, force: bool) -> None:
    if tables and not force:
        raise Conflict(f"{where} is not empty ({len(tables)} tables, e.g. {tables[0]}); "
                       "restore into an empty database, or pass --force to replace it")


def _restore_sqlite(store: Store, dump: Path, *, force: bool) -> None:
    _refuse_non_empty(inspect(store.engine).get_table_names(), _safe(store.url), force)
    store.dispose()
    src = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
    try:
        raw = store.engine.raw_connection()
        try:
            src.backup(raw.driver_connection)  # type: ignore[arg-type]
            raw.driver_connection.execute("PRAGMA journal_mode=WAL")  # type: ignore[union-attr]
        finally:
            raw.close()
    finally:
        src.close()
    store.dispose()


def _restore_postgres(store: Store, dump: Path, manifest: Manifest, *, force: bool,
                      schema: str | None) -> None:
    pg_restore = _tool("pg_restore")
    target = schema_of(store.url, schema)
    if target != manifest.schema:
        raise InputError(f"the backup holds schema {manifest.schema!r}; the target works in "
                         f"{target!r}: restore into a database whose search_path (or "
                         f"--schema) is {manifest.schema!r}")
    with store.engine.begin() as conn:
        tables = list(conn.execute(text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = :s "
            "ORDER BY table_name"), {"s": target}).scalars())
        _refuse_non_empty(tables, f"schema {target!r} of {_safe(store.url)}", force)
        if tables:
            conn.execute(text(f'DROP SCHEMA "{target}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{target}"'))
    store.dispose()
    uri, env = _libpq(store.url)
    # every entry but the schema itself, which now exists
    toc = [line for line in _run([pg_restore, "--list", str(dump)], env).splitlines()
           if not re.match(r"^\d+;\s+\d+\s+\d+\s+SCHEMA\s", line)]
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "toc.list"
        listing.write_text("\n".join(toc) + "\n", encoding="utf-8")
        _run([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error",
              "--single-transaction", f"--use-list={listing}", f"--dbname={uri}", str(dump)],
             env)
