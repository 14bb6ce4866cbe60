"""Scale-out: queries per second with 1, 2 and 3 replicas over one DuckLake, and notify
latency across replicas (PostgreSQL NOTIFY). Not a test: numbers for RESULTS.md.

    .venv/bin/python -m benchmarks.cluster [--seconds 5] [--clients 8] [--smoke]

Starts a real PostgreSQL (initdb + pg_ctl on loopback) and the replicas in the `[lake]`
venv (`.venv-lake`, made if missing), as the tests do.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file

from tests.cluster_support import (
    LAKE_VENV,
    Postgres,
    Replicas,
    lake_init_sql,
    lake_python,
    postgres_bin,
)
from tests.support import Client

QUERY = "SELECT count(*) AS n, sum(x) AS s FROM facts WHERE x % 7 = 3"


def queries_per_second(urls: list[str], clients: int, seconds: float) -> float:
    """`clients` connections spread over `urls`, each sending queries back to back."""
    done = [0] * clients
    stop = time.monotonic() + seconds

    def run(index: int) -> None:
        with Client(urls[index % len(urls)]) as client:
            while time.monotonic() < stop:
                client.query(QUERY, kind="json", query_id=f"q{index}")
                done[index] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.monotonic() - started)


def notify_latency(sender_url: str, receiver_url: str, count: int) -> list[float]:
    """Milliseconds from sending a notify on one replica to its arrival on another."""
    latencies = []
    with Client(receiver_url) as receiver, Client(sender_url) as sender:
        receiver.send({"type": "subscribe", "channel": "bench"})
        assert receiver.recv_json()["type"] == "subscribed"
        for i in range(count):
            started = time.perf_counter()
            sender.send({"type": "notify", "channel": "bench", "payload": i})
            while receiver.recv_json(timeout=10).get("payload") != i:
                pass
            latencies.append((time.perf_counter() - started) * 1000)
            sender.recv_json()  # its own echo
            sender.recv_json()  # notifyAck
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--notifies", type=int, default=200)
    parser.add_argument(
        "--smoke", action="store_true", help="0.5 s per replica count, 2 clients, 5 notifies"
    )
    args = parser.parse_args()
    bin_dir = postgres_bin()
    if args.smoke:
        args.seconds, args.clients, args.notifies = 0.5, 2, 5
        if bin_dir is None or not (LAKE_VENV / "bin" / "python").exists():
            print(f"smoke skipped: needs PostgreSQL and {LAKE_VENV} (as .ci/run makes)")
            return
    if bin_dir is None:
        raise SystemExit("PostgreSQL binaries are missing (apt-get install postgresql)")
    python = lake_python()
    postgres = Postgres(bin_dir)
    workdir = Path(tempfile.mkdtemp(prefix="sqlrooms-cluster-bench-"))
    (workdir / "data").mkdir()
    group = Replicas(workdir, python, lake_init_sql(postgres.dsn, f"{workdir}/data/"), postgres.url)
    try:
        first = group.start()
        with first.client() as client:
            client.query("CREATE TABLE facts AS SELECT range AS x FROM range(1000000)", kind="exec")
        for replicas in (1, 2, 3):
            while len(group.servers) < replicas:
                group.start()
            urls = [server.url for server in group.servers]
            rate = queries_per_second(urls, args.clients, args.seconds)
            print(f"replicas={replicas} clients={args.clients}: {rate:.0f} queries/s")
        latencies = notify_latency(group.servers[0].url, group.servers[2].url, args.notifies)
        quantiles = statistics.quantiles(latencies, n=100)
        print(
            f"notify replica 1 -> replica 3 ({args.notifies}): median "
            f"{statistics.median(latencies):.2f} ms, p95 {quantiles[94]:.2f} ms"
        )
        local = notify_latency(group.servers[0].url, group.servers[0].url, args.notifies)
        print(f"notify on one replica (for comparison): median {statistics.median(local):.2f} ms")
    finally:
        group.close()
        postgres.close()


if __name__ == "__main__":
    main()
