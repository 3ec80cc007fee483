"""Alembic's entry point: run the migrations on the connection gdlab hands over (or on
``sqlalchemy.url`` when run from the alembic command line)."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from service.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations(connection) -> None:
    """Run the migrations in a transaction on ``connection``."""
    # render_as_batch: SQLite can only ALTER a table by copying it; batch mode does that
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    engine = engine_from_config(config.get_section(config.config_ini_section, {}),
                                prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as new_connection:
        run_migrations(new_connection)
