"""The API's outer guard, before any route runs: who the client is, sign-in limits, body limits and
errors that must not leak.

- A request that carries a body (POST, PUT, PATCH, DELETE) is authenticated before one byte of the
  body is read: no token, or a bad one, is 401 at once.
- A body larger than its limit (``security.json_body_max``; an import ``security.import_body_max``)
  is 413 naming the limit, from its Content-Length or as soon as the bytes read pass it.
- A client address with ``security.auth_failures`` refused sign-ins in ``security.auth_window_seconds``
  is 429 until the window moves on.
- An unexpected error is a 500 with the standard body, logged as its type and where it was raised:
  never its message or a database's bound values (they may hold a person's reference).
"""

from __future__ import annotations

import collections
import ipaddress
import logging
import re
import threading
import time
import traceback

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from pathway.api.deps import COOKIE, GUARD_ACTOR, SIGN_IN_REFUSED, actor_of, bearer_token
from pathway.api.errors import error_response
from pathway.errors import PathwayError
from pathway.settings import Security

log = logging.getLogger("pathway.http")

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Writes that need no sign-in before the body: the board's sign-in form carries its token in the body
# (the route checks it), and signing out only ends the session the cookie names.
OPEN_WRITES = re.compile(r"/huddle/[^/]+/(?:session|logout)")
SIGN_IN_FORM = re.compile(r"/huddle/[^/]+/session")  # carries a token in its body
IMPORT_PATHS = frozenset({"/imports"})


def client_address(scope, security: Security) -> str:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the nearest address in
    X-Forwarded-For that is not one."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    if not security.trusted_proxies or not _trusted(peer, security):
        return peer
    forwarded = _header(scope, b"x-forwarded-for")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()] if forwarded else []
    for hop in reversed(hops):
        if not _trusted(hop, security):
            return hop
    return hops[0] if hops else peer


def came_over_https(scope, security: Security) -> bool:
    """Whether the client reached us over https: directly, or through a trusted proxy that says so
    (X-Forwarded-Proto), as a TLS-terminating proxy does. Secure cookies follow this."""
    if scope.get("scheme") == "https":
        return True
    peer = (scope.get("client") or ("", 0))[0]
    proto = _header(scope, b"x-forwarded-proto")
    return bool(proto) and _trusted(peer, security) and proto.split(",")[0].strip().lower() == "https"


def _trusted(address: str, security: Security) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for proxy in security.trusted_proxies:
        try:
            if ip in ipaddress.ip_network(proxy, strict=False):
                return True
        except ValueError:
            continue
    return False


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class SignInLimit:
    """Refused sign-ins per client address over a sliding window (in this process)."""

    def __init__(self, security: Security):
        self.limit, self.window = security.auth_failures, security.auth_window_seconds
        self.failures: dict[str, collections.deque] = {}
        self.lock = threading.Lock()

    def _recent(self, address: str, now: float) -> collections.deque | None:
        found = self.failures.get(address)
        while found and found[0] <= now - self.window:
            found.popleft()
        if found is not None and not found:
            del self.failures[address]
            return None
        return found

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None if it may now."""
        now = time.monotonic()
        with self.lock:
            found = self._recent(address, now)
            if found is None or len(found) < self.limit:
                return None
            return max(1, int(found[0] + self.window - now) + 1)

    def failed(self, address: str) -> None:
        now = time.monotonic()
        with self.lock:
            if len(self.failures) > 100_000:  # a flood of addresses: forget the quiet ones
                for quiet in [a for a in self.failures if self._recent(a, now) is None]:
                    self.failures.pop(quiet, None)
            self.failures.setdefault(address, collections.deque()).append(now)


def too_large(limit: int, what: str) -> HTTPException:
    return HTTPException(413, f"the request body is larger than {limit} bytes, the limit for {what}")


class Guard:
    """ASGI middleware: sign-in limits, authentication before the body, body limits, quiet 500s."""

    def __init__(self, app, engine):
        self.app = app
        self.engine = engine
        self.security: Security = engine.settings.security
        self.limit = SignInLimit(self.security)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def send_noted(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                refused = message["status"] == 401 or scope.get("state", {}).get(SIGN_IN_REFUSED)
                if refused and credentials:
                    self.limit.failed(address)
            await send(message)

        address = client_address(scope, self.security)
        credentials = _carries_credentials(scope)
        scope.setdefault("state", {})  # shared with the route, which may mark a refused sign-in
        try:
            early = await self.refuse_early(scope, address, credentials)
            if early is not None:
                return await early(scope, receive, send_noted)
            await self.app(scope, self.limited(scope, receive), send_noted)
        except Exception as exc:  # noqa: BLE001 - the last place an error can be kept out of the logs
            where = traceback.extract_tb(exc.__traceback__)[-1]
            log.error("unexpected %s at %s:%s in %s on %s %s", type(exc).__name__, where.filename, where.lineno,
                      where.name, scope["method"], scope["path"])
            if not started:
                await error_response(500, "server_error", "the engine failed to answer; the error is logged "
                                                          "(without the request's values)")(scope, receive, send)

    async def refuse_early(self, scope, address: str, credentials: bool):
        """The response that ends the request before the app runs, or None to run it."""
        wait = self.limit.retry_after(address) if credentials else None
        if wait is not None:
            response = error_response(429, "too_many_requests",
                                      f"too many refused sign-ins from this address; try again in {wait} seconds",
                                      retry_after=wait)
            response.headers["Retry-After"] = str(wait)
            return response
        size, what = self.body_limit(scope)
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isascii() or not declared.isdigit() or int(declared) > size):
            return error_response(413, "too_large", too_large(size, what).detail)
        if scope["method"] not in BODY_METHODS or OPEN_WRITES.fullmatch(scope["path"]):
            return None
        header = _header(scope, b"authorization")
        cookie = None if header else _cookie(scope)
        try:
            actor = await run_in_threadpool(actor_of, self.engine, bearer_token(header, cookie), cookie is not None)
        except PathwayError as exc:  # Unauthorized: no token, or one unknown, revoked or expired, or no live session
            return error_response(exc.http_status, exc.code, exc.detail)
        scope.setdefault("state", {})[GUARD_ACTOR] = actor
        return None

    def body_limit(self, scope) -> tuple[int, str]:
        """The most bytes the request's body may have, and the setting that says so."""
        if scope["path"] in IMPORT_PATHS:
            return self.security.import_body_max, "an import (security.import_body_max)"
        return self.security.json_body_max, "a request (security.json_body_max)"

    def limited(self, scope, receive):
        """``receive``, refusing the body once it passes its limit (whatever Content-Length said)."""
        size, what = self.body_limit(scope)
        seen = 0

        async def receive_limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > size:
                    raise too_large(size, what)
            return message

        return receive_limited


def _carries_credentials(scope) -> bool:
    return (_header(scope, b"authorization") is not None or _cookie(scope) is not None
            or b"token=" in scope.get("query_string", b"")
            or (scope["method"] == "POST" and SIGN_IN_FORM.fullmatch(scope["path"]) is not None))


def _cookie(scope) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    for part in raw.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None
