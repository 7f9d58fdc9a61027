"""Settings: defaults in code, overridden by a council's TOML file, overridden by the environment."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pathway.domain.stages import WAITING
from pathway.domain.vocabulary import CLIENT_GROUPS, OUTCOMES, PRIORITIES  # noqa: F401  (re-exported)
from pathway.errors import ValidationError

# Target days per stage with a wait clock: at the front door, a decision (resolve, refer or crisis)
# within 2 days; conversation 1 allocated within 11 days is what scrutiny panels praised; a crisis
# waits a day at most.
DEFAULT_THRESHOLDS = {"contact": 2, "c1_waiting": 11, "c2_waiting": 1, "c3_waiting": 28}


class Thresholds(BaseModel):
    default: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    by_client_group: dict[str, dict[str, int]] = Field(default_factory=dict)


class Caseload(BaseModel):
    default_cap: int = 35
    # A person in crisis must not wait because every duty worker is at cap: by default a
    # crisis may be taken over cap, and the manager sees the overload on the huddle board.
    crisis_over_cap: bool = True


class Progression(BaseModel):
    """Case progression: an active episode with no event for more than its stage's days is standing still."""

    stale_days: int = Field(default=14, ge=1)
    stale_days_by_stage: dict[str, int] = Field(default_factory=dict)  # e.g. {"c3_active": 28}

    def stale(self, stage: str) -> int:
        return self.stale_days_by_stage.get(stage, self.stale_days)


class WebhookPolicy(BaseModel):
    """How hard webhook delivery tries: a post's timeout, the backoff between attempts, when to pause
    a subscriber and when to give a delivery up."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout: float = Field(default=10.0, gt=0)  # seconds for one post
    backoff: float = Field(default=30.0, ge=0)  # seconds before the first retry; doubles each attempt
    backoff_max: float = Field(default=3600.0, ge=0)
    pause_after: int = Field(default=5, ge=1)  # consecutive failures of one subscriber before it is paused
    max_attempts: int = Field(default=10, ge=1)  # attempts of one delivery before it is given up ("failed")
    lease: float = Field(default=60.0, gt=0)  # seconds a sender holds a delivery while it posts
    requeue_after: float = Field(default=300.0, gt=0)  # seconds before a delivery whose task was sent may be sent again


class Workers(BaseModel):
    """The background work's Celery settings and beat schedule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Seconds Redis waits for an acknowledgement before it hands an unacknowledged task to
    # another worker. Longer than the longest task (track_waits back-filling a month on a large
    # council takes minutes), or a slow task runs twice (harmless, tasks are idempotent, but
    # wasted); short enough that work held by a killed worker comes back the same hour.
    visibility_timeout: int = Field(default=1800, ge=1)
    # Seconds between a worker's sweeps for tasks left unacknowledged past the visibility timeout
    # (kombu's default sweep is rare, about every 100 s, which is too slow with a short timeout).
    restore_interval: int = Field(default=60, ge=1)
    queue: str = Field(default="pathway", min_length=1)  # the queue every task goes to (tests use their own)
    dispatch_interval: float = Field(default=10.0, gt=0)  # seconds between outbox relays (beat)
    track_waits_minute: int = Field(default=5, ge=0, le=59)  # track_waits runs hourly at this minute past the hour


class SkillRule(BaseModel):
    """A client group (optionally in one stage, optionally in one team) needs a worker with ``skill``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_group: str
    skill: str
    team: str | None = None
    stage: str | None = None


class Workforce(BaseModel):
    """Who can take whom, and the practice standards for supervision and line management."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The skills a worker may carry; anything else is refused.
    skills: list[str] = Field(default_factory=lambda: ["learning_disability", "mental_health", "autism",
                                                       "sensory"])
    # Client groups (and optionally stages, per team or council-wide) that need a skill; none by
    # default, so any worker takes anyone. The most specific matching rule wins.
    require: list[SkillRule] = Field(default_factory=list)
    # Practice standard: at least this many supervisions a year, each at least this long.
    supervision_sessions: int = Field(default=8, ge=1, le=52)
    supervision_minutes: int = Field(default=120, ge=1, le=600)
    # No line manager has more direct reports than this.
    span_of_control: int = Field(default=10, ge=1)
    # An absence may be recorded at most this many days ahead.
    absence_horizon_days: int = Field(default=365, ge=1)
    # Weighted caseloads: when on, the cap check counts the weights of a worker's active episodes
    # (1 unless reweighed) against cap x FTE; when off, the number of active episodes against the cap.
    weighting: bool = False
    weight_min: float = Field(default=0.25, gt=0)
    weight_max: float = Field(default=4.0, gt=0)

    @model_validator(mode="after")
    def _rules_name_known_skills_and_stages(self):
        if self.weight_min > self.weight_max:
            raise ValueError(f"workforce.weight_min ({self.weight_min}) is above weight_max ({self.weight_max})")
        for rule in self.require:
            if rule.skill not in self.skills:
                raise ValueError(f"workforce.require names skill {rule.skill!r}, which is not in workforce.skills "
                                 f"({', '.join(self.skills)})")
            if rule.stage is not None and rule.stage not in WAITING:
                raise ValueError(f"workforce.require names stage {rule.stage!r}; a rule's stage is one of "
                                 f"{', '.join(WAITING)}")
        return self

    @property
    def rules(self) -> tuple[tuple[str, str, str | None, str | None], ...]:
        """The skill rules as the domain and the store take them: (client_group, skill, team, stage)."""
        return tuple((r.client_group, r.skill, r.team, r.stage) for r in self.require)
