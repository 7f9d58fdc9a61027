"""The Three Conversations pathway engine: episodes, their event log, queues, waits and reports."""

from pathway.engine import Engine, EpisodeOut
from pathway.errors import (
    CaseloadFull,
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    PathwayError,
    ValidationError,
)

__all__ = [
    "Engine", "EpisodeOut", "PathwayError", "InvalidTransition", "NotFound", "CaseloadFull",
    "Conflict", "ValidationError", "Forbidden",
]
__version__ = "0.1.0"
