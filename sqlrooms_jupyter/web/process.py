"""What a process that serves clients sets up for itself (the CLI's, a Jupyter kernel's).

- stdin from /dev/null: the server never reads it, but a client's
  `read_text('/dev/stdin')` would block a worker for as long as nobody types into the
  server's terminal (or writes its supervisor's pipe), beyond any cancel.
- the descriptor limit's soft value raised to its hard one: every socket, including
  ones that have not finished their request, takes a descriptor, and the common soft
  limit of 1024 is reached by that many half-open connections.
"""

from __future__ import annotations

import logging
import os
import resource

log = logging.getLogger(__name__)

# Where the hard limit is "unlimited", a soft limit above the kernel's nr_open fails.
_UNLIMITED_FALLBACK = 1 << 20


def detach_stdin() -> None:
    """Point file descriptor 0 at /dev/null (reads return end of file at once)."""
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        if null != 0:
            os.dup2(null, 0)
    finally:
        if null != 0:
            os.close(null)


def raise_descriptor_limit() -> int:
    """Raise RLIMIT_NOFILE's soft limit to the hard limit; returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _UNLIMITED_FALLBACK if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.debug("could not raise the descriptor limit to %d: %s", target, exc)
    return soft
