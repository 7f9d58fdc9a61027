"""Webhook subscriptions and delivery against a real HTTP receiver, on SQLite and PostgreSQL."""

import datetime as dt
import hashlib
import hmac
import json
import logging

import pytest
import sqlalchemy as sa
from webhook_receiver import Receiver

from pathway import NotFound, ValidationError
from pathway.services.webhooks import EVENT_KINDS
from pathway.settings import WebhookPolicy

SECRET = "a-signing-key-of-some-length"
FAST = WebhookPolicy(timeout=0.5, backoff=60, pause_after=3, max_attempts=10)


def row_count(engine, table):
    with engine.db.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one()


def referral(engine, ref="P-1"):
    ep = engine.record_contact(ref, "mental_health", "north", occurred_at="2026-05-20")
    return engine.fire(ep.id, "refer", occurred_at="2026-05-21")


@pytest.mark.parametrize("url", ["ftp://example.org/hook", "example.org/hook", "javascript:alert(1)", "http://", ""])
def test_a_url_that_is_not_http_is_refused_and_nothing_written(council, url):
    with pytest.raises(ValidationError, match="http:// or https://"):
        council.add_webhook(url, ["episode.refer"], SECRET)
    assert row_count(council, "webhook") == 0


def test_unknown_event_kinds_and_short_secrets_are_refused(council):
    with pytest.raises(ValidationError, match="unknown event kind 'episode.explode'.*episode.refer.*breach") as err:
        council.add_webhook("https://example.org/hook", ["episode.refer", "episode.explode"], SECRET)
    assert err.value.extra["field"] == "events"
    with pytest.raises(ValidationError, match="at least one event kind"):
        council.add_webhook("https://example.org/hook", [], SECRET)
    with pytest.raises(ValidationError, match="secret"):
        council.add_webhook("https://example.org/hook", ["breach"], "short")
    assert row_count(council, "webhook") == 0
    assert "episode.record_contact" in EVENT_KINDS and "episode.crisis" in EVENT_KINDS


def test_listing_never_shows_the_secret(council):
    hook = council.add_webhook("https://example.org/hook", "episode.refer, breach", SECRET)
    assert hook["events"] == ["episode.refer", "breach"] and "secret" not in hook
    assert [h["id"] for h in council.webhooks()] == [hook["id"]]
    assert all("secret" not in h for h in council.webhooks())
    assert SECRET not in json.dumps(council.webhooks(), default=str)


def test_events_are_delivered_signed_to_matching_subscribers_only(council):
    with Receiver() as rx, Receiver() as other:
        hook = council.add_webhook(rx.url, ["episode.refer", "episode.allocate"], SECRET)
        council.add_webhook(other.url, ["episode.close"], "another-signing-key")
        ep = referral(council)
        council.fire(ep.id, "allocate", worker="amira", occurred_at="2026-05-22")
        result = council.dispatch_outbox(policy=FAST)
        assert result == {"relayed": 3, "deliveries": 2, "delivered": 2, "retry": 0, "failed": 0}
        assert other.requests == []
        kinds = []
        for req in rx.requests:
            expected = "sha256=" + hmac.new(SECRET.encode(), req["body"], hashlib.sha256).hexdigest()
            assert req["headers"]["X-Pathway-Signature"] == expected
            message = json.loads(req["body"])
            assert req["headers"]["X-Pathway-Delivery"] == str(message["delivery_id"])
            assert req["headers"]["X-Pathway-Event"] == message["kind"]
            assert int(req["headers"]["X-Pathway-Timestamp"]) > 0
            assert req["headers"]["Content-Type"] == "application/json"
            assert message["data"]["episode_id"] == ep.id and message["data"]["person_ref"] == "P-1"
            kinds.append(message["kind"])
        assert kinds == ["episode.refer", "episode.allocate"]
        assert json.loads(rx.requests[1]["body"])["data"]["worker"] == "amira"
        # Nothing is sent twice.
        assert council.dispatch_outbox(policy=FAST)["delivered"] == 0 and len(rx.requests) == 2
        log = council.deliveries(hook["id"])
        assert [(d["status"], d["attempts"], [a["status_code"] for a in d["log"]]) for d in log] == [
            ("delivered", 1, [200]), ("delivered", 1, [200])]


