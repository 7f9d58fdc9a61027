"""Liveness, with the database's and the broker's reachability."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from pathway.api import schemas
from pathway.api.deps import get_engine
from pathway.services import health as health_checks

router = APIRouter(tags=["health"])


@router.get("/health", response_model=schemas.Health, responses={503: {"model": schemas.Health}})
def health(engine=Depends(get_engine)):
    """Anyone: 200 when the database answers (503 when not); the broker's state is reported."""
    database = health_checks.database(engine.store)
    broker = health_checks.broker(engine.settings.broker_url)
    ok = database == "ok"
    return JSONResponse({"status": "ok" if ok else "degraded", "database": database, "broker": broker},
                        status_code=200 if ok else 503)
