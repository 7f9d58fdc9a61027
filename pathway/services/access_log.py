"""The access log: every read of a person's episode or its events by a token is recorded
(who, which episode, when, by which route), so a council can answer who looked at whose record.
Only those four things: never a request's body or a person's reference."""

from __future__ import annotations

from pathway.errors import ValidationError

MAX_LISTED = 1000


def record(engine, actor: str, episode_ids, route: str) -> None:
    """Record that ``actor`` read each of ``episode_ids`` by ``route`` (e.g. ``GET /episodes/42``)."""
    now = engine.now()
    rows = [{"at": now, "actor": actor, "episode_id": i, "route": route[:200]} for i in dict.fromkeys(episode_ids)]
    with engine.store.unit() as uow:
        uow.access.record(rows)


def reads(engine, *, episode: int | None = None, actor: str | None = None, after: int = 0,
          limit: int = 100) -> dict:
    """Reads, oldest first: ``{items, next_cursor}`` (pass ``next_cursor`` as ``after`` for the next page)."""
    if not 1 <= limit <= MAX_LISTED:
        raise ValidationError(f"limit is 1-{MAX_LISTED}, not {limit}", field="limit")
    with engine.store.unit(write=False) as uow:
        items = uow.access.reads(episode_id=episode, actor=actor, after_id=after, limit=limit)
    return {"items": items, "next_cursor": items[-1]["id"] if len(items) == limit else None}
