"""Whether the engine's database and broker answer: what ``GET /health`` and deployment checks ask."""

from __future__ import annotations

from pathway.store.unit import Store


def database(store: Store) -> str:
    """"ok" when the database answers a query, else "unreachable"."""
    try:
        with store.unit(write=False) as uow:
            uow.episodes.ping()
        return "ok"
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return "unreachable"


def broker(url: str | None) -> str:
    """"eager" with no broker (background tasks run in the request), "ok" when Redis answers, else
    "unreachable"."""
    if not url:
        return "eager"
    try:
        if url.startswith(("redis://", "rediss://")):
            import redis

            client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
            try:
                client.ping()
            finally:
                client.close()
        return "ok"
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return "unreachable"
