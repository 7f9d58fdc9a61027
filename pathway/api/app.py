"""The FastAPI application: ``create_app(engine)`` wires the routes, the error body and the request log."""

from __future__ import annotations

import json
import logging
import time

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from pathway.api import docs, errors, guard, imports
from pathway.api.app_paths import STATIC
from pathway.api.routes import (
    admin,
    audit,
    duty,
    episodes,
    events,
    health,
    huddle,
    listing,
    reports,
    scrutiny,
    staff,
    workforce,
)
from pathway.api.security import SecurityHeaders

log = logging.getLogger("pathway.http")


class RequestLog:
    """One JSON line per request: method, path, status, ms, actor. Never the query string (the board's
    first load may carry a token there) nor a body (it may carry a person's reference)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            if log.isEnabledFor(logging.INFO):
                log.info(json.dumps({
                    "method": scope["method"], "path": scope["path"], "status": status,
                    "ms": round((time.perf_counter() - start) * 1000, 1),
                    "actor": scope.get("state", {}).get("actor"),
                }))


def create_app(engine=None) -> FastAPI:
    """The API and the huddle board on ``engine`` (default: ``Engine()`` on the configured database)."""
    if engine is None:
        from pathway import Engine

        engine = Engine(actor="api", migrate=None)  # `pathway serve` migrated it as it started
    app = FastAPI(
        title="Three Conversations pathway engine",
        version="0.1.0",
        docs_url=None, redoc_url=None,  # served from packaged assets instead (pathway/api/docs.py)
        description="Episodes, queues, waits and reports over HTTP. Every call but /health carries "
                    "`Authorization: Bearer <token>`; errors are `{\"error\": CODE, \"detail\": TEXT, …}`.",
    )
    app.state.engine = engine
    imports.clear_spool(engine.settings.security)  # uploads a killed process left behind
    errors.install(app)
    docs.install(app)  # /docs, offline
    app.include_router(imports.router)  # POST /imports: history in (pathway/api/imports.py)
    for module in (health, episodes, listing, duty, reports, admin, staff, events, huddle, workforce, scrutiny, audit):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(guard.Guard, engine=engine)
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    app.add_middleware(SecurityHeaders)  # every response (pathway/api/security.py)
    app.add_middleware(RequestLog)
    return app
