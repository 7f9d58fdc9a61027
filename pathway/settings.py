"""Settings: defaults in code, overridden by a council's TOML file, overridden by the environment."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pathway.domain.vocabulary import CLIENT_GROUPS, OUTCOMES, PRIORITIES  # noqa: F401  (re-exported)
from pathway.errors import ValidationError

# Target days to allocation per waiting stage. Conversation 1 within 11 days is what
# scrutiny panels praised; a crisis waits a day at most.
DEFAULT_THRESHOLDS = {"c1_waiting": 11, "c2_waiting": 1, "c3_waiting": 28}


class Thresholds(BaseModel):
    default: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    by_client_group: dict[str, dict[str, int]] = Field(default_factory=dict)


class Caseload(BaseModel):
    default_cap: int = 35
    # A person in crisis must not wait because every duty worker is at cap: by default a
    # crisis may be taken over cap, and the manager sees the overload on the huddle board.
    crisis_over_cap: bool = True


class Settings(BaseSettings):
    """Everything configurable. Environment variables are PATHWAY_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="PATHWAY_", extra="ignore")

    database_url: str = "sqlite:///pathway.db"
    # PostgreSQL connections each process keeps open (more are opened for a burst, up to 40 over,
    # and closed after it): as many as requests or claims it serves at once, e.g. the API's threads.
    database_pool_size: int = Field(default=10, ge=1, le=1000)
    broker_url: str | None = None
    config_file: str | None = None
    day_mode: Literal["calendar", "working"] = "calendar"
    timezone: str = "Europe/London"
    extra_client_groups: list[str] = Field(default_factory=list)
    extra_outcomes: list[str] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    caseload: Caseload = Field(default_factory=Caseload)

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
    if "days" in data:
        out["day_mode"] = data["days"].get("mode", "calendar")
    out["extra_client_groups"] = list(data.get("client_groups", {}).get("extra", []))
    out["extra_outcomes"] = list(data.get("outcomes", {}).get("extra", []))
    thresholds = dict(data.get("thresholds", {}))
    default = {**DEFAULT_THRESHOLDS, **thresholds.pop("default", {})}
    out["thresholds"] = {"default": default, "by_client_group": thresholds}
    if "caseload" in data:
        out["caseload"] = data["caseload"]
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
    values.update(overrides)
    return Settings(**values)
