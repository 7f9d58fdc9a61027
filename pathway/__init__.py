"""The Three Conversations pathway engine: episodes, their event log, queues, waits and reports."""

from pathway.errors import (
    CaseloadFull,
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    PathwayError,
    ValidationError,
)
from pathway.services.engine import Engine, EpisodeOut

__all__ = [
    "Engine", "EpisodeOut", "PathwayError", "InvalidTransition", "NotFound", "CaseloadFull",
    "Conflict", "ValidationError", "Forbidden",
]
__version__ = "0.1.0"
