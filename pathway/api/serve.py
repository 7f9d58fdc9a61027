"""The ASGI app ``pathway serve`` runs: the API on the configured database (uvicorn imports ``app``)."""

from pathway.api.app import create_app

app = create_app()
