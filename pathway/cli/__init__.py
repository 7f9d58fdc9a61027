"""The ``pathway`` command. Each module below adds its commands to the one Typer app."""

import pathway.cli.api  # noqa: F401  (serve, token)
import pathway.cli.demo  # noqa: F401
import pathway.cli.duty  # noqa: F401
import pathway.cli.episodes  # noqa: F401  (episode contact, fire, show, history)
import pathway.cli.workers  # noqa: F401  (worker, beat, track-waits, dispatch-outbox, webhook)
from pathway.cli import core  # noqa: F401  (registers commands)
from pathway.cli import history as _history  # noqa: F401  (pathway import, pathway export cld)
from pathway.cli import reports as _reports  # noqa: F401  (pathway report …)
from pathway.cli import scrutiny as _scrutiny  # noqa: F401  (report three-conversations, audit, outreach, pack)
from pathway.cli.app import app


def main() -> None:
    app()
