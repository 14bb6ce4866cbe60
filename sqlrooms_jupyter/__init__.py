"""A DuckDB query server for SQLRooms apps, standalone or inside a Jupyter kernel."""

__version__ = "0.1.0"
