"""Events for back ends over HTTP: the event feed, destinations refused, secrets shown once, the delivery
log, redelivery and rotation."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from api_support import assert_error, count, make_api
from standardwebhooks import Webhook

from pathway.settings import WebhookPolicy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from webhook_receiver import LOCAL, Receiver  # noqa: E402


@pytest.fixture
def api(council):
    return make_api(council)


# The registrations an integration or admin token once made (all were 201).
FOUND = ["https://169.254.169.254/latest/meta-data/", "https://10.0.0.5/hook", "https://localhost/hook",
         "https://0.0.0.0/hook", "https://2130706433/hook", "https://0x7f.1/hook",
         "https://metadata.google.internal/computeMetadata/v1/", "http://backend.example/hook",
         "https://user:pw@backend.example/hook"]


def test_internal_destinations_are_422_for_every_token_and_nothing_is_written(api):
    for who in ("admin", "integration"):
        for url in FOUND:
            r = api.post("/webhooks", who, json={"url": url, "events": ["episode.refer"]})
            assert_error(r, 422, "validation_error", "url")
            assert "pw@" not in r.text
    assert count(api.engine, "webhook") == 0


def test_a_made_secret_is_shown_once_and_a_retry_is_409_without_it(api):
    body = {"url": "https://backend.example/hook", "events": ["episode.refer"], "idempotency_key": "hook-1"}
    made = api.post("/webhooks", "integration", json=body)
    assert made.status_code == 201, made.text
    secret = made.json()["secret"]
    assert secret.startswith("whsec_")
    again = api.post("/webhooks", "integration", json=body)
    assert_error(again, 409, "conflict", "shown only once")
    assert secret not in again.text
    with api.engine.transaction(write=False) as conn:
        stored = " ".join(str(r[0]) for r in conn.exec_driver_sql("SELECT response FROM api_request"))
    assert secret not in stored
    listed = api.get("/webhooks", "admin")
    assert listed.status_code == 200 and secret not in listed.text
    assert_error(api.get("/webhooks", "manager"), 403, "forbidden")


def test_the_event_feed_for_back_ends(api):
    first = api.contact("LAS-1")
    api.fire(first["id"], "refer")
    api.contact("LAS-2", team="south")
    api.engine.relay_outbox()
    page = api.get("/events?after=0&limit=2", "integration")
    assert page.status_code == 200, page.text
    items = page.json()["items"]
    assert [(i["type"], i["data"]["person_ref"]) for i in items] == [
        ("episode.record_contact", "LAS-1"), ("episode.refer", "LAS-1")]
    rest = api.get("/events", "integration", params={"after": page.json()["next_cursor"]}).json()
    assert [i["data"]["person_ref"] for i in rest["items"]] == ["LAS-2"]
    south = api.get("/events?team=south&kind=episode.record_contact,episode.refer", "admin").json()
    assert [i["data"]["person_ref"] for i in south["items"]] == ["LAS-2"]
    for who in ("manager", "amira"):
        assert_error(api.get("/events", who), 403, "forbidden")


@pytest.mark.parametrize("query, words", [
    ("after=bogus", ["after", "not one the feed gave"]), ("limit=0", ["limit", "1 to 1000"]),
    ("limit=5000", ["limit"]), ("limit=many", ["limit"]), ("kind=episode.party", ["episode.party"]),
    ("team=east", ["east", "north"]),
])
def test_bad_feed_requests_are_422(api, query, words):
    before = count(api.engine, "outbox")
    assert_error(api.get(f"/events?{query}", "integration"), 422, "validation_error", *words)
    assert count(api.engine, "outbox") == before


def test_the_delivery_log_redelivery_and_rotation_over_http(api):
    api.engine.settings = api.engine.settings.model_copy(update={"webhooks": WebhookPolicy(**LOCAL, timeout=2)})
    with Receiver() as rx:
        made = api.post("/webhooks", "integration", json={"url": rx.url, "events": ["episode.record_contact"]}).json()
        api.contact("LAS-1")
        api.engine.dispatch_outbox()
        log = api.get(f"/webhooks/{made['id']}/deliveries?status=delivered", "integration")
        assert log.status_code == 200, log.text
        (d,) = log.json()
        assert (d["status"], [a["status_code"] for a in d["log"]]) == ("delivered", [200])
        again = api.post(f"/webhooks/{made['id']}/deliveries/{d['id']}/redeliver", "admin")
        assert again.status_code == 200 and again.json()["redelivered_by"] == api.actors["admin"]
        rotated = api.post(f"/webhooks/{made['id']}/rotate", "integration", json={"overlap": 60}).json()
        api.engine.dispatch_outbox()
        assert len(rx.requests) == 2
        Webhook(made["secret"]).verify(rx.requests[1]["body"], rx.requests[1]["headers"])
        Webhook(rotated["secret"]).verify(rx.requests[1]["body"], rx.requests[1]["headers"])
    assert_error(api.get(f"/webhooks/{made['id']}/deliveries?status=lost", "admin"), 422, "validation_error")
    assert_error(api.get("/webhooks/999/deliveries", "admin"), 404, "not_found")
    assert_error(api.post(f"/webhooks/{made['id']}/deliveries/999/redeliver", "admin"), 404, "not_found")
    assert_error(api.post(f"/webhooks/{made['id']}/rotate", "manager", json={}), 403, "forbidden")
    assert_error(api.post(f"/webhooks/{made['id']}/rotate", "admin", json={"secret": "x" * 20}), 422,
                 "validation_error", "whsec_")
