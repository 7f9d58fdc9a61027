"""The ``pathway`` command. Each module below adds its commands to the one Typer app."""

import pathway.cli.api  # noqa: F401  (serve, token)
import pathway.cli.demo  # noqa: F401
import pathway.cli.duty  # noqa: F401
import pathway.cli.episodes  # noqa: F401  (episode contact, fire, show, history)
import pathway.cli.staff  # noqa: F401  (team add|list, staff add|list|update)
import pathway.cli.workers  # noqa: F401  (worker, beat, track-waits, dispatch-outbox, webhook)
from pathway.cli import core  # noqa: F401  (registers commands)
from pathway.cli import history as _history  # noqa: F401  (pathway import, pathway export cld)
from pathway.cli import reports as _reports  # noqa: F401  (pathway report …)
from pathway.cli import scrutiny as _scrutiny  # noqa: F401  (report three-conversations, audit, outreach, pack)
from pathway.cli import workforce as _workforce  # noqa: F401  (pathway workforce …, pathway report supervision)
from pathway.cli.app import app, print_error


def main() -> None:
    """The ``pathway`` command: a mistake of the environment, wherever it shows, is one line and exit 2."""
    from pathway.errors import SetupError
    from pathway.services.environment import explain
    from pathway.settings import load_settings

    try:
        app()
    except Exception as exc:  # noqa: BLE001 - translated, or raised as it was
        problem = explain(exc, _configured_url(load_settings))
        if not isinstance(problem, SetupError):
            raise
        print_error(problem.detail)
        raise SystemExit(2) from None


def _configured_url(load_settings) -> str | None:
    try:
        return load_settings().database_url
    except Exception:  # noqa: BLE001 - the settings themselves are what is wrong: no URL to name
        return None
