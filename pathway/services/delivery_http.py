"""The HTTP side of webhook delivery: one pool of kept-alive connections per subscriber, and a check of
every address a host name resolves to before a connection is opened.

A subscriber's URL was checked when it was registered (pathway.domain.destinations); a name can be
re-pointed afterwards, so each new connection resolves the name, refuses it if any of its addresses is
one deliveries may not go to, and connects to the address it checked (never resolving twice). Redirects
are never followed: a 3xx answer is a failed attempt.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpcore

from pathway.domain.destinations import Destination, check_destination, mask, refused_address
from pathway.errors import ValidationError
from pathway.settings import WebhookPolicy

USER_AGENT = b"pathway-webhooks/2"
# An answer's body is not needed: read this much so the connection can be kept, drop it if longer.
ANSWER_BYTES = 65536
CONNECTIONS_PER_SUBSCRIBER = 4  # kept connections to one subscriber, and posts in flight to it at once
KEEPALIVE_SECONDS = 30.0


class RefusedDestination(OSError):
    """A host name resolved to an address deliveries may not go to."""


def resolve(host: str, port: int, allowed_host: bool) -> list:
    """The addresses ``host`` resolves to now; RefusedDestination if any is one deliveries may not go to
    (a name answering with one public and one internal address is refused too); socket.gaierror if it
    does not resolve."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in found]
    for address in addresses:
        why = refused_address(address, allowed_host)
        if why:
            raise RefusedDestination(f"refused: {host} resolves to {address}, {why}")
    return addresses


def check_resolved(destination: Destination) -> None:
    """At registration: ValidationError if the URL's host name resolves to an address deliveries may not
    go to. A name that does not resolve yet is accepted; every delivery resolves it again."""
    if destination.address is not None:
        return
    try:
        resolve(destination.host, destination.port, destination.allowed_host)
    except RefusedDestination as exc:
        raise ValidationError(f"webhook url {mask(destination.url)!r} is {exc} (allowed: public addresses, and "
                              "hosts the webhooks.allow_hosts setting names)", field="url") from None
    except (socket.gaierror, UnicodeError):
        pass


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, connecting only to addresses the destination rules allow."""

    def __init__(self, allowed_host: bool):
        self.allowed_host = allowed_host
        self.inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options=None) -> httpcore.NetworkStream:
        try:
            addresses = resolve(host, port, self.allowed_host)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from None
        # Connect to the address just checked, never to a second answer for the name.
        return self.inner.connect_tcp(str(addresses[0]), port, timeout=timeout, local_address=local_address,
                                      socket_options=socket_options)


class Poster:
    """Posts deliveries, keeping one connection pool per subscriber (and URL and policy) for the process's
    life, and as many threads as a subscriber has connections to post side by side."""

    def __init__(self):
        self.pools: dict[tuple, httpcore.ConnectionPool] = {}
        self.lock = threading.Lock()
        self._threads: ThreadPoolExecutor | None = None

    def map(self, fn, items: list) -> list:
        """``fn`` over ``items`` on the poster's threads (made on first use, so after a worker's fork)."""
        if len(items) <= 1:
            return [fn(item) for item in items]
        with self.lock:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(CONNECTIONS_PER_SUBSCRIBER, thread_name_prefix="webhook-post")
        return list(self._threads.map(fn, items))

    def pool(self, webhook_id: int, destination: Destination) -> httpcore.ConnectionPool:
        key = (webhook_id, destination.url, destination.allowed_host)
        with self.lock:
            pool = self.pools.get(key)
            if pool is None:
                pool = httpcore.ConnectionPool(max_connections=CONNECTIONS_PER_SUBSCRIBER,
                                               keepalive_expiry=KEEPALIVE_SECONDS,
                                               network_backend=GuardedBackend(destination.allowed_host))
                self.pools[key] = pool
        return pool

    def post(self, webhook_id: int, url: str, headers: dict[str, str], body: bytes,
             policy: WebhookPolicy) -> tuple[int | None, str | None, int]:
        """POST ``body``; returns (HTTP status or None, error text or None, milliseconds)."""
        started = time.perf_counter()
        status, error = None, None
        try:
            destination = check_destination(url, policy.allow_hosts, policy.allow_http_hosts)
            pool = self.pool(webhook_id, destination)
            timeout = {"connect": policy.timeout, "read": policy.timeout, "write": policy.timeout,
                       "pool": policy.timeout}
            sent = [(b"Content-Type", b"application/json"), (b"User-Agent", USER_AGENT)]
            sent += [(k.encode(), v.encode()) for k, v in headers.items()]
            with pool.stream("POST", url, headers=sent, content=body, extensions={"timeout": timeout}) as answer:
                status = answer.status
                read = 0
                for chunk in answer.iter_stream():
                    read += len(chunk)
                    if read > ANSWER_BYTES:
                        break
            if 300 <= status < 400:
                error = f"HTTP {status} (a redirect: redirects are not followed)"
            elif not 200 <= status < 300:
                error = f"HTTP {status}"
        except ValidationError as exc:
            error = exc.detail
        except RefusedDestination as exc:
            error = str(exc)
        except httpcore.TimeoutException as exc:
            error = f"timed out after {policy.timeout:g} s ({type(exc).__name__})"
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        return status, (error[:1000] if error else None), int((time.perf_counter() - started) * 1000)

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()
        self.pools.clear()
