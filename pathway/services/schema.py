"""The database schema's use case: bring a database up to date with the migrations."""

from __future__ import annotations

from pathway.services.environment import open_database, prepare_schema
from pathway.settings import Settings, load_settings
from pathway.store.db import current_heads


def upgrade_schema(settings: Settings | None = None) -> tuple[set[str], str]:
    """Apply the migrations to the configured database (safe to run again): (the schema's heads, the
    database's URL without its password)."""
    settings = settings or load_settings()
    engine = open_database(settings.database_url, 1)
    try:
        prepare_schema(engine, True)
        return current_heads(engine), engine.url.render_as_string()
    finally:
        engine.dispose()
