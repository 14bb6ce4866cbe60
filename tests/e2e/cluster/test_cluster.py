"""Scale-out with real services: PostgreSQL (initdb + pg_ctl on loopback), three replicas of
`sqlrooms-server` over one DuckLake with a shared data folder, in the second venv
(DuckDB 1.5.5 + the `[lake]` extra); one lake on S3-compatible storage (moto)."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster_support import (
    MotoServer,
    Postgres,
    Replicas,
    lake_init_sql,
    lake_python,
    readyz,
    require_postgres,
)
from tests.e2e.server.test_crdt import Peer
from tests.polling import wait_until
from tests.support import Client

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    server = Postgres(require_postgres())
    yield server
    server.close()


@pytest.fixture(scope="module")
def python() -> str:
    return lake_python()


@pytest.fixture(scope="module")
def replicas(
    postgres: Postgres, python: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    workdir = tmp_path_factory.mktemp("cluster")
    data = workdir / "lake-data"
    data.mkdir()
    group = Replicas(workdir, python, lake_init_sql(postgres.dsn, f"{data}/"), postgres.url)
    try:
        for _ in range(3):  # one after another: the first one creates the lake's catalog
            group.start()
        yield group
    finally:
        group.close()


def rows(client: Client, sql: str, **extra: object) -> list[dict[str, object]]:
    result = client.query(sql, kind="json", query_id="q", **extra)
    assert isinstance(result, list), result
    return result


def test_a_table_written_through_one_replica_is_read_through_the_others(
    replicas: Replicas,
) -> None:
    one, two, three = replicas.servers
    with one.client() as writer:
        writer.query("CREATE TABLE facts AS SELECT range AS x FROM range(100000)", kind="exec")
    for server in (two, three):
        with server.client() as reader:
            assert rows(reader, "SELECT count(*) AS n, sum(x) AS s FROM facts") == [
                {"n": 100000, "s": 4999950000}
            ]
    # in the lake, not in a replica's own database
    assert any((replicas.workdir / "lake-data").rglob("*.parquet"))


def test_notify_sent_to_one_replica_reaches_subscribers_on_all(replicas: Replicas) -> None:
    clients = [server.client() for server in replicas.servers]
    try:
        for client in clients:
            client.send({"type": "subscribe", "channel": "news"})
            assert client.recv_json() == {"type": "subscribed", "channel": "news"}
        big = "x" * 20_000  # over PostgreSQL's 8000-byte NOTIFY limit: goes through a table
        sender = clients[1]
        for payload in ({"n": 1}, {"big": big}):
            sender.send({"type": "notify", "channel": "news", "payload": payload})
            note = {"type": "notify", "channel": "news", "payload": payload}
            assert sender.recv_json() == note
            assert sender.recv_json() == {"type": "notifyAck", "channel": "news"}
            for other in (clients[0], clients[2]):
                assert other.recv_json(timeout=20) == note
    finally:
        for client in clients:
            client.close()


def test_crdt_room_converges_across_replicas_and_survives_kill_9(replicas: Replicas) -> None:
    one, two, three = replicas.servers
    alice, bob = Peer.of(one, "shared"), Peer.of(two, "shared")
    try:
        alice.edit(lambda doc: doc.get_map("m").insert("alice", 1))
        bob.edit(lambda doc: doc.get_map("m").insert("bob", 2))
        alice.wait(lambda: alice.acks == 1 and alice.value.get("m", {}).get("bob") == 2)
        bob.wait(lambda: bob.acks == 1 and bob.value.get("m", {}).get("alice") == 1)
        assert alice.value == bob.value == {"m": {"alice": 1, "bob": 2}}

        # acknowledged by replica 1, which dies at once: nothing is lost
        alice.edit(lambda doc: doc.get_text("t").insert(0, "before the crash"))
        alice.wait(lambda: alice.acks == 2)
        one.stop(signal.SIGKILL)
        bob.wait(lambda: bob.value.get("t") == "before the crash")
    finally:
        alice.close()
        bob.close()
    late = Peer.of(three, "shared")
    late.close()
    expected = {"m": {"alice": 1, "bob": 2}, "t": "before the crash"}
    assert late.value == expected
    restarted = replicas.restart(0)
    again = Peer.of(restarted, "shared")
    again.close()
    assert again.value == expected


def test_cached_result_is_fresh_after_a_write_through_another_replica(
    replicas: Replicas,
) -> None:
    one, _, three = replicas.servers
    with one.client() as writer, three.client() as reader:
        writer.query("CREATE TABLE counted AS SELECT 1 AS x", kind="exec")
        sql = "SELECT count(*) AS n FROM counted"
        assert rows(reader, sql, persist=True) == [{"n": 1}]
        assert rows(reader, sql, persist=True) == [{"n": 1}]  # from the cache
        writer.query("INSERT INTO counted VALUES (2)", kind="exec")
        assert rows(reader, sql, persist=True) == [{"n": 2}]


def test_a_change_made_outside_the_servers_notifies_every_replica(
    replicas: Replicas, postgres: Postgres, python: str
) -> None:
    clients = [server.client() for server in replicas.servers]
    try:
        for client in clients:
            client.send({"type": "subscribe", "channel": "table:outside"})
            assert client.recv_json()["type"] == "subscribed"
        data = next(iter(replicas.workdir.glob("lake-data")))
        script = (
            "import duckdb; con = duckdb.connect(); "
            f"con.execute({lake_init_sql(postgres.dsn, f'{data}/')!r}); "
            "con.execute('CREATE TABLE outside AS SELECT 42 AS answer')"
        )
        subprocess.run([python, "-c", script], check=True, timeout=60)
        for client in clients:
            note = client.recv_json(timeout=20)
            assert note["channel"] == "table:outside"
            assert note["payload"]["op"] == "create"
    finally:
        for client in clients:
            client.close()


def test_readyz_fails_while_postgres_is_down_and_recovers(
    replicas: Replicas, postgres: Postgres
) -> None:
    assert [readyz(server) for server in replicas.servers] == [200, 200, 200]
    postgres.stop()
    try:
        wait_until(
            lambda: all(readyz(s) == 503 for s in replicas.servers), timeout=20, interval=0.05
        )
    finally:
        postgres.start()
    wait_until(lambda: all(readyz(s) == 200 for s in replicas.servers), timeout=30, interval=0.05)
    with replicas.servers[1].client() as client:  # and they work again
        assert rows(client, "SELECT count(*) AS n FROM counted") == [{"n": 2}]


def test_a_notify_acknowledged_while_postgres_is_down_reaches_the_other_replicas(
    replicas: Replicas, postgres: Postgres
) -> None:
    clients = [server.client() for server in replicas.servers]
    try:
        for client in clients:
            client.send({"type": "subscribe", "channel": "outage"})
            assert client.recv_json() == {"type": "subscribed", "channel": "outage"}
        postgres.stop()
        try:
            wait_until(
                lambda: all(readyz(s) == 503 for s in replicas.servers), timeout=20, interval=0.05
            )
            sender = clients[1]
            notes = [{"type": "notify", "channel": "outage", "payload": {"n": n}} for n in (1, 2)]
            for note in notes:
                sender.send({k: v for k, v in note.items() if k != "type"} | {"type": "notify"})
                assert sender.recv_json() == note
                assert sender.recv_json() == {"type": "notifyAck", "channel": "outage"}
        finally:
            postgres.start()
        for other in (clients[0], clients[2]):  # in order, once each
            assert [other.recv_json(timeout=40) for _ in notes] == notes
        sender.send({"type": "notify", "channel": "outage", "payload": {"n": 3}})
        after = {"type": "notify", "channel": "outage", "payload": {"n": 3}}
        for other in (clients[0], clients[2]):
            assert other.recv_json(timeout=20) == after
    finally:
        for client in clients:
            client.close()


def test_lake_on_s3_compatible_storage(postgres: Postgres, python: str, tmp_path: Path) -> None:
    moto = MotoServer(python, tmp_path)
    try:
        moto.create_bucket("lake")
        postgres.sql("CREATE DATABASE s3lake")
        secret = (
            "CREATE SECRET (TYPE s3, KEY_ID 'test', SECRET 'test', REGION 'us-east-1', "
            f"ENDPOINT '127.0.0.1:{moto.port}', URL_STYLE 'path', USE_SSL false);\n"
        )
        dsn = postgres.dsn.replace("dbname=postgres", "dbname=s3lake")
        init = lake_init_sql(dsn, "s3://lake/data/", secret=secret)
        group = Replicas(tmp_path, python, init, postgres.url)
        try:
            writer, reader = group.start(), group.start()
            with writer.client() as client:
                client.query("CREATE TABLE s AS SELECT range AS x FROM range(50000)", kind="exec")
            with reader.client() as client:
                assert rows(client, "SELECT count(*) AS n FROM s") == [{"n": 50000}]
                files = rows(client, "SELECT count(*) AS n FROM glob('s3://lake/data/**')")
                assert files[0]["n"] >= 1  # the data files are in the bucket
        finally:
            group.close()
    finally:
        moto.close()
