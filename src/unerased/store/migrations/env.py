"""Alembic environment: the connection is handed in by ``unerased.store._engine.migrate``."""

from alembic import context

from unerased.store._schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via `alembic` CLI by hand
    from sqlalchemy import create_engine

    connection = create_engine(config.get_main_option("sqlalchemy.url") or "").connect()

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
