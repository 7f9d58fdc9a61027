"""Every report over HTTP is typed: /openapi.json names each field of each report's rows, with its type,
and the rows the reports send carry exactly those fields."""

from __future__ import annotations

import pytest
from api_support import make_api

from pathway.services import audits, scrutiny
from pathway.services.reports import SHAPES

SHAPES = {**SHAPES, **scrutiny.SHAPES, "audits": audits.SHAPE}

# Each report route and the shapes its rows may take (caseloads: per worker, or per team).
ROUTES = {
    "/reports/waits": ["waits"], "/reports/allocation": ["allocation"], "/reports/trends": ["trends"],
    "/reports/outcomes": ["outcomes"], "/reports/forecast": ["forecast"],
    "/reports/caseloads": ["caseloads", "caseloads_by_team"],
    "/reports/supervision": ["supervision", "supervision_by_manager"],
    "/reports/three_conversations": ["three_conversations"], "/reports/first_conversation": ["first_conversation"],
    "/reports/conversations": ["conversations"], "/reports/welfare_checks": ["welfare_checks"],
    "/reports/audits": ["audits"],
}
NOT_JSON = {"/reports/pack"}  # the scrutiny pack is an HTML document


def _fields(name: str) -> list[str]:
    shape = SHAPES[name]
    return [*shape.heads, *shape.groupings, *shape.figures]


def _row_schemas(spec: dict, path: str) -> list[dict]:
    reply = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert reply["type"] == "array", (path, reply)
    items = reply["items"]
    refs = [s["$ref"] for s in items.get("anyOf", [items])]
    return [spec["components"]["schemas"][ref.rsplit("/", 1)[-1]] for ref in refs]


def _typed(prop: dict) -> bool:
    """A field the schema gives a type: a type, a format or a union of typed alternatives."""
    if "anyOf" in prop:
        return all(_typed(p) for p in prop["anyOf"])
    return "type" in prop


@pytest.fixture
def api(council, clock):
    api = make_api(council)
    clock.set("2026-05-01T09:00:00+00:00")
    api.waiting("LAS-1", client_group="mental_health")
    api.waiting("LAS-2", client_group="unknown", team="south")
    clock.set("2026-05-20T12:00:00+00:00")
    return api


def test_openapi_names_every_field_of_every_report(api):
    spec = api.get("/openapi.json").json()
    reports = {p for p in spec["paths"] if p.startswith("/reports/")} - NOT_JSON
    assert reports == set(ROUTES), "a report route without a typed reply shape here"
    for path, shapes in ROUTES.items():
        schemas = _row_schemas(spec, path)
        assert [sorted(s["properties"]) for s in schemas] == [sorted(_fields(n)) for n in shapes], path
        for schema, name in zip(schemas, shapes, strict=True):
            assert schema.get("additionalProperties") is False, (path, "a row with fields the schema does not name")
            shape = SHAPES[name]
            # The groupings are optional (present when asked for); heads and figures always come.
            assert set(schema["required"]) == {*shape.heads, *shape.figures}, path
            for field, prop in schema["properties"].items():
                assert _typed(prop), (path, field, prop)
    waits = _row_schemas(spec, "/reports/waits")[0]["properties"]
    assert waits["waiting"]["type"] == "integer"
    assert {p["type"] for p in waits["median_days"]["anyOf"]} == {"number", "null"}


@pytest.mark.parametrize("path, params", [
    ("/reports/waits", {"group_by": "client_group,stage,team,priority"}),
    ("/reports/waits", {"group_by": ""}),
    ("/reports/allocation", {"group_by": "team", "from": "2026-05-01", "to": "2026-05-20"}),
    ("/reports/trends", {"group_by": "client_group", "from": "2026-04-01"}),
    ("/reports/outcomes", {"group_by": "team", "from": "2026-05-01"}),
    ("/reports/forecast", {"group_by": "team,stage"}),
    ("/reports/caseloads", {}),
    ("/reports/caseloads", {"by": "team"}),
    ("/reports/three_conversations", {"by": "week", "from": "2026-05-01"}),
    ("/reports/first_conversation", {"from": "2026-05-01"}),
    ("/reports/conversations", {"by": "month", "from": "2026-04-01"}),
    ("/reports/welfare_checks", {"from": "2026-05-01"}),
    ("/reports/audits", {"from": "2026-01-01", "by": "council"}),
])
def test_the_rows_sent_are_the_rows_described(api, path, params):
    r = api.get(path, "integration", params=params)
    assert r.status_code == 200, r.text
    rows = r.json()
    assert rows
    group_by = [g for g in params.get("group_by", "").split(",") if g]
    if path == "/reports/waits":  # the Python library's rows, field for field
        assert rows == api.engine.reports.waits(group_by=group_by)
    name = "caseloads_by_team" if params.get("by") == "team" else ROUTES[path][0]
    shape = SHAPES[name]
    # The groupings asked for and no others, in the schema's order (client_group, stage, team, priority).
    for row in rows:
        assert list(row) == [*shape.heads, *(g for g in shape.groupings if g in group_by), *shape.figures]
