"""Engine creation and schema migrations (Alembic) for SQLite and PostgreSQL.

The dialect differences of the store live here: SQLite runs in WAL mode with a busy timeout;
PostgreSQL needs the ``postgres`` extra (psycopg 3).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, DBAPIError, OperationalError

from socialcredit.errors import ConfigError, MissingExtra, StoreUnavailable
from socialcredit.store.private import private_file

__all__ = ["MIGRATIONS_DIR", "first_line", "is_contention", "make_engine", "migrate",
           "needs_migration", "unavailable"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """Create the SQLAlchemy engine for ``database_url``.

    ``sqlite:///path`` creates the parent folder and sets WAL, ``synchronous=NORMAL`` and a busy
    timeout on every connection: a write waits that long for another process's or thread's
    write to finish before failing with :class:`StoreUnavailable` (retry). The timeout is the
    URL's ``timeout`` query parameter in seconds, as for Python's ``sqlite3.connect``
    (``sqlite:///var/registry.db?timeout=5``), 30 s by default. ``postgresql://`` is read as
    ``postgresql+psycopg://``.

    Raises:
        ConfigError: the URL is malformed, or its ``timeout`` is not a number of seconds.
        MissingExtra: PostgreSQL is asked for without psycopg installed (a ConfigError and an
            ImportError naming ``socialcredit[postgres]``).
    """
    # SQL parameters hold national IDs and names: keep them out of error strings (and so out
    # of tracebacks in the logs)
    kwargs.setdefault("hide_parameters", True)
    try:
        url = make_url(database_url)
    except Exception as e:
        raise ConfigError(f"SOCIALCREDIT_DATABASE_URL is not a database URL: {e}") from e
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.drivername.startswith("postgresql"):
        try:
            import psycopg  # noqa: F401
        except ImportError as e:
            raise MissingExtra(
                "PostgreSQL needs the psycopg driver: pip install 'socialcredit[postgres]'"
            ) from e
        return create_engine(url, pool_pre_ping=True, **kwargs)
    if url.drivername.startswith("sqlite"):
        if url.database and url.database != ":memory:":
            folder = Path(url.database).parent
            try:
                # a new folder is the registry's account's only (0700), as its files are 0600
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                # owner-only from the first byte; SQLite gives -wal/-shm the same mode
                private_file(Path(url.database))
            except OSError as e:
                raise ConfigError(f"cannot create the folder {folder} of the SQLite database: "
                                  f"{e.strerror}") from e
        busy_timeout_ms = _busy_timeout_ms(url.query.get("timeout"))
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")  # first: WAL may wait
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    raise ConfigError(f"unsupported database {url.drivername!r}: use sqlite or postgresql")


#: How long a SQLite write waits for another writer by default (ms).
DEFAULT_BUSY_TIMEOUT_MS = 30_000


def _busy_timeout_ms(value: str | tuple[str, ...] | None) -> int:
    """The ``timeout`` query parameter of a SQLite URL (seconds) in milliseconds."""
    if value is None:
        return DEFAULT_BUSY_TIMEOUT_MS
    text = value if isinstance(value, str) else value[-1]
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86_400:
        raise ConfigError(f"the SQLite URL's timeout={text!r} must be a number of seconds "
                          "from 0 to 86400 (how long a write waits for another writer)")
    return round(seconds * 1000)


#: SQLSTATEs of PostgreSQL that mean "another transaction got in the way": serialization
#: failure, deadlock detected, lock not available, statement timeout.
_PG_CONTENTION = frozenset({"40001", "40P01", "55P03", "57014"})
#: SQLite result codes of the same meaning: SQLITE_BUSY, SQLITE_LOCKED.
_SQLITE_CONTENTION = frozenset({5, 6})


def is_contention(e: DBAPIError) -> bool:
    """True when ``e`` says another writer held the database (SQLite ``database is locked``
    past the busy timeout, a PostgreSQL lock or serialization failure): the same write may
    succeed if sent again."""
    code = getattr(e.orig, "sqlite_errorcode", None)
    if code is not None:
        return int(code) & 0xFF in _SQLITE_CONTENTION
    if getattr(e.orig, "sqlstate", None) in _PG_CONTENTION:
        return True
    return "database is locked" in str(e.orig)


def unavailable(e: DBAPIError, doing: str, where: str = "") -> StoreUnavailable:
    """The :class:`StoreUnavailable` (503, with ``details.retry_after_seconds``, sent as the
    ``Retry-After`` header) for a database error during ``doing`` (e.g. "this write"): a
    busy database (another writer; ``details.reason`` "busy") or an unreachable one
    ("unreachable"). The failed transaction was rolled back, so sending it again is safe."""
    at = f" at {where}" if where else ""
    if is_contention(e):
        return StoreUnavailable(
            f"the database{at} is busy with another write and {doing} waited too long for "
            f"it ({first_line(e)}); it was rolled back: retry in a moment",
            details={"reason": "busy", "retry_after_seconds": 1})
    return StoreUnavailable(
        f"cannot reach the database{at} during {doing} ({first_line(e)}); it was rolled "
        "back: retry when the database is back",
        details={"reason": "unreachable", "retry_after_seconds": 5})


def first_line(e: DBAPIError) -> str:
    """The driver's message without PostgreSQL's DETAIL/CONTEXT lines, which can quote row
    values (national IDs, names) that must not reach a caller or the logs."""
    return str(e.orig).strip().split("\n", 1)[0]


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (creates it on an empty database).

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    from alembic import command

    cfg = _alembic_config(engine)
    where = engine.url.render_as_string()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except OperationalError as e:
        raise unavailable(e, "the schema check", where) from e
    except DatabaseError as e:
        raise ConfigError(f"{where} is not a usable registry database: {e.orig}") from e


def needs_migration(engine: Engine) -> bool:
    """True when the database has no registry schema yet."""
    try:
        return not inspect(engine).has_table("ledger_head")
    except OperationalError as e:
        raise StoreUnavailable(
            f"cannot reach the database at {engine.url.render_as_string()}: {e.orig}"
        ) from e
