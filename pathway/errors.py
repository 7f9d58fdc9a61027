"""Domain errors: every bad input is one of these, naming what was wrong and what is allowed."""

from __future__ import annotations


class PathwayError(Exception):
    """Base of every error the engine raises on purpose; nothing was written when it is raised."""

    code = "pathway_error"
    http_status = 400

    def __init__(self, detail: str, **extra):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def to_dict(self) -> dict:
        return {"error": self.code, "detail": self.detail, **self.extra}


class ValidationError(PathwayError):
    """A malformed or unknown value."""

    code = "validation_error"
    http_status = 422

    def __init__(self, detail: str, field: str | None = None, **extra):
        if field:
            extra["field"] = field
        super().__init__(detail, **extra)


class InvalidTransition(PathwayError):
    """A trigger that the pathway does not allow from the episode's stage."""

    code = "invalid_transition"
    http_status = 409

    def __init__(self, stage: str, trigger: str, allowed: list[str]):
        allowed_text = ", ".join(allowed) if allowed else "none (the episode is closed)"
        super().__init__(
            f"cannot {trigger} from stage {stage}; allowed from {stage}: {allowed_text}",
            stage=stage,
            trigger=trigger,
            allowed=list(allowed),
        )
        self.stage = stage
        self.trigger = trigger
        self.allowed = list(allowed)


class NotFound(PathwayError):
    code = "not_found"
    http_status = 404


class Conflict(PathwayError):
    """Someone else changed it first (stale version, lost claim, reused idempotency key)."""

    code = "conflict"
    http_status = 409


class CaseloadFull(PathwayError):
    code = "caseload_full"
    http_status = 409


class Forbidden(PathwayError):
    code = "forbidden"
    http_status = 403


class StaleVersion(Conflict):
    """The caller moved from a version of the episode that is no longer current (HTTP If-Match)."""

    code = "stale_version"
    http_status = 412


class SetupError(PathwayError):
    """The environment, not the input, is wrong: a database URL that is not one, a driver not installed,
    a server that does not answer, a database without the pathway schema, a broker that is down. The
    detail says what is wrong and what to do."""

    code = "setup_error"
    http_status = 503
