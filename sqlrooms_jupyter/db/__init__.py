"""The database: one DuckDB connection, its workers, queries, results and meta tables."""
