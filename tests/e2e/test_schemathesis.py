"""schemathesis against /openapi.json, in process, on PostgreSQL: no generated input may cause a 500.

Each operation is called with a token of a role allowed to use it, so the generated input reaches
the engine's checks rather than stopping at 403. The examples are bounded to keep the run short.
"""

from __future__ import annotations

import pytest
import schemathesis
from api_support import huddle_council, make_api
from hypothesis import HealthCheck, settings

pytestmark = pytest.mark.postgres
EXAMPLES = 20
TOKENS: dict[str, str] = {}  # the current test's tokens, by role (the schema object is copied per operation)

WHO = [  # the first prefix that matches picks the caller
    ("/reports", "integration"), ("/teams/{team}/queue", "amira"), ("/episodes/{episode_id}/claim", "amira"),
    ("/huddle", "manager"), ("/teams", "admin"), ("/workers", "admin"), ("/tokens", "admin"),
    ("/webhooks", "integration"), ("/", "integration"),
]


@pytest.fixture
def api_schema(request, clock):
    request.getfixturevalue("pg_url")
    engine = request.getfixturevalue("council")
    api = make_api(engine)
    huddle_council(engine, clock)
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    TOKENS.clear()
    TOKENS.update(api.tokens)
    return schema


@pytest.fixture
def db_url(pg_url):
    """PostgreSQL only: it refuses more values than SQLite (NUL bytes, 64-bit ids), so it finds more 500s."""
    from conftest import empty_tables

    empty_tables(pg_url)
    return pg_url


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_causes_a_server_error(case):
    who = next(role for prefix, role in WHO if case.operation.path.startswith(prefix))
    headers = {**(case.headers or {}), "Authorization": f"Bearer {TOKENS[who]}"}
    response = case.call(headers=headers)
    assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text[:500])
    kind = response.headers.get("content-type") or ""
    kind = kind[0] if isinstance(kind, list) else kind
    if kind.startswith("application/json") and response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and {"error", "detail"} <= set(body), body
