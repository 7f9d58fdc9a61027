"""POST /imports: the history import over HTTP, for integration and admin tokens only."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pytest
from api_support import assert_error, count, make_api

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from test_import import GOOD  # noqa: E402

from pathway.services.history import COLUMNS  # noqa: E402


def as_csv(rows, columns=COLUMNS) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


@pytest.fixture
def api(council):
    return make_api(council)


def test_an_integration_imports_a_csv_body_and_a_resend_changes_nothing(api):
    body = as_csv(GOOD)
    r = api.post("/imports", "integration", content=body, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert (r.json()["new_episodes"], r.json()["new_events"]) == (3, 13)
    assert count(api.engine, "event") == 13 and count(api.engine, "outbox") == 0
    again = api.post("/imports", "integration", content=body, headers={"Content-Type": "text/csv"})
    assert (again.status_code, again.json()["new_events"], again.json()["unchanged_events"]) == (200, 0, 13)
    actors = {h["actor"] for h in api.engine.history(1)}
    assert actors == {api.actors["integration"]}


def test_an_admin_imports_a_form_with_a_mapping(api):
    rows = [dict(r, client_group={"learning_disability": "LD"}.get(r.get("client_group"), r.get("client_group")))
            for r in GOOD]
    columns = ["Case" if c == "episode_ref" else c for c in COLUMNS]
    rows = [{("Case" if k == "episode_ref" else k): v for k, v in r.items()} for r in rows]
    mapping = '[columns]\nepisode_ref = "Case"\n[codes.client_group]\nLD = "learning_disability"\n'
    r = api.post("/imports", "admin", files={"file": ("extract.csv", as_csv(rows, columns), "text/csv")},
                 data={"mapping": mapping})
    assert r.status_code == 200, r.text
    assert r.json()["by_client_group"]["learning_disability"] == 1


def test_a_bad_file_is_422_with_every_bad_row_and_nothing_written(api):
    rows = [dict(r) for r in GOOD]
    rows[3]["trigger"] = "plan"
    rows[0]["client_group"] = "LD"
    body = assert_error(api.post("/imports", "integration", content=as_csv(rows),
                                 headers={"Content-Type": "text/csv"}), 422, "validation_error", "nothing was written")
    assert [e["line"] for e in body["errors"]] == [2, 5] and body["error_count"] == 2
    assert count(api.engine, "episode") == 0


@pytest.mark.parametrize("who", ["manager", "amira"])
def test_only_integration_and_admin_may_import(api, who):
    assert_error(api.post("/imports", who, content=as_csv(GOOD), headers={"Content-Type": "text/csv"}),
                 403, "forbidden", "import history")
    assert count(api.engine, "episode") == 0


def test_a_body_that_is_not_csv(api):
    assert_error(api.post("/imports", "integration", json={"rows": []}), 415, "unsupported_media_type", "text/csv")
    assert_error(api.post("/imports", "integration", files={"other": ("x.csv", b"a,b\n", "text/csv")}),
                 422, "validation_error", "'file' part")
    assert_error(api.post("/imports", "integration", content=b"PK\x03\x04zip", headers={"Content-Type": "text/csv"}),
                 422, "validation_error", "not a CSV text file")
    assert_error(api.post("/imports", "integration", files={"file": ("x.csv", as_csv(GOOD), "text/csv")},
                          data={"mapping": "[columns"}), 422, "validation_error", "not valid TOML")
