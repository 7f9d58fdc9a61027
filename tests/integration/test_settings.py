"""One Settings: the webhook delivery policy and the workers' settings from code, the file and the environment."""

import pydantic
import pytest

from pathway.settings import Settings, WebhookPolicy, Workers, load_settings
from workers.app import make_celery

# The names deployments use (README, docker-compose.yml, the Celery tests): spelled out, not derived.
WEBHOOK_VARIABLES = {"timeout": "PATHWAY_WEBHOOK_TIMEOUT", "backoff": "PATHWAY_WEBHOOK_BACKOFF",
                     "backoff_max": "PATHWAY_WEBHOOK_BACKOFF_MAX", "pause_after": "PATHWAY_WEBHOOK_PAUSE_AFTER",
                     "max_attempts": "PATHWAY_WEBHOOK_MAX_ATTEMPTS", "lease": "PATHWAY_WEBHOOK_LEASE",
                     "batch": "PATHWAY_WEBHOOK_BATCH", "senders": "PATHWAY_WEBHOOK_SENDERS",
                     "rotation_overlap": "PATHWAY_WEBHOOK_ROTATION_OVERLAP",
                     "allow_hosts": "PATHWAY_WEBHOOK_ALLOW_HOSTS",
                     "allow_http_hosts": "PATHWAY_WEBHOOK_ALLOW_HTTP_HOSTS"}
WORKER_VARIABLES = {"visibility_timeout": "PATHWAY_VISIBILITY_TIMEOUT", "restore_interval": "PATHWAY_RESTORE_INTERVAL",
                    "queue": "PATHWAY_CELERY_QUEUE", "dispatch_interval": "PATHWAY_DISPATCH_INTERVAL",
                    "track_waits_minute": "PATHWAY_TRACK_WAITS_MINUTE"}
# A value for every setting that differs from its default, so a setting that is not read shows.
WEBHOOKS = {"timeout": 2.5, "backoff": 7.0, "backoff_max": 99.0, "pause_after": 4, "max_attempts": 6,
            "lease": 30.0, "batch": 7, "senders": 3, "rotation_overlap": 600.0,
            "allow_hosts": ("case.council.internal", "10.1.2.3"), "allow_http_hosts": ("case.council.internal",)}
WORKERS = {"visibility_timeout": 120, "restore_interval": 3, "queue": "north-queue", "dispatch_interval": 2.5,
           "track_waits_minute": 17}


