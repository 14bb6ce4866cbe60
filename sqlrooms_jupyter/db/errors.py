"""What the database refuses a client, with a message the client reads.

One exception for every refusal (the read-only rule, a result or upload over its bound, SQL
nested too deep), so the session answers them all the same way and never logs them as bugs.
"""

from __future__ import annotations

READ_ONLY_REFUSAL = (
    "refused: this server runs with --read-only; only reads are allowed (SELECT, SHOW, DESCRIBE,"
    " SUMMARIZE, EXPLAIN; not PRAGMA or CALL: use their table functions, e.g. pragma_table_info)"
)


class Refused(Exception):
    """A request the server's configuration or bounds forbid; the client gets the message."""
