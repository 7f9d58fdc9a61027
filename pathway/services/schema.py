"""The database schema's use case: bring a database up to date with the migrations."""

from __future__ import annotations

from pathway.settings import Settings, load_settings
from pathway.store.db import current_heads, make_engine, upgrade


def upgrade_schema(settings: Settings | None = None) -> tuple[set[str], str]:
    """Apply the migrations to the configured database (safe to run again): (the schema's heads, the
    database's URL without its password)."""
    settings = settings or load_settings()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        return current_heads(engine), engine.url.render_as_string()
    finally:
        engine.dispose()
