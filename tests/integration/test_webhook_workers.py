"""Webhooks with real Celery workers on Redis and PostgreSQL: the nudge after a commit, one relay per
burst, and each episode's events in order to a subscriber while four workers deliver side by side."""

import random
import time

import pytest
import redis
from standardwebhooks import Webhook
from test_celery_worker import LOCAL_ENV, SECRET, WorkerProcess, scalar, sender, wait_until
from webhook_receiver import LOCAL, Receiver

from pathway import Engine
from pathway.settings import Settings, WebhookPolicy, Workers

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


def nudging_engine(pg_url: str, broker_url: str, queue_name: str) -> Engine:
    """An engine as the API runs it: a broker configured, so every change nudges the relay."""
    settings = Settings(_env_file=None, broker_url=broker_url, workers=Workers(queue=queue_name),
                        webhooks=WebhookPolicy(**LOCAL))
    return Engine(pg_url, settings=settings, actor="test")


def test_a_change_is_delivered_without_beat_and_a_burst_sends_one_relay(pg, redis_url, queue, tmp_path):
    engine = nudging_engine(pg, redis_url, queue)
    broker = redis.Redis.from_url(redis_url)
    worker = None
    with Receiver() as rx:
        try:
            engine.create_team("north", "North")
            engine.add_webhook(rx.url, ["episode.record_contact"], SECRET)
            # No worker yet: a hundred changes leave one relay task on the queue, not a hundred.
            for i in range(100):
                engine.record_contact(f"P-{i}", "unknown", "north")
            assert broker.llen(queue) == 1
            worker = WorkerProcess(tmp_path, pg, redis_url, queue, "w1", env=LOCAL_ENV)
            worker.wait_ready()
            assert len(rx.wait_for(100)) == 100, worker.text()
            # Nothing sends dispatch_outbox here (no beat): each change's own nudge relays it.
            ep = engine.record_contact("P-904", "unknown", "north")
            requests = rx.wait_for(101)
            assert len(requests) == 101, worker.text()
            assert Webhook(SECRET).verify(requests[-1]["body"], requests[-1]["headers"])["data"]["episode_id"] == ep.id
        finally:
            if worker:
                worker.stop()
            broker.close()
            engine.dispose()


def test_four_workers_keep_each_episodes_order_to_a_subscriber_through_failures(pg, redis_url, queue, tmp_path):
    """Four workers take disjoint batches; a fifth of the posts fail and are retried; for every episode
    the receiver accepts its events in the order they happened, each once."""
    chance = random.Random(19)

    def answer(_request):
        return 500 if chance.random() < 0.2 else 200

    engine = nudging_engine(pg, redis_url, queue)
    env = {**LOCAL_ENV, "PATHWAY_WEBHOOK_BACKOFF": "0.2", "PATHWAY_WEBHOOK_BACKOFF_MAX": "0.5",
           "PATHWAY_WEBHOOK_PAUSE_AFTER": "1000", "PATHWAY_WEBHOOK_MAX_ATTEMPTS": "50", "PATHWAY_WEBHOOK_BATCH": "4"}
    workers = []
    with Receiver(status=answer, delay=0.005) as rx:
        try:
            engine.create_team("north", "North")
            engine.create_worker("amira", "Amira", "north", caseload_cap=1000)
            engine.add_webhook(rx.url, ["episode.record_contact", "episode.refer", "episode.allocate",
                                        "episode.close"], SECRET)
            for name in ("w1", "w2", "w3", "w4"):
                workers.append(WorkerProcess(tmp_path, pg, redis_url, queue, name, env=env))
            for w in workers:
                w.wait_ready()
            episodes = []
            for i in range(30):
                ep = engine.record_contact(f"P-{i}", "unknown", "north")
                engine.fire(ep.id, "refer")
                engine.fire(ep.id, "allocate", worker="amira")
                engine.fire(ep.id, "close", outcome="met_at_c1")
                episodes.append(ep.id)
            total = 4 * len(episodes)

            def all_delivered():
                sender(redis_url, queue).send_task("pathway.dispatch_outbox")  # as beat would, for the retries
                return scalar(engine, "SELECT count(*) FROM delivery WHERE status = 'delivered'") == total

            wait_until(all_delivered, timeout=120, what="every delivery")
            time.sleep(0.5)
            accepted: dict[int, list[int]] = {}
            failed = 0
            for req in rx.requests:
                message = Webhook(SECRET).verify(req["body"], req["headers"])
                if req["answer"] == 200:
                    accepted.setdefault(message["data"]["episode_id"], []).append(message["data"]["seq"])
                else:
                    failed += 1
            assert failed > 0  # the failures happened, and were retried
            assert accepted == {ep: [1, 2, 3, 4] for ep in episodes}
            took = {w.log.name: w.text().count("pathway.deliver_webhook[") for w in workers}
            assert sum(1 for n in took.values() if n) >= 2, took  # the work was shared
        finally:
            for w in workers:
                w.stop()
            engine.dispose()
