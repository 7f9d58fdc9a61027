"""Everything that touches the database: the tables, every SQL statement, the PostgreSQL fast paths.

Open a :class:`pathway.store.unit.Store` once per engine; use cases run in its units of work.
"""
