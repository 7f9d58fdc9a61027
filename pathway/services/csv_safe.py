"""CSV the engine writes, safe to open in a spreadsheet: a text cell that a spreadsheet would run as a
formula (it begins with = + - @, a tab or a carriage return) is written with a leading apostrophe."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    """``value`` as a spreadsheet will not run it: text that starts like a formula gets a leading ' ."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write(rows: Iterable[dict], columns: Sequence[str], *, lineterminator: str = "\r\n") -> str:
    """``rows`` as CSV text with a header of ``columns``, every cell neutralised (see :func:`cell`)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator=lineterminator)
    writer.writeheader()
    writer.writerows({k: cell(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()
