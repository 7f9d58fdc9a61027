"""The Three Conversations pathway engine: episodes, their event log, queues, waits and reports."""

from pathway.errors import (
    CaseloadFull,
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    PathwayError,
    StaleVersion,
    ValidationError,
)
from pathway.services.engine import Engine, EpisodeOut

__all__ = [
    "Engine", "EpisodeOut", "PathwayError", "InvalidTransition", "NotFound", "CaseloadFull",
    "Conflict", "StaleVersion", "ValidationError", "Forbidden",
]
__version__ = "0.1.0"
