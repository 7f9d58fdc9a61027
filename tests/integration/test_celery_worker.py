"""Real Celery workers (subprocesses) on the real Redis broker and PostgreSQL.

Each test sends to its own queue on the test Redis database, so tests running side by side
never take each other's tasks, and removes only its own keys afterwards.
"""

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import empty_tables
from webhook_receiver import Receiver

from pathway import Engine
from pathway.settings import Settings, Workers
from workers.app import make_celery

ROOT = Path(__file__).resolve().parents[2]
SECRET = "a-signing-key-of-some-length"
VISIBILITY = 2  # seconds: a killed worker's task comes back quickly in these tests

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def pg(pg_url):
    empty_tables(pg_url)
    return pg_url


@pytest.fixture
def queue(redis_url):
    import redis

    name = f"pathway-test-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"*{name}*"):  # the queue and its bindings: this test's keys only
        client.delete(key)
    for member in client.smembers("_kombu.binding.celery.pidbox"):
        if name.encode() in member:
            client.srem("_kombu.binding.celery.pidbox", member)
    client.close()


class WorkerProcess:
    """``celery -A workers.app worker`` in its own process group, logging to a file."""

    def __init__(self, tmp_path: Path, db_url: str, broker_url: str, queue: str, name: str):
        config = tmp_path / "empty.toml"
        config.write_text("")
        self.log = tmp_path / f"{name}.log"
        env = {**os.environ, "PATHWAY_DATABASE_URL": db_url, "PATHWAY_BROKER_URL": broker_url,
               "PATHWAY_CELERY_QUEUE": queue, "PATHWAY_VISIBILITY_TIMEOUT": str(VISIBILITY),
               "PATHWAY_RESTORE_INTERVAL": "1",
               "PATHWAY_CONFIG_FILE": str(config), "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "--pool=solo", "--loglevel=INFO",
               f"--hostname={name}.{queue}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def text(self) -> str:
        return self.log.read_text()

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.text():
                return
            assert self.proc.poll() is None, self.text()
            time.sleep(0.1)
        raise AssertionError("worker did not start:\n" + self.text())

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_until(check, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def sender(broker_url: str, queue: str):
    """The sending side's Celery app (an API process or beat would be the same)."""
    return make_celery(Settings(_env_file=None, broker_url=broker_url, workers=Workers(queue=queue)))


def scalar(engine, sql: str):
    with engine.db.connect() as conn:
        return conn.execute(sa.text(sql)).scalar_one()


def test_events_wait_for_a_dead_broker_then_a_real_worker_delivers_them_signed(pg, redis_url, queue, tmp_path):
    engine = Engine(pg, settings=Settings(_env_file=None, broker_url="redis://127.0.0.1:1/9"), actor="test")
    worker = None
    with Receiver() as rx:
        try:
            engine.create_team("north", "North")
            engine.add_webhook(rx.url, ["episode.record_contact", "episode.refer", "episode.crisis"], SECRET)
            # The broker is down: recording still works, the outbox waits, sending a task fails loudly.
            ep = engine.record_contact("P-1", "mental_health", "north")
            engine.fire(ep.id, "refer")
            engine.fire(ep.id, "crisis")
            from kombu.exceptions import OperationalError

            with pytest.raises(OperationalError):
                sender("redis://127.0.0.1:1/9", queue).send_task("pathway.dispatch_outbox")
            assert scalar(engine, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 3
            # The broker is back and a worker runs: the beat's next dispatch delivers everything, once.
            worker = WorkerProcess(tmp_path, pg, redis_url, queue, "w1")
            worker.wait_ready()
            sender(redis_url, queue).send_task("pathway.dispatch_outbox")
            requests = rx.wait_for(3)
            assert len(requests) == 3, worker.text()
            wait_until(lambda: scalar(engine, "SELECT count(*) FROM delivery WHERE status = 'delivered'") == 3,
                       what="deliveries recorded")
            for req in requests:
                digest = hmac.new(SECRET.encode(), req["body"], hashlib.sha256).hexdigest()
                assert req["headers"]["X-Pathway-Signature"] == f"sha256={digest}"
            messages = [json.loads(r["body"]) for r in requests]
            assert sorted(m["kind"] for m in messages) == ["episode.crisis", "episode.record_contact", "episode.refer"]
            assert {m["data"]["episode_id"] for m in messages} == {ep.id}
            assert scalar(engine, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0
            # Sent again: nothing new goes out.
            sender(redis_url, queue).send_task("pathway.dispatch_outbox")
            wait_until(lambda: worker.text().count("pathway.dispatch_outbox[") >= 4, what="second dispatch")
            assert len(rx.requests) == 3
            # A task given an unknown team: refused with a clear error in the worker's log, nothing written.
            sender(redis_url, queue).send_task("pathway.track_waits", kwargs={"team": "nowhere"})
            wait_until(lambda: "unknown team 'nowhere'; teams are: " in worker.text(), what="the refusal")
            assert scalar(engine, "SELECT count(*) FROM wait_snapshot") == 0
        finally:
            if worker:
                worker.stop()
            engine.dispose()


def test_a_worker_killed_mid_task_leaves_the_task_to_another_and_it_completes_once(pg, redis_url, queue, tmp_path):
    engine = Engine(pg, settings=Settings(_env_file=None), actor="test")
    locker = engine.db.connect()
    workers = []
    try:
        engine.create_team("north", "North")
        engine.create_team("south", "South")
        for i, group in enumerate(("mental_health", "learning_disability", "unknown")):
            ep = engine.record_contact(f"P-{i}", group, "north", occurred_at="2026-01-05")
            engine.fire(ep.id, "refer", occurred_at="2026-01-06")
        first = WorkerProcess(tmp_path, pg, redis_url, queue, "w1")
        workers.append(first)
        first.wait_ready()
        sender(redis_url, queue).send_task("pathway.dispatch_outbox")  # the worker is warm: engine made
        wait_until(lambda: "succeeded" in first.text(), what="the first task")
        # Hold the snapshot table so the next task blocks half-way, inside its transaction.
        locker.begin()
        locker.exec_driver_sql("LOCK TABLE wait_snapshot IN ACCESS EXCLUSIVE MODE")
        sender(redis_url, queue).send_task("pathway.track_waits")
        wait_until(lambda: scalar(engine, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                          "AND wait_event_type = 'Lock'"), what="the task to block")
        first.kill()  # SIGKILL: no chance to acknowledge, reject or requeue anything
        locker.rollback()
        assert scalar(engine, "SELECT count(*) FROM wait_snapshot") == 0
        second = WorkerProcess(tmp_path, pg, redis_url, queue, "w2")
        workers.append(second)
        second.wait_ready()
        # After the visibility timeout Redis hands the unacknowledged task to the new worker.
        wait_until(lambda: "succeeded" in second.text(), timeout=40, what="the redelivered task")
        assert first.text().count("pathway.track_waits[") == 1  # received, never finished
        assert second.text().count("] received") == 1 and second.text().count("] succeeded") == 1
        rows = 2 * 7 * 3  # teams x client groups x waiting stages
        assert scalar(engine, "SELECT count(*) FROM wait_snapshot") == rows
        assert scalar(engine, "SELECT count(DISTINCT (day, team, client_group, stage)) FROM wait_snapshot") == rows
        assert scalar(engine, "SELECT sum(waiting) FROM wait_snapshot") == 3
        assert scalar(engine, "SELECT count(*) FROM breach") == 3
    finally:
        locker.close()
        for w in workers:
            w.stop()
        engine.dispose()
