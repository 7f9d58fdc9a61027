"""Webhook subscriptions and Standard Webhooks delivery against a real HTTP receiver, on SQLite and PostgreSQL.

Deliveries are verified with the ``standardwebhooks`` package, as a back end would verify them.
"""

import datetime as dt
import json
import logging

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook, WebhookVerificationError
from webhook_receiver import LOCAL, Receiver

from pathway import NotFound, ValidationError
from pathway.services.delivery_http import CONNECTIONS_PER_SUBSCRIBER
from pathway.services.webhooks import EVENT_KINDS, new_secret
from pathway.settings import WebhookPolicy

SECRET = new_secret()
OTHER_SECRET = new_secret()
# A generous timeout: a loaded machine (CI runs two test processes and Celery workers on two cores)
# must not turn a slow answer into a failed post. The test of timeouts sets its own short one.
FAST = WebhookPolicy(**LOCAL, timeout=10, backoff=60, pause_after=3, max_attempts=10)


@pytest.fixture
def local(council):
    """The council, allowed to deliver to the receiver on 127.0.0.1 over http."""
    council.settings = council.settings.model_copy(update={"webhooks": FAST})
    return council


def row_count(engine, table):
    with engine.db.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one()


def referral(engine, ref="P-1", team="north"):
    ep = engine.record_contact(ref, "mental_health", team, occurred_at="2026-05-20")
    return engine.fire(ep.id, "refer", occurred_at="2026-05-21")


def verified(secret: str, request: dict) -> dict:
    """The message as the standardwebhooks package verifies it (raises if it does not)."""
    return Webhook(secret).verify(request["body"], request["headers"])


def test_unknown_event_kinds_teams_and_bad_secrets_are_refused_and_nothing_written(local):
    with pytest.raises(ValidationError, match="unknown event kind 'episode.explode'.*episode.refer.*breach") as err:
        local.add_webhook("https://example.org/hook", ["episode.refer", "episode.explode"], SECRET)
    assert err.value.extra["field"] == "events"
    with pytest.raises(ValidationError, match="at least one event kind"):
        local.add_webhook("https://example.org/hook", [], SECRET)
    for bad in ("short", "a-signing-key-of-some-length", "whsec_" + "A" * 8, "whsec_not*base64*at*all!"):
        with pytest.raises(ValidationError, match="whsec_ followed by 24 to 64 random bytes"):
            local.add_webhook("https://example.org/hook", ["breach"], bad)
    with pytest.raises(ValidationError, match="unknown team 'east'; teams are: north, south") as err:
        local.add_webhook("https://example.org/hook", ["breach"], SECRET, teams=["north", "east"])
    assert err.value.extra["field"] == "teams"
    assert row_count(local, "webhook") == 0
    assert "episode.record_contact" in EVENT_KINDS and "episode.crisis" in EVENT_KINDS


def test_a_secret_is_made_when_none_is_given_and_listings_never_show_one(local):
    hook = local.add_webhook("https://example.org/hook?token=abc123", "episode.refer, breach")
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["episode.refer", "breach"]
    Webhook(hook["secret"])  # a secret the standardwebhooks package takes
    given = local.add_webhook("https://example.org/other", ["breach"], SECRET)
    assert "secret" not in given
    listed = json.dumps(local.webhooks(), default=str)
    assert hook["secret"] not in listed and SECRET not in listed and "abc123" not in listed
    assert [h["url"] for h in local.webhooks()] == ["https://example.org/…", "https://example.org/…"]


def test_events_are_delivered_as_standard_webhooks_to_matching_subscribers_only(local):
    with Receiver() as rx, Receiver() as other:
        hook = local.add_webhook(rx.url, ["episode.refer", "episode.allocate"], SECRET)
        local.add_webhook(other.url, ["episode.close"], OTHER_SECRET)
        ep = referral(local)
        local.fire(ep.id, "allocate", worker="amira", occurred_at="2026-05-22")
        result = local.dispatch_outbox()
        assert result == {"relayed": 3, "deliveries": 2, "delivered": 2, "retry": 0, "failed": 0}
        assert other.requests == []
        kinds = []
        for req in rx.requests:
            message = verified(SECRET, req)
            assert set(message) == {"type", "timestamp", "data"}
            assert req["headers"]["webhook-id"].startswith("evt_")
            assert req["headers"]["Content-Type"] == "application/json"
            assert message["data"]["episode_id"] == ep.id and message["data"]["person_ref"] == "P-1"
            with pytest.raises(WebhookVerificationError):
                verified(OTHER_SECRET, req)
            kinds.append(message["type"])
        assert kinds == ["episode.refer", "episode.allocate"]
        assert json.loads(rx.requests[1]["body"])["data"]["worker"] == "amira"
        # Nothing is sent twice.
        assert local.dispatch_outbox()["delivered"] == 0 and len(rx.requests) == 2
        log = local.deliveries(hook["id"])
        assert [(d["status"], d["attempts"], [a["status_code"] for a in d["log"]]) for d in log] == [
            ("delivered", 1, [200]), ("delivered", 1, [200])]


