"""Throwaway databases for tests, benchmarks and trials: a SQLite file in a folder, or a fresh
PostgreSQL schema that is dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

__all__ = ["scratch_database"]


@contextmanager
def scratch_database(url: str | None, folder: Path, *, prefix: str = "scratch_",
                     ) -> Iterator[str]:
    """Yield a database URL to use and forget.

    ``url`` None or SQLite: ``sqlite:///<folder>/registry.db`` (or ``url`` itself). PostgreSQL:
    a new schema ``<prefix><12 hex>`` made the search path of every connection of the yielded
    URL (``options=-csearch_path=…``), dropped with everything in it on exit.

    Raises:
        sqlalchemy.exc.OperationalError: PostgreSQL cannot be reached.
    """
    if url is None or url.startswith("sqlite"):
        yield url or f"sqlite:///{folder / 'registry.db'}"
        return
    schema = prefix + uuid.uuid4().hex[:12]
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()
