"""The transactional outbox and its relay, on SQLite and PostgreSQL."""

import pytest
import sqlalchemy as sa
from webhook_receiver import Receiver

from pathway import InvalidTransition
from pathway.services.outbox import pending, relay
from pathway.settings import WebhookPolicy
from pathway.store.tables import OUTBOX

SECRET = "a-signing-key-of-some-length"


def outbox_rows(engine):
    with engine.db.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(OUTBOX).order_by(OUTBOX.c.id)).mappings()]


def test_every_change_waits_in_the_outbox_until_relayed_once(council):
    hook = council.add_webhook("http://127.0.0.1:9/never", ["episode.refer", "episode.close"], SECRET)
    ep = council.record_contact("P-1", "physical_support", "north", occurred_at="2026-05-01")
    council.fire(ep.id, "refer", occurred_at="2026-05-02")
    council.fire(ep.id, "close", outcome="declined", occurred_at="2026-05-03")
    with pytest.raises(InvalidTransition):
        council.fire(ep.id, "refer")  # refused: writes nothing, not even to the outbox
    rows = outbox_rows(council)
    assert [r["kind"] for r in rows] == ["episode.record_contact", "episode.refer", "episode.close"]
    assert all(r["sent_at"] is None for r in rows)
    first = council.relay_outbox()
    assert first["relayed"] == 3 and len(first["deliveries"]) == 2  # record_contact has no subscriber
    assert all(r["sent_at"] is not None and r["attempts"] == 1 for r in outbox_rows(council))
    assert council.relay_outbox() == {"relayed": 0, "deliveries": []}
    assert [(d["webhook_id"], d["kind"]) for d in council.deliveries()] == [
        (hook["id"], "episode.refer"), (hook["id"], "episode.close")]


def test_the_relay_goes_batch_by_batch_oldest_first(council):
    for i in range(7):
        council.record_contact(f"P-{i}", "unknown", "north")
    with council.store.unit() as uow:
        assert relay(uow, council.now(), batch=3)["relayed"] == 3
        assert pending(uow) == 4
    assert [r["sent_at"] is not None for r in outbox_rows(council)] == [True] * 3 + [False] * 4
    assert council.relay_outbox()["relayed"] == 4


def test_two_relays_at_once_never_take_the_same_row(council):
    """PostgreSQL: a relay holding rows in its open transaction is skipped over (SKIP LOCKED).
    SQLite: the second relay queues behind the first's write lock and finds nothing left."""
    council.add_webhook("http://127.0.0.1:9/never", ["episode.record_contact"], SECRET)
    for i in range(6):
        council.record_contact(f"P-{i}", "unknown", "north")
    if council.db.dialect.name == "sqlite":
        with council.store.unit() as uow:
            assert relay(uow, council.now())["relayed"] == 6
        assert council.relay_outbox()["relayed"] == 0
    else:
        with council.store.unit() as first:
            taken = relay(first, council.now(), batch=4)
            with council.store.unit() as second:
                other = relay(second, council.now(), batch=4)
        assert (taken["relayed"], other["relayed"]) == (4, 2)
        assert not set(taken["deliveries"]) & set(other["deliveries"])
    assert len(council.deliveries()) == 6


def test_with_the_broker_down_recording_goes_on_and_nothing_is_lost(council, settings):
    """The engine never talks to the broker: with a dead broker configured, contacts and
    transitions succeed, the outbox waits, and sending a task fails loudly rather than hangs."""
    from kombu.exceptions import OperationalError

    from workers.app import make_celery

    dead = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/9"})
    council.settings = dead
    with Receiver() as rx:
        council.add_webhook(rx.url, ["episode.refer"], SECRET)
        ep = council.record_contact("P-1", "social_support", "north", occurred_at="2026-05-01")
        ep = council.fire(ep.id, "refer", occurred_at="2026-05-02")
        assert ep.stage == "c1_waiting"
        app = make_celery(dead)
        with pytest.raises(OperationalError):
            app.send_task("pathway.dispatch_outbox")
        assert [r["sent_at"] for r in outbox_rows(council)] == [None, None]
        # The broker is back (here: the in-process relay): everything that waited is delivered.
        assert council.dispatch_outbox(policy=WebhookPolicy(timeout=2))["delivered"] == 1
        assert [m["data"]["episode_id"] for m in rx.messages()] == [ep.id]


def test_a_delivery_is_queued_for_a_task_once_until_it_is_sent_or_requeue_time_passes(council, clock):
    council.add_webhook("http://127.0.0.1:9/never", ["episode.record_contact"], SECRET)
    for i in range(3):
        council.record_contact(f"P-{i}", "unknown", "north")
    council.relay_outbox()
    policy = WebhookPolicy(requeue_after=300)
    first = council.queue_deliveries(policy)
    assert len(first) == 3
    assert council.queue_deliveries(policy) == []  # the tasks are on their way: a backlog is not re-sent
    clock.advance(seconds=301)
    assert council.queue_deliveries(policy) == first  # lost tasks are sent again


def test_the_engine_sends_with_the_delivery_policy_of_its_settings(council, clock):
    council.settings = council.settings.model_copy(update={"webhooks": WebhookPolicy(requeue_after=60)})
    council.add_webhook("http://127.0.0.1:9/never", ["episode.record_contact"], SECRET)
    council.record_contact("P-1", "unknown", "north")
    council.relay_outbox()
    first = council.queue_deliveries()
    clock.advance(seconds=61)
    assert council.queue_deliveries() == first  # after the settings' requeue_after, not the default's