def test_a_replay_outside_the_tolerance_and_a_tampered_body_are_refused_by_the_verifier(local):
    with Receiver() as rx:
        local.add_webhook(rx.url, ["episode.refer"], SECRET)
        referral(local)
        local.dispatch_outbox()
        (req,) = rx.requests
        verified(SECRET, req)
        tampered = req["body"].replace(b'"P-1"', b'"P-2"')
        assert tampered != req["body"]
        with pytest.raises(WebhookVerificationError, match="No matching signature"):
            verified(SECRET, {**req, "body": tampered})
        # The same capture ten minutes later (Standard Webhooks' tolerance is five): refused.
        stale = int(req["headers"]["webhook-timestamp"]) - 600
        with pytest.raises(WebhookVerificationError, match="too old"):
            verified(SECRET, {**req, "headers": {**req["headers"], "webhook-timestamp": str(stale)}})


def test_a_rotated_secret_signs_beside_the_new_one_for_the_overlap_only(local, clock):
    with Receiver() as rx:
        hook = local.add_webhook(rx.url, ["episode.refer"], SECRET)
        rotated = local.rotate_webhook_secret(hook["id"], overlap=3600, actor="admin:ops")
        new = rotated["secret"]
        assert new.startswith("whsec_") and new != SECRET
        assert rotated["secret_rotated_by"] == "admin:ops"
        assert rotated["previous_secret_until"] == clock.at + dt.timedelta(hours=1)
        assert new not in json.dumps(local.webhooks(), default=str)
        referral(local, "P-1")
        local.dispatch_outbox()
        during = rx.requests[-1]
        assert len(during["headers"]["webhook-signature"].split(" ")) == 2
        verified(SECRET, during) and verified(new, during)
        clock.advance(hours=1, seconds=1)
        referral(local, "P-2")
        local.dispatch_outbox()
        after = rx.requests[-1]
        verified(new, after)
        with pytest.raises(WebhookVerificationError):
            verified(SECRET, after)
    with pytest.raises(ValidationError, match="whsec_"):
        local.rotate_webhook_secret(hook["id"], "not-a-secret")
    with pytest.raises(NotFound):
        local.rotate_webhook_secret(999)


def test_a_subscriber_hears_only_its_teams(local):
    with Receiver() as rx:
        local.add_webhook(rx.url, ["episode.refer"], SECRET, teams=["south"])
        referral(local, "P-903", team="north")
        referral(local, "P-906", team="south")
        assert local.dispatch_outbox()["delivered"] == 1
        assert [m["data"]["person_ref"] for m in rx.messages()] == ["P-906"]


def test_a_failing_subscriber_is_retried_with_exponential_backoff(local, clock):
    with Receiver(status=[500, 503, 200]) as rx:
        local.add_webhook(rx.url, ["episode.refer"], SECRET)
        referral(local)
        assert local.dispatch_outbox()["retry"] == 1
        (d,) = local.deliveries()
        assert (d["status"], d["attempts"], d["last_status"]) == ("pending", 1, 500)
        assert d["next_attempt_at"] == clock.at + dt.timedelta(seconds=60)
        # Not due yet: nothing is sent.
        clock.advance(seconds=59)
        assert local.dispatch_outbox()["retry"] == 0 and len(rx.requests) == 1
        clock.advance(seconds=1)
        assert local.dispatch_outbox()["retry"] == 1
        (d,) = local.deliveries()
        assert d["next_attempt_at"] == clock.at + dt.timedelta(seconds=120)  # doubled
        clock.advance(seconds=120)
        assert local.dispatch_outbox()["delivered"] == 1
        (d,) = local.deliveries()
        assert (d["status"], d["attempts"]) == ("delivered", 3)
        assert [a["status_code"] for a in d["log"]] == [500, 503, 200]
        assert d["log"][0]["error"] == "HTTP 500"
        # The three posts carried the same message id and body.
        assert len({r["body"] for r in rx.requests}) == 1
        assert len({r["headers"]["webhook-id"] for r in rx.requests}) == 1
        assert local.webhooks()[0]["consecutive_failures"] == 0


