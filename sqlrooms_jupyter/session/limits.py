"""What one connection may hold and how long it may wait: each refusal is an error."""

from __future__ import annotations

from dataclasses import dataclass

# With --query-timeout and no --queue-timeout: how long a query may wait for a worker.
DEFAULT_QUEUE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Limits:
    """What one connection may hold at once; each refusal is an error, the socket stays."""

    max_in_flight: int = 256
    max_subscriptions: int = 1024
    # Messages pushed to a connection without waiting for it (notifies, CRDT updates, acks)
    # that its socket has not taken; a connection over this is closed (1008).
    max_unread_pushed: int = 16 << 20
    # With a token: how long a connection may stay unauthenticated before it is closed.
    auth_timeout: float = 10.0
    # Longest SQL text; DuckDB's parser can take far more memory than the text's size.
    max_sql_chars: int = 256 << 10
    # A query still running this many seconds after it started is cancelled (None: never).
    # Its clock starts on a worker: waiting for the database to open or for a worker
    # does not count.
    query_timeout: float | None = None
    # A query still waiting for a worker after this many seconds (counted once the
    # database is open) is refused as "server is busy". None: DEFAULT_QUEUE_TIMEOUT with
    # a query timeout, else no bound; 0: no bound.
    queue_timeout: float | None = None
    # Authenticated connections the server accepts at once (across all its sockets).
    max_connections: int = 1024
    # With a token: connections still waiting to authenticate, counted apart from the above
    # so that they cannot lock token holders out; beyond it the oldest waiting one is closed.
    max_unauthenticated: int = 64
    # With a token: the largest message a connection may send before it authenticates
    # (an auth message is far smaller); a larger one closes it (1009) unread.
    max_unauthenticated_message: int = 4 << 10

    def wait_bound(self) -> float | None:
        """How long a query may wait for a worker (None: no bound)."""
        if self.queue_timeout is not None:
            return self.queue_timeout or None
        return DEFAULT_QUEUE_TIMEOUT if self.query_timeout else None
