"""What all sessions of one server share."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import security
from ..backpressure import LoopInbox
from ..db.engine import Engine
from ..pubsub import Hub
from .limits import Limits

if TYPE_CHECKING:
    from .dispatch import Session
    from .routing import RoomHooks


@dataclass
class ServerState:
    """What all sessions of one server share."""

    engine: Engine
    hub: Hub
    loop: asyncio.AbstractEventLoop
    auth_token: str | None = None
    limits: Limits = field(default_factory=Limits)
    # The largest message (`--max-message-size`); an upload's data, decompressed, too.
    max_message_size: int = 1 << 30
    rooms: RoomHooks | None = None
    # Why room messages are refused when `rooms` is None.
    rooms_unavailable: str = "CRDT sync is disabled on this server (start it with --sync)"
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    sessions: set[Session] = field(default_factory=set)
    # The sessions not authenticated yet, oldest first (a dict keeps insertion order).
    unauthenticated: dict[Session, None] = field(default_factory=dict)
    # Workers' results reach the loop through here: one wake-up per batch.
    inbox: LoopInbox = field(init=False)

    def __post_init__(self) -> None:
        self.inbox = LoopInbox(self.loop)

    def token_matches(self, candidate: object) -> bool:
        return security.tokens_match(candidate, self.auth_token)

    @property
    def authenticated_count(self) -> int:
        return len(self.sessions) - len(self.unauthenticated)

    def wait_for_auth(self, session: Session) -> None:
        """Track a session until it authenticates; make room by closing the oldest waiting."""
        self.unauthenticated[session] = None
        while len(self.unauthenticated) > self.limits.max_unauthenticated:
            oldest = next(iter(self.unauthenticated))
            oldest.evict()