def test_an_episode_reaches_a_subscriber_in_order_even_when_a_post_fails(local, clock):
    """A failed delivery holds back the later events of its episode (not other episodes') until it arrives."""
    failed_once = []

    def answer(request):  # P-1's contact fails the first time
        if b'"P-1"' in request["body"] and b"episode.record_contact" in request["body"] and not failed_once:
            failed_once.append(request)
            return 500
        return 200

    with Receiver(status=answer) as rx:
        local.add_webhook(rx.url, ["episode.record_contact", "episode.refer", "episode.allocate"], SECRET)
        first = local.record_contact("P-1", "mental_health", "north", occurred_at="2026-05-20")
        local.fire(first.id, "refer", occurred_at="2026-05-21")
        local.fire(first.id, "allocate", worker="amira", occurred_at="2026-05-22")
        second = local.record_contact("P-2", "mental_health", "north", occurred_at="2026-05-20")
        result = local.dispatch_outbox()
        assert (result["retry"], result["delivered"]) == (1, 1)  # P-1's contact failed; P-2's went
        assert sorted((m["data"]["episode_id"], m["type"]) for m in rx.messages()) == [
            (first.id, "episode.record_contact"), (second.id, "episode.record_contact")]
        assert [d["status"] for d in local.deliveries()] == ["pending"] * 3 + ["delivered"]
        clock.advance(seconds=61)
        assert local.dispatch_outbox()["delivered"] == 3
        assert [m["type"] for m in rx.messages() if m["data"]["episode_id"] == first.id] == [
            "episode.record_contact", "episode.record_contact", "episode.refer", "episode.allocate"]


def test_a_delivery_can_be_sent_again_on_request_and_the_request_is_recorded(local):
    with Receiver() as rx:
        hook = local.add_webhook(rx.url, ["episode.refer"], SECRET)
        referral(local)
        local.dispatch_outbox()
        (d,) = local.deliveries(hook["id"], status="delivered")
        again = local.redeliver(hook["id"], d["id"], actor="integration:caseworks")
        assert (again["status"], again["redelivered_by"]) == ("pending", "integration:caseworks")
        assert local.dispatch_outbox()["delivered"] == 1
        assert len(rx.requests) == 2 and rx.requests[0]["body"] == rx.requests[1]["body"]
        (d,) = local.deliveries(hook["id"])
        assert (d["status"], d["attempts"], d["redelivered_by"]) == ("delivered", 2, "integration:caseworks")
    with pytest.raises(NotFound, match="no delivery 999"):
        local.redeliver(hook["id"], 999)
    with pytest.raises(NotFound, match="no webhook 999"):
        local.redeliver(999, d["id"])
    with pytest.raises(ValidationError, match="statuses are: pending, delivered, failed"):
        local.deliveries(hook["id"], status="lost")


def test_a_subscriber_that_times_out_is_logged_and_retried(local):
    short = FAST.model_copy(update={"timeout": 0.5})
    with Receiver(delay=2) as rx:
        local.add_webhook(rx.url, ["episode.refer"], SECRET)
        referral(local)
        assert local.dispatch_outbox(policy=short)["retry"] == 1
        (d,) = local.deliveries()
        assert d["status"] == "pending" and d["last_status"] is None
        assert "timed out" in d["last_error"].lower()