@pytest.fixture
def clean_env(monkeypatch):
    for name in (*WEBHOOK_VARIABLES.values(), *WORKER_VARIABLES.values(), "PATHWAY_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def toml(tmp_path, text: str):
    path = tmp_path / "pathway.toml"
    path.write_text(text)
    return path


def table(name: str, values: dict) -> str:
    return f"[{name}]\n" + "".join(f"{k} = {list(v) if isinstance(v, tuple) else v!r}\n".replace("'", '"')
                                    for k, v in values.items())


def test_every_setting_has_a_default_and_every_default_differs_from_the_test_values(clean_env, tmp_path):
    settings = load_settings(toml(tmp_path, ""))
    assert settings.webhooks == WebhookPolicy() and settings.workers == Workers()
    assert (settings.webhooks.timeout, settings.webhooks.max_attempts) == (10.0, 10)
    assert (settings.workers.queue, settings.workers.visibility_timeout, settings.workers.track_waits_minute) == (
        "pathway", 1800, 5)
    assert all(getattr(settings.webhooks, k) != v for k, v in WEBHOOKS.items())
    assert all(getattr(settings.workers, k) != v for k, v in WORKERS.items())
    assert set(WEBHOOKS) == set(WebhookPolicy.model_fields) and set(WORKERS) == set(Workers.model_fields)


def test_the_councils_file_sets_every_webhook_and_worker_setting(clean_env, tmp_path):
    settings = load_settings(toml(tmp_path, table("webhooks", WEBHOOKS) + table("workers", WORKERS)))
    assert settings.webhooks.model_dump() == WEBHOOKS
    assert settings.workers.model_dump() == WORKERS


def test_the_environment_sets_every_setting_and_wins_over_the_file(clean_env, tmp_path):
    path = toml(tmp_path, table("webhooks", {"timeout": 1.0, "lease": 5.0}) + table("workers", {"queue": "file"}))
    for name, value in WEBHOOKS.items():  # lists comma-separated
        clean_env.setenv(WEBHOOK_VARIABLES[name], ",".join(value) if isinstance(value, tuple) else str(value))
    for name, value in WORKERS.items():
        clean_env.setenv(WORKER_VARIABLES[name], str(value))
    settings = load_settings(path)
    assert settings.webhooks.model_dump() == WEBHOOKS
    assert settings.workers.model_dump() == WORKERS


def test_the_file_and_the_environment_combine_setting_by_setting(clean_env, tmp_path):
    clean_env.setenv("PATHWAY_WEBHOOK_TIMEOUT", "3")
    settings = load_settings(toml(tmp_path, table("webhooks", {"backoff": 12.0})))
    assert (settings.webhooks.timeout, settings.webhooks.backoff, settings.webhooks.lease) == (3.0, 12.0, 60.0)


@pytest.mark.parametrize(("text", "message"), [
    ("[workers]\ntrack_waits_minute = 60\n", "track_waits_minute.*less than or equal to 59"),
    ("[webhooks]\ntimout = 5\n", "timout.*Extra inputs are not permitted"),
    ("[webhooks]\nmax_attempts = 0\n", "max_attempts.*greater than or equal to 1"),
    ('[days]\nby_stage = { c1_active = "working" }\n',
     r"names stage 'c1_active'; the stages whose days are counted are contact, c1_waiting, c2_waiting, c3_waiting"),
    ('[days]\nby_stage = { contact = "weekdays" }\n',
     r"stage 'contact' the day mode 'weekdays'; use 'calendar' or 'working'"),
])
def test_a_bad_setting_in_the_file_is_refused_naming_it_and_what_is_allowed(clean_env, tmp_path, text, message):
    with pytest.raises(pydantic.ValidationError, match=f"(?s){message}"):
        load_settings(toml(tmp_path, text))


def test_each_stage_counts_its_days_in_its_own_mode_else_the_councils(clean_env, tmp_path):
    clean_env.delenv("PATHWAY_DAY_MODE", raising=False)
    clean_env.delenv("PATHWAY_DAY_MODE_BY_STAGE", raising=False)

    def modes(settings):
        return {stage: settings.day_mode_of(stage) for stage in ("contact", "c1_waiting", "c2_waiting", "c3_waiting")}

    # By default the front door counts working days, the queues the council's calendar days.
    assert modes(load_settings(toml(tmp_path, ""))) == {
        "contact": "working", "c1_waiting": "calendar", "c2_waiting": "calendar", "c3_waiting": "calendar"}
    # A council's own are laid over that default; the front door is undone by naming it.
    settings = load_settings(toml(tmp_path, '[days]\nmode = "calendar"\nby_stage = { c3_waiting = "working" }\n'))
    assert modes(settings) == {
        "contact": "working", "c1_waiting": "calendar", "c2_waiting": "calendar", "c3_waiting": "working"}
    settings = load_settings(toml(tmp_path, '[days]\nby_stage = { contact = "calendar" }\n'))
    assert set(modes(settings).values()) == {"calendar"}
    # Counting working days everywhere, the front door is no exception.
    assert set(modes(load_settings(toml(tmp_path, '[days]\nmode = "working"\n'))).values()) == {"working"}
    # The environment wins over the file (JSON).
    clean_env.setenv("PATHWAY_DAY_MODE_BY_STAGE", '{"contact": "calendar", "c2_waiting": "working"}')
    settings = load_settings(toml(tmp_path, '[days]\nby_stage = { c3_waiting = "working" }\n'))
    assert modes(settings) == {
        "contact": "calendar", "c1_waiting": "calendar", "c2_waiting": "working", "c3_waiting": "calendar"}
    # In Python, an unknown stage or mode is refused the same way.
    with pytest.raises(pydantic.ValidationError, match="names stage 'c4_waiting'"):
        Settings(_env_file=None, day_mode_by_stage={"c4_waiting": "working"})


def test_a_bad_setting_in_the_environment_is_refused_naming_it(clean_env, tmp_path):
    clean_env.setenv("PATHWAY_VISIBILITY_TIMEOUT", "soon")
    with pytest.raises(pydantic.ValidationError, match="(?s)visibility_timeout.*integer"):
        load_settings(toml(tmp_path, ""))


def test_the_celery_app_and_its_beat_are_built_from_the_workers_settings():
    app = make_celery(Settings(_env_file=None, broker_url="redis://127.0.0.1:6379/9", workers=Workers(**WORKERS)))
    assert app.conf.task_default_queue == "north-queue"
    options = app.conf.broker_transport_options
    assert (options["visibility_timeout"], options["unacked_restore_interval"]) == (120, 3)
    beat = app.conf.beat_schedule
    assert beat["dispatch-outbox"]["schedule"] == 2.5
    assert beat["track-waits"]["schedule"].minute == {17}
