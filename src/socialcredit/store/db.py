"""Engine creation and schema migrations (Alembic) for SQLite and PostgreSQL.

The dialect differences of the store live here: SQLite runs in WAL mode with a busy timeout;
PostgreSQL needs the ``postgres`` extra (psycopg 3).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, OperationalError

from socialcredit.errors import ConfigError, StoreUnavailable

__all__ = ["MIGRATIONS_DIR", "make_engine", "migrate", "needs_migration"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """Create the SQLAlchemy engine for ``database_url``.

    ``sqlite:///path`` creates the parent folder and sets WAL, ``synchronous=NORMAL`` and a 30 s
    busy timeout on every connection. ``postgresql://`` is read as ``postgresql+psycopg://``.

    Raises:
        ConfigError: the URL is malformed, or PostgreSQL is asked for without psycopg installed.
    """
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
            raise ConfigError(
                "PostgreSQL needs the psycopg driver: pip install 'socialcredit[postgres]'"
            ) from e
        return create_engine(url, pool_pre_ping=True, **kwargs)
    if url.drivername.startswith("sqlite"):
        if url.database and url.database != ":memory:":
            folder = Path(url.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise ConfigError(f"cannot create the folder {folder} of the SQLite database: "
                                  f"{e.strerror}") from e
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    raise ConfigError(f"unsupported database {url.drivername!r}: use sqlite or postgresql")


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
        raise StoreUnavailable(f"cannot reach the database at {where}: {e.orig}") from e
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