def test_a_subscriber_that_keeps_failing_is_paused_not_hammered(local, clock, caplog):
    caplog.set_level(logging.WARNING, logger="pathway.webhooks")
    with Receiver(status=500) as rx:
        hook = local.add_webhook(rx.url, ["episode.refer"], SECRET)
        for i in range(3):
            referral(local, f"P-{i}")
        local.dispatch_outbox()  # three deliveries, three failures: paused
        (listed,) = local.webhooks()
        assert listed["active"] is False and listed["consecutive_failures"] == 3
        assert "3 consecutive failed deliveries" in listed["paused_reason"]
        assert any("paused" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
        # Paused: later events are kept as deliveries, and nothing is posted.
        referral(local, "P-9")
        for _ in range(3):
            clock.advance(hours=2)
            assert local.dispatch_outbox()["retry"] == 0
        assert len(rx.requests) == 3
        assert [d["status"] for d in local.deliveries()] == ["pending"] * 4
        # The subscriber is fixed and resumed: everything waiting goes out at once.
        rx.status = 200
        assert local.resume_webhook(hook["id"])["active"] is True
        assert local.dispatch_outbox()["delivered"] == 4
        assert sorted(m["data"]["person_ref"] for m in rx.messages()[3:]) == ["P-0", "P-1", "P-2", "P-9"]
    with pytest.raises(NotFound):
        local.resume_webhook(999)


def test_a_delivery_is_given_up_after_its_attempts(local, clock):
    policy = WebhookPolicy(**LOCAL, timeout=10, backoff=1, pause_after=100, max_attempts=3)
    with Receiver(status=500) as rx:
        local.add_webhook(rx.url, ["episode.refer"], SECRET)
        referral(local)
        for _ in range(5):
            local.dispatch_outbox(policy=policy)
            clock.advance(minutes=1)
        (d,) = local.deliveries()
        assert (d["status"], d["attempts"], len(rx.requests)) == ("failed", 3, 3)


def test_connections_to_a_subscriber_are_kept_between_posts(local):
    """A subscriber's few pooled connections carry every post (the receiver speaks HTTP/1.1 keep-alive)."""
    ports = []

    class KeepAlive(Receiver):
        def __init__(self):
            super().__init__()
            handler = self.server.RequestHandlerClass
            handler.protocol_version = "HTTP/1.1"
            post = handler.do_POST

            def do_post(h):
                ports.append(h.client_address[1])
                post(h)

            handler.do_POST = do_post

    with KeepAlive() as rx:
        local.add_webhook(rx.url, ["episode.record_contact"], SECRET)
        for i in range(12):
            local.record_contact(f"P-{i}", "unknown", "north")
        assert local.dispatch_outbox()["delivered"] == 12
    assert len(ports) == 12 and len(set(ports)) <= CONNECTIONS_PER_SUBSCRIBER


def test_the_commands(db_url, monkeypatch, tmp_path):
    """`pathway webhook …` and `pathway track-waits` with no broker: in-process, clear errors."""
    from typer.testing import CliRunner

    from pathway.cli import app

    config = tmp_path / "empty.toml"
    config.write_text("")
    monkeypatch.setenv("PATHWAY_DATABASE_URL", db_url)
    monkeypatch.setenv("PATHWAY_CONFIG_FILE", str(config))
    monkeypatch.delenv("PATHWAY_BROKER_URL", raising=False)
    run = CliRunner().invoke
    bad = run(app, ["webhook", "add", "ftp://example.org/x", "--events", "episode.refer", "--secret", SECRET])
    assert bad.exit_code == 1 and "must be an https:// URL" in bad.output
    ok = run(app, ["webhook", "add", "https://example.org/x?key=hidden", "--events", "episode.refer,breach",
                   "--events", "episode.close", "--format", "json"])
    assert ok.exit_code == 0, ok.output
    made = json.loads(ok.stdout)[0]
    assert made["events"] == "episode.refer,breach,episode.close" and "secret" not in made
    assert "whsec_" in ok.stderr  # shown once, on standard error
    listed = run(app, ["webhook", "list", "--format", "json"])
    assert "whsec_" not in listed.output and "hidden" not in listed.output
    assert json.loads(listed.output)[0]["url"] == "https://example.org/…"
    rotated = run(app, ["webhook", "rotate", str(made["id"]), "--overlap", "60"])
    assert rotated.exit_code == 0 and "whsec_" in rotated.stderr and "previous secret signs until" in rotated.stdout
    missing = run(app, ["webhook", "redeliver", str(made["id"]), "999"])
    assert missing.exit_code == 1 and "no delivery 999" in missing.output
    nowhere = run(app, ["track-waits", "--team", "nowhere"])
    assert nowhere.exit_code == 1 and "unknown team 'nowhere'; teams are: " in nowhere.output
    tracked = run(app, ["track-waits", "--format", "json"])
    assert tracked.exit_code == 0 and json.loads(tracked.output)["breaches"] == 0
    worker = run(app, ["worker"])
    assert worker.exit_code == 2 and "PATHWAY_BROKER_URL" in worker.output
