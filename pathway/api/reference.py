"""The HTTP API's reference page, ``docs/http-reference.md``, generated from the OpenAPI document the
server publishes (every path, its parameters, body fields and replies), so the page cannot drift from
the code: ``python -m pathway.api.reference > docs/http-reference.md``; ``tests/unit/test_docs.py``
fails when the committed page is stale."""

from __future__ import annotations

import sys

HEAD = """# HTTP reference

Generated from the OpenAPI document (`GET /openapi.json`) by `python -m pathway.api.reference`:
every path with its parameters, body fields and replies. The rules around them (roles, errors,
idempotency, `ETag` and `If-Match`) are on [HTTP API](http.md); the running server draws the same
document at `/docs`.
"""
METHODS = ("get", "post", "put", "patch", "delete")


def openapi() -> dict:
    """The OpenAPI document of the app, without a database (the engine is never asked)."""
    from pathway.api.app import create_app
    from pathway.services.engine import Engine

    engine = Engine("sqlite://", migrate=False)
    try:
        return create_app(engine).openapi()
    finally:
        engine.dispose()


def _type(schema: dict, schemas: dict) -> str:
    """A schema as a short type: ``string``, ``integer or null``, ``EpisodePublic``, ``list of …``."""
    if "$ref" in schema:
        return f"`{schema['$ref'].rsplit('/', 1)[1]}`"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(dict.fromkeys(_type(s, schemas) for s in schema[key]))
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}), schemas)}"
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    return kind + (f" ({schema['format']})" if "format" in schema else "")


def _cell(text) -> str:
    return " ".join(str(text or "").split()).replace("|", "\\|")


def _fields(schema: dict, schemas: dict) -> list[str]:
    if "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
    properties = schema.get("properties", {})
    if not properties:
        return []
    required = set(schema.get("required", ()))
    rows = ["| field | type | required | meaning |", "| --- | --- | --- | --- |"]
    for name, prop in properties.items():
        rows.append(f"| `{name}` | {_type(prop, schemas)} | {'yes' if name in required else ''} | "
                    f"{_cell(prop.get('description'))} |")
    return rows


def markdown(document: dict) -> str:
    """The reference page for an OpenAPI document."""
    schemas = document.get("components", {}).get("schemas", {})
    out = [HEAD]
    by_tag: dict[str, list[tuple[str, str, dict]]] = {}
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                operation = item[method]
                by_tag.setdefault((operation.get("tags") or ["other"])[0], []).append((method, path, operation))
    for tag, operations in by_tag.items():
        out.append(f"## {tag.capitalize()}\n")
        for method, path, operation in operations:
            out.append(f"### `{method.upper()} {path}`\n")
            text = (operation.get("description") or operation.get("summary") or "").strip()
            if text:
                out.append(text + "\n")
            parameters = [p for p in operation.get("parameters", []) if p.get("in") != "header"
                          or p["name"] in ("Idempotency-Key", "If-Match")]
            if parameters:
                out.append("| parameter | in | type | required | meaning |\n| --- | --- | --- | --- | --- |")
                for p in parameters:
                    out.append(f"| `{p['name']}` | {p['in']} | {_type(p.get('schema', {}), schemas)} | "
                               f"{'yes' if p.get('required') else ''} | {_cell(p.get('description'))} |")
                out.append("")
            body = operation.get("requestBody", {}).get("content", {})
            for media, content in body.items():
                rows = _fields(content.get("schema", {}), schemas)
                out.append(f"Body ({media}):\n")
                out.extend([*rows, ""] if rows else [f"{_type(content.get('schema', {}), schemas)}\n"])
            replies = [f"{status} {_cell(reply.get('description'))}"
                       + "".join(f" ({_type(c.get('schema', {}), schemas)})"
                                 for c in reply.get("content", {}).values() if c.get("schema"))
                       for status, reply in operation.get("responses", {}).items()]
            out.append("Replies: " + "; ".join(replies) + ".\n")
    out.append("## Shapes\n")
    for name, schema in sorted(schemas.items()):
        rows = _fields(schema, schemas)
        if rows:
            about = [_cell(schema["description"]) + "\n"] if schema.get("description") else []
            out.extend([f"### `{name}`\n", *about, *rows, ""])
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown(openapi()))
