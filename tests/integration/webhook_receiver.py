"""A real HTTP server for webhook tests: records what it is sent and answers as told."""

from __future__ import annotations

import http.server
import json
import threading
import time


class Receiver:
    """Listens on 127.0.0.1; ``status`` is the answer (or a list of answers, one per request, the
    last repeated, or a function of the request: path, headers, body); ``delay`` seconds before answering makes a
    subscriber that times out; ``headers`` are added to every answer (a redirect's Location)."""

    def __init__(self, status=200, delay: float = 0.0, headers: dict | None = None):
        self.status = status
        self.delay = delay
        self.headers = headers or {}
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": raw})
                    if callable(receiver.status):
                        code = receiver.status(receiver.requests[-1])
                    else:
                        answers = receiver.status if isinstance(receiver.status, list) else [receiver.status]
                        code = answers[min(len(receiver.requests), len(answers)) - 1]
                    receiver.requests[-1]["answer"] = code
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(code)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def messages(self) -> list[dict]:
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict]:
        """Block until ``count`` requests have arrived (or the timeout passes); returns the requests."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.05)
        with self.lock:
            return list(self.requests)


# Deliveries to this receiver are to 127.0.0.1 over plain http: allowed only when a setting says so,
# so every test and benchmark that uses it names the allowance (the default stays strict).
LOCAL = {"allow_hosts": ("127.0.0.1",), "allow_http_hosts": ("127.0.0.1",)}
