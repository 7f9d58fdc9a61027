"""Everything that touches the database: the tables, every SQL statement, the PostgreSQL fast paths."""
