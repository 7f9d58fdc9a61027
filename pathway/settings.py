"""Settings: defaults in code, overridden by a council's TOML file, overridden by the environment."""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pathway.domain.checks import Horizon, RefPolicy
from pathway.domain.days import MODES, DayModes
from pathway.domain.stages import CLOCKED, WAITING
from pathway.domain.vocabulary import CLIENT_GROUPS, OUTCOMES, PRIORITIES  # noqa: F401  (re-exported)
from pathway.errors import SetupError, ValidationError

# Target days per stage with a wait clock: at the front door, a decision (resolve, refer or crisis)
# within 2 days; conversation 1 allocated within 11 days is what scrutiny panels praised; a crisis
# waits a day at most.
DEFAULT_THRESHOLDS = {"contact": 2, "c1_waiting": 11, "c2_waiting": 1, "c3_waiting": 28}
# Stages whose days are counted in a mode of their own, whatever the council's day_mode: the front door's
# decision is promised within working days, so a contact made on Friday afternoon is not over its 2 days on
# Monday morning. The queues count in the council's day_mode.
DEFAULT_DAY_MODE_BY_STAGE = {"contact": "working"}


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
    batch: int = Field(default=25, ge=1, le=1000)  # deliveries one sender leases, posts and records together
    senders: int = Field(default=4, ge=1, le=64)  # delivery tasks one relay sends at most (workers share them)
    rotation_overlap: float = Field(default=86400.0, ge=0)  # seconds a rotated-out secret still signs
    # Where deliveries may go (pathway.domain.destinations): https to public addresses only, unless a
    # host is named here. allow_hosts: hosts on the council's own network (private addresses allowed);
    # allow_http_hosts: hosts that may be sent plain http. Comma-separated in the environment.
    allow_hosts: tuple[str, ...] = ()
    allow_http_hosts: tuple[str, ...] = ()

    @field_validator("allow_hosts", "allow_http_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, v):
        return tuple(h.strip() for h in v.split(",") if h.strip()) if isinstance(v, str) else v


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


def _user_dir(variable: str, fallback: str) -> Path:
    """An XDG base directory: $VARIABLE if set, else ~/FALLBACK."""
    return Path(os.environ.get(variable) or Path.home() / fallback)


def default_config_file() -> Path:
    """Where the council's TOML file is looked for when PATHWAY_CONFIG_FILE is not set: the user's
    configuration folder ($XDG_CONFIG_HOME/pathway/pathway.toml, by default ~/.config/pathway/pathway.toml),
    never the working directory, so a command sees the same settings from any folder."""
    return _user_dir("XDG_CONFIG_HOME", ".config") / "pathway" / "pathway.toml"


def default_state_dir() -> str:
    """Where the engine keeps files of its own (beat's schedule): $XDG_STATE_HOME/pathway, by default
    ~/.local/state/pathway."""
    return str(_user_dir("XDG_STATE_HOME", ".local/state") / "pathway")


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
# A council's references for people: an optional upper-case prefix (LAS-, P-, MOSAIC:) and then a
# number-led code. Names (JohnSmith, john.smith, Mary-Jane) and dates of birth written into a
# reference (J.Smith-1950-03-02) do not fit it; a council whose system differs sets its own.
DEFAULT_PERSON_REF_PATTERN = r"^[A-Z]{0,12}[-:/._]?[0-9][0-9A-Z._:/-]{0,50}$"
# Days a token lasts when it is made without an expiry of its own, per role.
DEFAULT_TOKEN_DAYS = {"duty": 90, "manager": 90, "auditor": 90, "integration": 365, "admin": 30}


class Security(BaseModel):
    """Limits at the edge: request sizes, the date horizon, the person-reference policy, token lifetimes,
    failed sign-ins, and the proxies whose forwarded headers are believed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    json_body_max: int = Field(default=1_048_576, ge=1024)  # bytes of any request body but an import's
    import_body_max: int = Field(default=256 * 1_048_576, ge=1024)  # bytes of one history extract (POST /imports)
    # Where imports are spooled while they are checked: private to the engine's user, emptied when the
    # API starts and after every import (default: pathway-uploads-<uid> in the system's temporary directory).
    upload_dir: str | None = None
    earliest_date: dt.date = dt.date(1990, 1, 1)  # nothing happened before this: older times are mistakes
    future_slack_seconds: int = Field(default=300, ge=0)  # clocks differ; further ahead than this is a mistake
    person_ref_pattern: str = DEFAULT_PERSON_REF_PATTERN
    nhs_numbers: bool = False  # True: the council's person references may be NHS numbers
    token_days: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_TOKEN_DAYS))
    auth_failures: int = Field(default=20, ge=1)  # failed sign-ins from one address in the window, then 429
    auth_window_seconds: int = Field(default=300, ge=1)
    # Addresses of reverse proxies (TLS terminators) whose X-Forwarded-For and X-Forwarded-Proto are
    # believed: the client's address and whether it came over https (for Secure cookies).
    trusted_proxies: list[str] = Field(default_factory=list)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value):
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value

    @field_validator("person_ref_pattern")
    @classmethod
    def _compiles(cls, value):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"person_ref_pattern is not a regular expression: {exc}") from None
        return value

    @field_validator("token_days")
    @classmethod
    def _every_role(cls, value):
        return {**DEFAULT_TOKEN_DAYS, **value}

    @property
    def horizon(self) -> Horizon:
        return Horizon(self.earliest_date, dt.timedelta(seconds=self.future_slack_seconds))

    @property
    def ref_policy(self) -> RefPolicy:
        return RefPolicy(self.person_ref_pattern, self.nhs_numbers)


# The environment variable of each sub-model setting: deployments set these names.
ENVIRONMENT = {
    "webhooks": {name: f"PATHWAY_WEBHOOK_{name.upper()}" for name in WebhookPolicy.model_fields},
    "workers": {name: f"PATHWAY_{name.upper()}" for name in Workers.model_fields} | {"queue": "PATHWAY_CELERY_QUEUE"},
    "security": {name: f"PATHWAY_{name.upper()}" for name in Security.model_fields if name != "token_days"},
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
    # Files the engine keeps for itself (Celery beat's schedule): PATHWAY_STATE_DIR.
    state_dir: str = Field(default_factory=default_state_dir)
    day_mode: Literal["calendar", "working"] = "calendar"
    # The stages (of those with a clock) counted in a mode of their own; the others count in day_mode.
    # A council's own entries are laid over DEFAULT_DAY_MODE_BY_STAGE: {"contact": "calendar"} undoes it.
    day_mode_by_stage: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_DAY_MODE_BY_STAGE))
    extra_client_groups: list[str] = Field(default_factory=list)
    extra_outcomes: list[str] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    caseload: Caseload = Field(default_factory=Caseload)
    progression: Progression = Field(default_factory=Progression)
    webhooks: WebhookPolicy = Field(default_factory=WebhookPolicy)
    workers: Workers = Field(default_factory=Workers)
    workforce: Workforce = Field(default_factory=Workforce)
    scrutiny: Scrutiny = Field(default_factory=Scrutiny)
    security: Security = Field(default_factory=Security)

    @field_validator("broker_url")
    @classmethod
    def _blank_broker_is_none(cls, v):
        return v or None

    @field_validator("day_mode_by_stage", mode="before")
    @classmethod
    def _clocked_stages_and_known_modes(cls, value):
        if not isinstance(value, dict):
            return value  # pydantic says what type it wants
        for stage, mode in value.items():
            if stage not in CLOCKED:
                raise ValueError(f"day_mode_by_stage ([days] by_stage) names stage {stage!r}; the stages whose "
                                 f"days are counted are {', '.join(CLOCKED)}")
            if mode not in MODES:
                raise ValueError(f"day_mode_by_stage ([days] by_stage) gives stage {stage!r} the day mode {mode!r}; "
                                 f"use {' or '.join(map(repr, MODES))}")
        return {**DEFAULT_DAY_MODE_BY_STAGE, **value}

    @property
    def day_modes(self) -> DayModes:
        """The unit each stage's days are counted in: its own (``day_mode_by_stage``), else ``day_mode``."""
        return DayModes.of_council(self.day_mode, self.day_mode_by_stage)

    def day_mode_of(self, stage: str) -> str:
        """The unit one stage's days are counted in (and its threshold is set in): calendar or working."""
        return self.day_modes.of(stage)

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
        if "by_stage" in data["days"]:
            out["day_mode_by_stage"] = data["days"]["by_stage"]
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
    """Settings from code defaults, then the TOML file (PATHWAY_CONFIG_FILE, else :func:`default_config_file`
    if it exists), then PATHWAY_* environment variables, then keyword overrides."""
    env = Settings()
    path = config_file or env.config_file
    if path is None and default_config_file().is_file():
        path = default_config_file()
    values: dict = {}
    if path is not None:
        if not Path(path).is_file():
            raise SetupError(f"no config file {str(path)!r} (PATHWAY_CONFIG_FILE); point it at the council's TOML "
                             "file, or unset it for the defaults")
        values.update(_from_toml(Path(path)))
    # The environment wins over the file for the deployment settings.
    for name in ("database_url", "database_pool_size", "broker_url", "day_mode", "day_mode_by_stage", "state_dir",
                 "migrate_on_start", "import_errors_listed"):
        if f"PATHWAY_{name.upper()}" in os.environ:
            values[name] = getattr(env, name)
    for table, variables in ENVIRONMENT.items():
        found = {name: os.environ[var] for name, var in variables.items() if os.environ.get(var)}
        if found:
            values[table] = {**values.get(table, {}), **found}
    values.update(overrides)
    return Settings(**values)
