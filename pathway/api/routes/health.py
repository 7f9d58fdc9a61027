"""Liveness, with the database's and the broker's reachability."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from pathway.api import schemas
from pathway.api.deps import get_engine

router = APIRouter(tags=["health"])


def _broker(url: str | None) -> str:
    if not url:
        return "eager"  # no broker: background tasks run in the request
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


@router.get("/health", response_model=schemas.Health, responses={503: {"model": schemas.Health}})
def health(engine=Depends(get_engine)):
    """Anyone: 200 when the database answers (503 when not); the broker's state is reported."""
    try:
        with engine.transaction(write=False) as conn:
            conn.exec_driver_sql("SELECT 1")
        database = "ok"
    except Exception:  # noqa: BLE001
        database = "unreachable"
    broker = _broker(engine.settings.broker_url)
    ok = database == "ok"
    return JSONResponse({"status": "ok" if ok else "degraded", "database": database, "broker": broker},
                        status_code=200 if ok else 503)
