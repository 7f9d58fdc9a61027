"""Alembic environment: runs the migrations on the engine the caller hands over (or PATHWAY_DATABASE_URL)."""

from alembic import context
from sqlmodel import SQLModel

from pathway.store import tables  # noqa: F401  (registers the tables)

config = context.config
target_metadata = SQLModel.metadata


def run() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from pathway.settings import load_settings
        from pathway.store.db import make_engine

        engine = make_engine(load_settings().database_url)
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # Several API or worker processes may start at once: one migrates, the others wait.
            conn.exec_driver_sql("SELECT pg_advisory_lock(4242001)")
        try:
            context.configure(connection=conn, target_metadata=target_metadata,
                              render_as_batch=conn.dialect.name == "sqlite")
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_unlock(4242001)")
                conn.commit()


run()
