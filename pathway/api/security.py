"""The headers every response carries: a strict Content-Security-Policy, no framing, no sniffing, no
referrer, and no caching of anything but the board's content-hashed static files.

Everything the board loads is its own (no CDN, no inline script or style), so the policy can allow
``'self'`` alone. Static files are asked for with ``?v=<content hash>`` (:func:`asset_url`): those may
be cached for a year, since a new file has a new address; every other answer (sign-in pages, the
board, its data, the API) is ``no-store``, as it may name people or carry a session.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from pathway.api.app_paths import STATIC

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
NO_STORE = "no-store"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"  # a static file asked for without its hash: keep, but ask again each time
STATIC_PREFIX = "/static/"
DOCS_ASSETS_PREFIX = "/docs-assets/"  # Swagger UI's packaged files (pathway/api/docs.py): no hash in their names


@lru_cache(maxsize=64)
def asset_url(path: str) -> str:
    """The address of a static file with its content hash, so it can be cached until it changes."""
    digest = hashlib.sha256((STATIC / path).read_bytes()).hexdigest()[:12]
    return f"{STATIC_PREFIX}{path}?v={digest}"


def _cache_control(scope) -> str:
    if scope["path"].startswith(STATIC_PREFIX):
        return IMMUTABLE if b"v=" in scope.get("query_string", b"") else REVALIDATE
    if scope["path"].startswith(DOCS_ASSETS_PREFIX):
        return REVALIDATE
    return NO_STORE


class SecurityHeaders:
    """ASGI middleware: sets :data:`HEADERS` and a Cache-Control on every HTTP response, and drops any
    ``server`` header an inner layer added (the server's own banner is turned off where it starts)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        cache = _cache_control(scope)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in (b"server", b"cache-control", *(h.encode() for h in HEADERS))]
                headers += [(k.encode(), v.encode()) for k, v in HEADERS.items()]
                headers.append((b"cache-control", cache.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