def test_a_failing_subscriber_is_retried_with_exponential_backoff(council, clock):
    with Receiver(status=[500, 503, 200]) as rx:
        council.add_webhook(rx.url, ["episode.refer"], SECRET)
        referral(council)
        assert council.dispatch_outbox(policy=FAST)["retry"] == 1
        (d,) = council.deliveries()
        assert (d["status"], d["attempts"], d["last_status"]) == ("pending", 1, 500)
        assert d["next_attempt_at"] == clock.at + dt.timedelta(seconds=60)
        # Not due yet: nothing is sent.
        clock.advance(seconds=59)
        assert council.dispatch_outbox(policy=FAST)["retry"] == 0 and len(rx.requests) == 1
        clock.advance(seconds=1)
        assert council.dispatch_outbox(policy=FAST)["retry"] == 1
        (d,) = council.deliveries()
        assert d["next_attempt_at"] == clock.at + dt.timedelta(seconds=120)  # doubled
        clock.advance(seconds=120)
        assert council.dispatch_outbox(policy=FAST)["delivered"] == 1
        (d,) = council.deliveries()
        assert (d["status"], d["attempts"]) == ("delivered", 3)
        assert [a["status_code"] for a in d["log"]] == [500, 503, 200]
        assert d["log"][0]["error"] == "HTTP 500 Internal Server Error"
        # The three posts carried the same delivery id and body.
        assert len({r["body"] for r in rx.requests}) == 1
        assert council.webhooks()[0]["consecutive_failures"] == 0


def test_a_subscriber_that_times_out_is_logged_and_retried(council):
    with Receiver(delay=1.5) as rx:
        council.add_webhook(rx.url, ["episode.refer"], SECRET)
        referral(council)
        assert council.dispatch_outbox(policy=FAST)["retry"] == 1
        (d,) = council.deliveries()
        assert d["status"] == "pending" and d["last_status"] is None
        assert "timed out" in d["last_error"].lower()


def test_a_subscriber_that_keeps_failing_is_paused_not_hammered(council, clock, caplog):
    caplog.set_level(logging.WARNING, logger="pathway.webhooks")
    with Receiver(status=500) as rx:
        hook = council.add_webhook(rx.url, ["episode.refer"], SECRET)
        for i in range(3):
            referral(council, f"P-{i}")
        council.dispatch_outbox(policy=FAST)  # three deliveries, three failures: paused
        (listed,) = council.webhooks()
        assert listed["active"] is False and listed["consecutive_failures"] == 3
        assert "3 consecutive failed deliveries" in listed["paused_reason"]
        assert any("paused" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
        # Paused: later events are kept as deliveries, and nothing is posted.
        referral(council, "P-9")
        for _ in range(3):
            clock.advance(hours=2)
            assert council.dispatch_outbox(policy=FAST)["retry"] == 0
        assert len(rx.requests) == 3
        assert [d["status"] for d in council.deliveries()] == ["pending"] * 4
        # The subscriber is fixed and resumed: everything waiting goes out at once.
        rx.status = 200
        assert council.resume_webhook(hook["id"])["active"] is True
        assert council.dispatch_outbox(policy=FAST)["delivered"] == 4
        assert sorted(m["data"]["person_ref"] for m in rx.messages()[3:]) == ["P-0", "P-1", "P-2", "P-9"]
    with pytest.raises(NotFound):
        council.resume_webhook(999)


def test_a_delivery_is_given_up_after_its_attempts(council, clock):
    policy = WebhookPolicy(timeout=0.5, backoff=1, pause_after=100, max_attempts=3)
    with Receiver(status=500) as rx:
        council.add_webhook(rx.url, ["episode.refer"], SECRET)
        referral(council)
        for _ in range(5):
            council.dispatch_outbox(policy=policy)
            clock.advance(minutes=1)
        (d,) = council.deliveries()
        assert (d["status"], d["attempts"], len(rx.requests)) == ("failed", 3, 3)


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
    assert bad.exit_code == 1 and "http:// or https://" in bad.output
    ok = run(app, ["webhook", "add", "https://example.org/x", "--events", "episode.refer,breach",
                   "--events", "episode.close", "--secret", SECRET, "--format", "json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)[0]["events"] == "episode.refer,breach,episode.close"
    listed = run(app, ["webhook", "list", "--format", "json"])
    assert SECRET not in listed.output and json.loads(listed.output)[0]["url"] == "https://example.org/x"
    nowhere = run(app, ["track-waits", "--team", "nowhere"])
    assert nowhere.exit_code == 1 and "unknown team 'nowhere'; teams are: " in nowhere.output
    tracked = run(app, ["track-waits", "--format", "json"])
    assert tracked.exit_code == 0 and json.loads(tracked.output)["breaches"] == 0
    worker = run(app, ["worker"])
    assert worker.exit_code == 2 and "PATHWAY_BROKER_URL" in worker.output
