"""History in: an all-or-nothing backfill of episodes and their events from a case record system's extract.

The extract is a CSV file (or an iterable of dict rows) with one row per event, the rows of an
episode together and in ``seq`` order (:mod:`.parse` reads it). Every row is folded through the
same rules as a live change (:mod:`.check`), so an imported history is one the pathway could have
produced live. The whole source is checked first, with every bad row listed by line; only a clean
source is then read again and written, in one transaction, in batches (:mod:`.run`, through the
store's bulk part). Backfilled events put nothing in the outbox: years of history would flood
webhook subscribers with changes that happened long ago.

Re-importing is safe: an episode is known by the back end's ``episode_ref`` (table ``episode_ref``),
rows already stored are compared and skipped, later rows of an open episode are appended, and a row
that contradicts a stored event is an error.
"""

from pathway.services.history.check import RowRefused
from pathway.services.history.parse import CODED, COLUMNS, REQUIRED, ImportMapping, read_toml
from pathway.services.history.run import ImportSummary, Progress, import_history

__all__ = ["CODED", "COLUMNS", "REQUIRED", "ImportMapping", "ImportSummary", "Progress",
           "RowRefused", "import_history", "read_toml"]
