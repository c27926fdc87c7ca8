"""The :class:`Store`: engine, schema and write batches. The port every stage writes through."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DatabaseError, DataError, IntegrityError, OperationalError

from socialcredit.errors import ConfigError, Conflict, InputError, StoreUnavailable
from socialcredit.store.db import (
    first_line,
    make_engine,
    migrate,
    needs_migration,
    unavailable,
)
from socialcredit.store.ledger import Batch, VerifyResult, verify
from socialcredit.store.private import keyed_digest, load_or_create_key
from socialcredit.store.tables import ledger_head

__all__ = ["Store"]


class Store:
    """The registry's database (SQLite or PostgreSQL).

    Raises:
        ConfigError: bad URL or missing driver (from :func:`make_engine`).
        StoreUnavailable: the database cannot be reached.
    """

    def __init__(self, database_url: str, *, engine: Engine | None = None,
                 key_file: Path | None = None) -> None:
        self.url = database_url
        self.engine = engine or make_engine(database_url)
        #: the file of the key that seals one-time codes and CSRF tokens (outside the
        #: database: a copy of the database alone recovers neither); see :meth:`seal`
        self.key_file = key_file
        self._key: bytes | None = None

    def seal(self, value: str) -> str:
        """Hex HMAC-SHA-256 of ``value`` under the key in :attr:`key_file` (created 0600 on
        first use).

        Raises:
            ConfigError: no key file is configured, or it cannot be read or created.
        """
        if self._key is None:
            if self.key_file is None:
                raise ConfigError("this store has no key file for one-time codes "
                                  "(Registry sets settings.keys_dir / codes.key)")
            self._key = load_or_create_key(self.key_file)
        return keyed_digest(self._key, value)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def ensure_schema(self) -> None:
        """Create or upgrade the schema (Alembic ``upgrade head``)."""
        migrate(self.engine)

    def initialised(self) -> bool:
        return not needs_migration(self.engine)

    @contextmanager
    def batch(self, policy_version: str | None = None) -> Iterator[Batch]:
        """A write transaction holding the ledger lock; commits on normal exit, rolls back on
        an exception (nothing of the batch lands).

        Writers queue on the lock (the ``ledger_head`` row): on PostgreSQL a writer waits for
        the one before it; on SQLite it waits up to the busy timeout (``make_engine``).

        Raises:
            StoreUnavailable: the database is unreachable, or busy past the SQLite busy timeout
                (``details.retry_after_seconds``: retry).
            Conflict: a uniqueness constraint refused a row written concurrently (retry).
            InputError: the database refused a value.
        """
        try:
            with self.engine.begin() as conn:
                b = Batch(conn, policy_version)
                yield b
                b.flush()
        except OperationalError as e:  # busy (another writer) or unreachable: retriable
            raise unavailable(e, "this write") from e
        except DataError as e:  # a value validation should have caught: refuse, don't crash
            # neither the statement nor the driver's detail lines: they can quote row values
            raise InputError(f"the database refused a value: {first_line(e)}") from e
        except IntegrityError as e:
            raise Conflict(f"a concurrent write conflicted with this one ({first_line(e)}) "
                           "and it was rolled back: retry in a moment",
                           details={"retry_after_seconds": 1}) from e

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only connection.

        Raises:
            StoreUnavailable: the database cannot be reached or read (a lost server, a
                corrupted SQLite file): callers such as gates fall back to what they hold.
        """
        try:
            with self.engine.connect() as conn:
                yield conn
        except OperationalError as e:
            raise unavailable(e, "a read") from e
        except DatabaseError as e:  # not a database (a corrupted file): no retry will help
            raise StoreUnavailable(f"the database could not be read: {first_line(e)}",
                                   details={"reason": "unreadable"}) from e

    def head(self) -> tuple[int, str]:
        with self.read() as conn:
            row = conn.execute(select(ledger_head.c.seq, ledger_head.c.hash)).one()
            return int(row.seq), str(row.hash)

    def verify(self) -> VerifyResult:
        with self.read() as conn:
            return verify(conn)

    def refresh_statistics(self, *tables: str) -> None:
        """Refresh the planner's statistics after a bulk load (PostgreSQL ``ANALYZE``).

        Without them PostgreSQL plans lookups on freshly filled tables as if they were empty
        and scans them (measured in bench/ingest_and_gate.py: 16 s of a 26 s ingest at 20,000
        subjects). SQLite needs nothing here.

        Raises:
            StoreUnavailable: the database is unreachable (or busy past a lock timeout).
        """
        if self.dialect != "postgresql":
            return
        from sqlalchemy import text

        try:
            with self.engine.begin() as conn:
                conn.execute(text("ANALYZE " + ", ".join(tables)))
        except OperationalError as e:
            raise unavailable(e, "a statistics refresh") from e

    def dispose(self) -> None:
        self.engine.dispose()
