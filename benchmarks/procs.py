"""Processes: free ports, and a process's CPU time and memory from /proc."""

from __future__ import annotations

import contextlib
import os
import socket
import threading

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError):
        return float("nan")


def proc_status(pid: int, key: str) -> int:
    """A /proc/PID/status memory field in bytes (VmRSS, VmHWM)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class RssSampler:
    """Peak RSS of a process above its level at start(): sampled every 10 ms, and the
    kernel's high-water mark (VmHWM, reset through clear_refs) so no spike is missed."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._stop = threading.Event()

    def start(self) -> None:
        with contextlib.suppress(OSError), open(f"/proc/{self.pid}/clear_refs", "w") as f:
            f.write("5")
        self.base = proc_status(self.pid, "VmRSS")
        self.peak = self.base
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, proc_status(self.pid, "VmRSS"))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        peak = max(self.peak, proc_status(self.pid, "VmHWM"))
        return peak - self.base


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])
