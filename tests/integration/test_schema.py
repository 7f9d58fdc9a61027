"""The migrations build exactly the tables the models describe, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from pathway.store.db import current_heads, script_heads


def test_migrations_match_the_models(engine):
    assert current_heads(engine.db) == script_heads(engine.db)
    with engine.db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_upgrade_twice_changes_nothing(engine):
    from pathway.store.db import upgrade

    upgrade(engine.db)
    assert current_heads(engine.db) == script_heads(engine.db)
