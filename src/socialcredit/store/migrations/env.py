"""Alembic environment: runs on the connection handed over by ``socialcredit.store.db``."""

from alembic import context
from sqlalchemy import Connection, create_engine

from socialcredit.store.tables import metadata

config = context.config
connection = config.attributes.get("connection")


def _run(conn: Connection) -> None:
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # `alembic` command line with sqlalchemy.url set
    with create_engine(config.get_main_option("sqlalchemy.url") or "").connect() as conn:
        _run(conn)
        conn.commit()
