"""The API's reference page, Swagger UI at ``/docs``, served from assets packaged with the engine (the
``fastapi-offline`` package): no page the server sends loads anything from another host, so the reference
works on a council network without the internet. (No ReDoc: its page loads its logo from its maker's site.)

The page keeps the security policy every response carries (pathway/api/security.py: scripts from this
server only, no inline script): Swagger UI is started by a static file of the engine's own
(``pathway/web/static/swagger-init.js``), which reads where the API's document is from the page."""

from __future__ import annotations

from html import escape
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from pathway.api.security import asset_url

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_PATH = "/docs-assets"
PAGE = """<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{init}"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """Serve ``/docs`` (the app is made with ``docs_url=None, redoc_url=None``)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return HTMLResponse(PAGE.format(title=escape(f"{app.title} — Swagger UI"), assets=escape(root + ASSETS_PATH),
                                        openapi=escape(f"{root}{app.openapi_url}"),
                                        init=escape(root + asset_url("swagger-init.js"))))
