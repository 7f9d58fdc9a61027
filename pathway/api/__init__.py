"""The HTTP API (FastAPI) and the huddle board: thin routes over ``pathway.services.auth.Access``."""

from pathway.api.app import create_app

__all__ = ["create_app"]
