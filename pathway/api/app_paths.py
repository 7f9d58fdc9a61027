"""Where the board's templates and static assets live inside the package."""

from pathlib import Path

WEB = Path(__file__).resolve().parent.parent / "web"
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"
