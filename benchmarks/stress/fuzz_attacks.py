"""SQL-level attacks on a real `--read-only` server: escapes, leaks, parser blow-ups.

    python benchmarks/stress/fuzz_attacks.py --minutes 10 [--clients 4] [--seed 1]

Clients send generated attacks (issue 28): writes wrapped in EXPLAIN [ANALYZE | (options)]
and in CTEs, in random case, whitespace and comments, alone or inside multi-statement texts;
temporary objects that would shadow `t` or `lower`; deep nesting hidden behind quoting the
parser understands (`$$`, `$tag$`, `E'\\''`, nested comments) and sign runs; one statement
of every StatementType; SQL run from data (`json_execute_serialized_sql` of a base64 payload,
`query()` of a computed or writing text, pragma and call forms), functions that write or
change global state (`checkpoint`, `enable_logging`, `nextval`, `write_log`, ...), a seed
(`setseed`) that must not reach the next query, SELECTs that merely contain the words
insert/update/delete/copy/merge (must run) and texts of thousands of flat CTEs.
Every write must be refused, no canary file may appear, no later
query may see a temporary object, every answer must come within 10 s, a probe's `SELECT 1`
is timed, the server's RSS is sampled and its log must hold no traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a file

from benchmarks.peers import WORK
from benchmarks.procs import free_port, proc_status

EVERY_TYPE = [
    "select 1",
    "insert into t values (1)",
    "update t set x = 1",
    "create temp table u (x int)",
    "delete from t",
    "prepare p as select 1",
    "execute p",
    "alter table t add column y int",
    "begin transaction",
    "copy (select 1) to '{canary}'",
    "explain analyze select 1",
    "drop table t",
    "export database '{canary}'",
    "pragma enable_profiling",
    "vacuum",
    "call checkpoint()",
    "set variable v = 1",
    "load json",
    "attach ':memory:' as m",
    "detach m",
    "pivot t on x",
    "merge into t using (select 1 x) s on t.x = s.x when matched then delete",
    "update extensions",
    "explain analyze update extensions",
]
WRITES = [
    "copy (select 'x') to '{canary}' (header false)",
    "insert into __sqlrooms.ui_state select * from __sqlrooms.ui_state",
    "create temp table t as select 42 x",
    "create temp view t as select 42 x",
    "create temp macro lower(x) as 'shadowed'",
    "set variable v = 1",
]
WRAPPERS = [
    "explain analyze {w}",
    "explain analyse {w}",
    "explain (analyze) {w}",
    "explain (analyze true, format json) {w}",
    "explain {w}",
    "{w}",
    "explain /* select */ analyze -- select\n {w}",
    "select 1; explain analyze {w}",
]
CTE_WRITES = [
    "with x as (copy (select 1) to '{canary}') select 1",
    "with x as (delete from __sqlrooms.ui_state returning *) select * from x",
    "explain analyze with x as (copy (select 1) to '{canary}') select 1",
]
SMUGGLED_STATEMENTS = [
    "with x as (copy (select 'x') to '{canary}') select 1",
    "with x as (insert into __sqlrooms.main.ui_state (key, payload_json) "
    "values ('pwned', '{{}}') returning key) select * from x",
]
FROM_DATA = [
    "select * from json_execute_serialized_sql(decode(from_base64('{b64}')))",
    "explain analyze select * from json_execute_serialized_sql(decode(from_base64('{b64}')))",
    "pragma json_execute_serialized_sql(decode(from_base64('{b64}')))",
    "call json_execute_serialized_sql(decode(from_base64('{b64}')))",
    "select * from query(decode(from_base64('{b64}')))",
    "select * from query('copy (select 1) to ''{canary}''')",
    "select * from query('select nextval(''s'')')",
    "select * from enable_profiling(format='json', save_location='{canary}')",
    "select * from enable_logging('QueryLog')",
    "select * from truncate_duckdb_logs()",
    "select * from checkpoint()",
    "select * from force_checkpoint()",
    "select write_log('x')",
    "select nextval('s')",
    "select * from \"Query\"(decode(from_base64('{b64}')))",
]
SEEDS = ["select setseed(0.5)", 'select "SetSeed"(0.5)', "select (0.5).setseed()"]
INNOCENT = ["select 1 as updated_at", "select 'delete' as w", "select 42 as merged_copy"]
_seeded = duckdb.connect()
_seeded.execute("select setseed(0.5)").fetchall()
PREDICTED = {_seeded.execute("select random()").fetchall()[0][0] for _ in range(64)}
KINDS = ["wrapped", "cte", "deep", "deep-ok", "type", "signs", "from-data", "from-data"]
KINDS += ["seed", "innocent", "many-ctes"]
QUOTES = ["$$'$$", "$tag$'$tag$", "E'\\''", "/* /* */ ' */", "'--'", '"a""("']


def respell(sql: str, rng: random.Random) -> str:
    words = sql.split(" ")
    out = []
    for word in words:
        if "'" not in word and rng.random() < 0.5:
            word = "".join(c.upper() if rng.random() < 0.5 else c for c in word)
        out.append(word)
    sep = rng.choice([" ", "\n", "\t ", " /* x */ ", " -- c\n"])
    return sep.join(out)


def attack(rng: random.Random, canary: str) -> tuple[str, str]:
    """(class, sql); every class but 'deep-ok' and 'type' must be refused."""
    kind = rng.choice(KINDS)
    if kind == "from-data":
        statement = rng.choice(SMUGGLED_STATEMENTS).format(canary=canary)
        tree = duckdb.connect().execute("select json_serialize_sql(?)", [statement])
        encoded = base64.b64encode(tree.fetchall()[0][0].encode()).decode()
        return kind, rng.choice(FROM_DATA).format(b64=encoded, canary=canary)
    if kind == "seed":
        return kind, respell(rng.choice(SEEDS), rng)
    if kind == "innocent":
        return kind, rng.choice(INNOCENT)
    if kind == "many-ctes":
        ctes = ",".join(f"c{i} AS(SELECT 1)" for i in range(rng.randint(500, 4000)))
        return kind, f"WITH {ctes} SELECT 1"
    if kind == "wrapped":
        write = rng.choice(WRITES).format(canary=canary)
        return kind, respell(rng.choice(WRAPPERS[:5] + WRAPPERS[6:]).format(w=write), rng)
    if kind == "cte":
        return kind, respell(rng.choice(CTE_WRITES).format(canary=canary), rng)
    if kind == "deep":
        opener = rng.choice(["(", "(/*)*/", "( ", "["])
        return kind, f"select {rng.choice(QUOTES)} a, " + opener * rng.randint(
            300, 20000
        ) + "1 -- '"
    if kind == "signs":
        return "deep", "select 1 " + rng.choice(["- ", "+ "]) * rng.randint(300, 5000)
    if kind == "deep-ok":
        depth = rng.randint(1, 200)
        return kind, f"select {rng.choice(QUOTES[:3])} a, " + "(" * depth + "1" + ")" * depth
    return kind, rng.choice(EVERY_TYPE).format(canary=canary)


class Stats:
    def __init__(self) -> None:
        self.sent: dict[str, int] = {}
        self.escapes: list[str] = []
        self.hangs: list[str] = []
        self.leaks = 0
        self.probes: list[float] = []


async def client(n: int, url: str, canary: str, stats: Stats, end: float, seed: int) -> None:
    rng = random.Random(seed + n)
    async with connect(url, max_size=None) as ws:
        i = 0
        while time.monotonic() < end:
            kind, sql = attack(rng, canary)
            stats.sent[kind] = stats.sent.get(kind, 0) + 1
            i += 1
            query_id = f"c{n}-{i}"
            await ws.send(
                json.dumps(
                    {"type": rng.choice(["json", "arrow", "exec"]), "sql": sql, "queryId": query_id}
                )
            )
            try:
                async with asyncio.timeout(10):
                    while True:
                        frame = await ws.recv()
                        text = frame if isinstance(frame, str) else frame[:300].decode("latin1")
                        if query_id in text:
                            break
            except TimeoutError:
                stats.hangs.append(f"{kind}: {sql[:80]!r}")
                return
            refused = isinstance(frame, str) and '"error"' in frame
            if kind in ("wrapped", "cte", "deep", "from-data") and not refused:
                stats.escapes.append(f"{kind}: {sql[:80]!r}")
            if kind == "innocent" and refused:
                stats.escapes.append(f"{kind}: {sql[:80]!r}")
            if (
                kind == "type"
                and not refused
                and not sql.lower().startswith(("select", "explain analyze select"))
            ):
                stats.escapes.append(f"{kind}: {sql[:80]!r}")
            await ws.send(
                json.dumps(
                    {
                        "type": "json",
                        "sql": "select (select sum(x) from t) s, lower('A') l,"
                        " getvariable('v') v, random() r",
                        "queryId": f"k{query_id}",
                    }
                )
            )
            reply = json.loads(await ws.recv())
            rows = json.loads(reply.get("data", "[]"))
            drawn = rows[0].pop("r", None) if rows else None
            if rows != [{"s": 3, "l": "a", "v": None}] or drawn in PREDICTED:
                stats.leaks += 1


async def probe(url: str, stats: Stats, end: float) -> None:
    async with connect(url) as ws:
        while time.monotonic() < end:
            started = time.monotonic()
            try:
                async with asyncio.timeout(10):
                    await ws.send(json.dumps({"type": "json", "sql": "select 1", "queryId": "p"}))
                    await ws.recv()
                stats.probes.append(time.monotonic() - started)
            except TimeoutError:
                stats.hangs.append("probe")
            await asyncio.sleep(0.2)


async def main_async(args: argparse.Namespace) -> int:
    work = WORK
    work.mkdir(exist_ok=True)
    port = free_port()
    db, meta = work / f"attacks-{port}.duckdb", work / f"attacks-{port}-meta.duckdb"
    canary = work / f"attacks-{port}-canary"
    with duckdb.connect(str(db)) as con:
        con.execute("create table t as select range x from range(3)")
        con.execute("create sequence s")
    log_path = work / f"attacks-{port}.log"
    log = open(log_path, "wb")  # noqa: SIM115
    command = [
        sys.executable,
        "-m",
        "sqlrooms_jupyter",
        "--port",
        str(port),
        "--extensions",
        "",
        "--db-path",
        str(db),
        "--read-only",
        "--sync",
        "--meta-db",
        str(meta),
    ]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"ws://127.0.0.1:{port}/"
    for _ in range(300):
        try:
            async with connect(url):
                break
        except OSError:
            await asyncio.sleep(0.1)
    stats, start = Stats(), time.monotonic()
    end = start + args.minutes * 60
    rss: list[tuple[float, int]] = []

    async def sample() -> None:
        while time.monotonic() < end and server.poll() is None:
            rss.append((time.monotonic() - start, proc_status(server.pid, "VmRSS")))
            await asyncio.sleep(args.sample_seconds)

    clients = [client(n, url, str(canary), stats, end, args.seed) for n in range(args.clients)]
    try:
        await asyncio.gather(*clients, probe(url, stats, end), sample())
    except (ConnectionClosed, OSError) as exc:
        stats.hangs.append(f"connection lost: {exc!r}")
    crashed = server.poll() is not None
    server.terminate()
    code = server.wait(30)
    tracebacks = log_path.read_text(errors="replace").count("Traceback")
    probes = sorted(stats.probes) or [0.0]
    print(f"minutes {args.minutes}, clients {args.clients}, seed {args.seed}")
    print(f"attacks sent: {sum(stats.sent.values())} {dict(sorted(stats.sent.items()))}")
    print(
        f"escapes: {len(stats.escapes)}; temp/variable/seed leaks: {stats.leaks}; "
        f"canary written: {canary.exists()}; tracebacks in log: {tracebacks}"
    )
    print(
        f"probe select 1: {len(stats.probes)} answered, "
        f"median {probes[len(probes) // 2] * 1000:.0f} ms, max {probes[-1] * 1000:.0f} ms"
    )
    print(f"crash: {crashed}; exit code after SIGTERM: {code}; hangs: {len(stats.hangs)}")
    for line in (stats.escapes + stats.hangs)[:10]:
        print("  ", line)
    print("RSS (MiB) over time:", " ".join(f"{t:.0f}s={b / 2**20:.0f}" for t, b in rss))
    bad = stats.escapes or stats.hangs or stats.leaks or canary.exists() or tracebacks
    return int(crashed or bool(bad) or code != 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sample-seconds", type=float, default=15)
    parser.add_argument("--smoke", action="store_true", help="3 s, 2 clients: that it runs")
    args = parser.parse_args()
    if args.smoke:
        args.minutes, args.clients, args.sample_seconds = 0.05, 2, 1
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
