"""docs/http-reference.md is the page generated from the OpenAPI document today."""

from pathlib import Path

from pathway.api.reference import markdown, openapi

PAGE = Path(__file__).resolve().parents[2] / "docs" / "http-reference.md"


def test_the_http_reference_is_current():
    assert PAGE.read_text() == markdown(openapi()), "run `python -m pathway.api.reference > docs/http-reference.md`"


def test_every_path_and_method_is_on_the_page():
    document = openapi()
    text = PAGE.read_text()
    for path, item in document["paths"].items():
        for method in item:
            assert f"### `{method.upper()} {path}`" in text
    assert "### `GET /teams`" in text and "### `GET /workers`" in text