class Cohort(BaseModel):
    """A Three Conversations cohort: the teams working that way, and contacts given one of ``routes``
    (a label given at contact, e.g. an innovation site's postcode district). Its measures are
    set against everybody else's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    teams: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()


class Scrutiny(BaseModel):
    """What the scrutiny panel's measures take from the configuration (docs/scrutiny.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    repeat_window_days: int = Field(default=90, ge=1, le=3650)  # a contact this soon after a closure repeats
    cohorts: dict[str, Cohort] = Field(default_factory=dict)


# The environment variable of each sub-model setting: deployments set these names.
ENVIRONMENT = {
    "webhooks": {name: f"PATHWAY_WEBHOOK_{name.upper()}" for name in WebhookPolicy.model_fields},
    "workers": {name: f"PATHWAY_{name.upper()}" for name in Workers.model_fields} | {"queue": "PATHWAY_CELERY_QUEUE"},
}


class Settings(BaseSettings):
    """Everything configurable. Environment variables are PATHWAY_<NAME>; those of the ``webhooks`` and
    ``workers`` sub-models (:data:`ENVIRONMENT`) are read by :func:`load_settings`."""

    model_config = SettingsConfigDict(env_prefix="PATHWAY_", extra="ignore")

    database_url: str = "sqlite:///pathway.db"
    # PostgreSQL connections each process keeps open (more are opened for a burst, up to 40 over,
    # and closed after it): as many as requests or claims it serves at once, e.g. the API's threads.
    database_pool_size: int = Field(default=10, ge=1, le=1000)
    broker_url: str | None = None
    # `pathway serve` and `pathway worker` bring the schema up to date as they start (off: only
    # `pathway db upgrade` changes it, and an out-of-date schema stops them).
    migrate_on_start: bool = True
    # Bad rows a refused import lists by line (the rest are counted): PATHWAY_IMPORT_ERRORS_LISTED.
    import_errors_listed: int = Field(default=100, ge=1)
    config_file: str | None = None
    day_mode: Literal["calendar", "working"] = "calendar"
    extra_client_groups: list[str] = Field(default_factory=list)
    extra_outcomes: list[str] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    caseload: Caseload = Field(default_factory=Caseload)
    progression: Progression = Field(default_factory=Progression)
    webhooks: WebhookPolicy = Field(default_factory=WebhookPolicy)
    workers: Workers = Field(default_factory=Workers)
    workforce: Workforce = Field(default_factory=Workforce)
    scrutiny: Scrutiny = Field(default_factory=Scrutiny)

    @field_validator("broker_url")
    @classmethod
    def _blank_broker_is_none(cls, v):
        return v or None

    @property
    def client_groups(self) -> tuple[str, ...]:
        return CLIENT_GROUPS + tuple(g for g in self.extra_client_groups if g not in CLIENT_GROUPS)

    @property
    def outcomes(self) -> tuple[str, ...]:
        return OUTCOMES + tuple(o for o in self.extra_outcomes if o not in OUTCOMES)

    def threshold(self, stage: str, client_group: str | None = None) -> int | None:
        """Target days to allocation for a waiting stage, per client group where one is set."""
        group = self.thresholds.by_client_group.get(client_group or "", {})
        return group.get(stage, self.thresholds.default.get(stage))

    def check_client_group(self, value: str) -> str:
        if value not in self.client_groups:
            raise ValidationError(
                f"unknown client group {value!r}; client groups are: {', '.join(self.client_groups)}",
                field="client_group",
            )
        return value

    def check_outcome(self, value: str) -> str:
        if value not in self.outcomes:
            raise ValidationError(
                f"unknown outcome {value!r}; outcomes are: {', '.join(self.outcomes)}", field="outcome"
            )
        return value


def _from_toml(path: Path) -> dict:
    """Flatten the council's TOML file into Settings fields."""
    with path.open("rb") as f:
        data = tomllib.load(f)
    out: dict = {}
    if "database" in data and "url" in data["database"]:
        out["database_url"] = data["database"]["url"]
    if "database" in data and "pool_size" in data["database"]:
        out["database_pool_size"] = data["database"]["pool_size"]
    if "broker" in data and "url" in data["broker"]:
        out["broker_url"] = data["broker"]["url"]
    if "import" in data and "errors_listed" in data["import"]:
        out["import_errors_listed"] = data["import"]["errors_listed"]
    if "days" in data:
        out["day_mode"] = data["days"].get("mode", "calendar")
    out["extra_client_groups"] = list(data.get("client_groups", {}).get("extra", []))
    out["extra_outcomes"] = list(data.get("outcomes", {}).get("extra", []))
    thresholds = dict(data.get("thresholds", {}))
    default = {**DEFAULT_THRESHOLDS, **thresholds.pop("default", {})}
    out["thresholds"] = {"default": default, "by_client_group": thresholds}
    for table in ("caseload", "progression", "workforce", "scrutiny", *ENVIRONMENT):
        if table in data:
            out[table] = data[table]
    return out


def load_settings(config_file: str | os.PathLike | None = None, **overrides) -> Settings:
    """Settings from code defaults, then the TOML file (PATHWAY_CONFIG_FILE or ./config/pathway.toml),
    then PATHWAY_* environment variables, then keyword overrides."""
    env = Settings()
    path = config_file or env.config_file
    if path is None and Path("config/pathway.toml").exists():
        path = "config/pathway.toml"
    values: dict = {}
    if path is not None:
        values.update(_from_toml(Path(path)))
    # The environment wins over the file for the deployment settings.
    for name in ("database_url", "database_pool_size", "broker_url", "day_mode"):
        if f"PATHWAY_{name.upper()}" in os.environ:
            values[name] = getattr(env, name)
    for table, variables in ENVIRONMENT.items():
        found = {name: os.environ[var] for name, var in variables.items() if os.environ.get(var)}
        if found:
            values[table] = {**values.get(table, {}), **found}
    values.update(overrides)
    return Settings(**values)
