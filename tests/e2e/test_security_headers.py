"""Every response carries the security headers, on a real uvicorn server: every route of the OpenAPI
document (whatever it answers), the board, its sign-in page, its static files and a 404."""

from __future__ import annotations

import re

import httpx
import pytest
from api_support import huddle_council, live_server, make_api

from pathway.api.security import CSP

SAMPLE = {"team": "north", "worker": "amira", "episode_id": "1", "id": "1", "webhook_id": "1", "token_id": "1"}
EXPECTED = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def check(response: httpx.Response, where: str) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (where, name, response.headers.get(name))
    assert "server" not in response.headers, (where, response.headers.get("server"))
    if not where.split("?")[0].startswith("/static/"):
        assert response.headers["cache-control"] == "no-store", (where, response.headers.get("cache-control"))


def test_the_policy_is_strict():
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
    assert "frame-ancestors 'none'" in CSP and "default-src 'self'" in CSP


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_route_answers_with_the_security_headers(council, clock):
    api = make_api(council)
    huddle_council(council, clock)
    # a generous timeout: the walk is of every route, on a machine that may be busy
    with live_server(council) as base, httpx.Client(base_url=base, timeout=30) as http:
        spec = http.get("/openapi.json")
        check(spec, "/openapi.json")
        walked = 0
        for path, methods in spec.json()["paths"].items():
            url = re.sub(r"\{(\w+)\}", lambda m: SAMPLE.get(m.group(1), "1"), path)
            for method in methods:
                for who in (None, "manager"):
                    headers = {"Authorization": f"Bearer {api.tokens[who]}"} if who else {}
                    check(http.request(method.upper(), url, headers=headers, json={}), f"{method} {url} as {who}")
                    walked += 1
        assert walked > 40
        # the board's own pages, which a browser opens
        check(http.get("/huddle/north"), "sign-in page")
        check(http.get("/huddle/north", params={"token": api.tokens["manager"]}), "sign-in by link")
        signed_in = http.get("/huddle/north", params={"token": api.tokens["manager"]}, follow_redirects=True)
        assert signed_in.status_code == 200 and "Huddle" in signed_in.text
        check(signed_in, "the board")
        check(http.get("/huddle/north/data"), "the board's data")
        check(http.get("/no/such/page"), "a 404")
        # the API's reference keeps the same policy: no inline script (pathway/api/docs.py)
        docs = http.get("/docs")
        check(docs, "/docs")
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", docs.text) == [], "an inline script on /docs"
        init = re.search(r'<script src="(/static/swagger-init\.js\?v=\w+)"', docs.text).group(1)
        assert http.get(init).status_code == 200
        icon = http.get("/favicon.ico", follow_redirects=True)
        assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
        static = http.get("/static/huddle.css")
        check(static, "/static/huddle.css")
        assert static.headers["cache-control"] == "no-cache"
        hashed = re.search(r'href="(/static/huddle\.css\?v=\w+)"', signed_in.text).group(1)
        assert http.get(hashed).headers["cache-control"] == "public, max-age=31536000, immutable"
