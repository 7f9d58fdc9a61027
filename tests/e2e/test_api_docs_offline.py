"""The API's reference works offline: no page the server sends refers to another host, and in Chromium,
with every request to another host refused, Swagger UI draws the API."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlparse

import pytest
from api_support import live_server, make_api
from test_huddle_browser import browser  # noqa: F401  (the fixture)

# Where a page refers to something it loads or links: attributes, CSS url() and @import.
REFERENCES = re.compile(r"""(?:src|href|action)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)["']?\s*\)"""
                        r"""|@import\s+["']([^"']+)["']""")
HOST = "testserver"


def references(text: str) -> list[str]:
    return [next(g for g in m.groups() if g) for m in REFERENCES.finditer(text)]


def html_pages(app) -> list[str]:
    """Every GET path of the app that needs no parameter (the reference pages, the board's sign-in, …)."""
    paths = {getattr(r, "path", "") for r in app.routes if "GET" in getattr(r, "methods", ())}
    return sorted(p for p in paths if p and "{" not in p)


def test_no_page_the_server_sends_refers_to_another_host(council):
    api = make_api(council)
    checked = []
    for path in [*html_pages(api.client.app), "/huddle/north"]:
        r = api.get(path, "manager")
        if "html" not in r.headers.get("content-type", ""):
            continue
        checked.append(path)
        for ref in references(r.text):
            url = urljoin(f"http://{HOST}{path}", ref)
            assert urlparse(url).netloc in ("", HOST), f"{path} refers to {ref}"
            if url.endswith(".css"):  # what a style sheet itself loads
                css = api.client.get(url)
                assert css.status_code == 200, url
                for inner in references(css.text):
                    if not inner.startswith("data:"):
                        assert urlparse(urljoin(url, inner)).netloc in ("", HOST), f"{url} refers to {inner}"
            elif urlparse(url).path.startswith(("/docs-assets/", "/static/")):
                assert api.client.get(url).status_code == 200, url
    assert {"/docs", "/huddle/north"} <= set(checked)
    assert api.get("/redoc").status_code == 404  # ReDoc's page would load its logo from its maker's site


@pytest.mark.browser
def test_swagger_ui_draws_the_api_with_every_other_host_refused(browser, council):  # noqa: F811
    path, drawn = "/docs", ".swagger-ui .info .title"
    with live_server(council) as base:
        page = browser.new_page()
        elsewhere, errors = [], []
        page.on("pageerror", lambda e: errors.append(str(e)))

        def only_ours(route):
            if route.request.url.startswith(base) or route.request.url.startswith("data:"):
                route.continue_()
            else:
                elsewhere.append(route.request.url)
                route.abort()

        page.route("**/*", only_ours)
        page.goto(f"{base}{path}")
        page.wait_for_selector(drawn, timeout=20_000)
        assert "Three Conversations pathway engine" in page.inner_text(drawn)
        page.wait_for_load_state("networkidle")
        assert elsewhere == [], elsewhere
        assert errors == [], errors
