"""Create the benchmark database with whatever DuckDB the running interpreter has.

Run by each interpreter (the published server's venv has DuckDB 1.5.x, this
project's environment DuckDB 2.x): a file written by a newer DuckDB may not open
in an older one, so each server gets its own file built from the same SQL.
Every value is a deterministic function of the row number.

    python make_db.py PATH [--rows N]   (N rows in `big`, N/10 in `t1m`; 10M by default)
"""

from __future__ import annotations

import argparse
import os

import duckdb

BIG_ROWS = 10_000_000


def sql(rows: int) -> list[str]:
    return [
        f"""CREATE TABLE big AS
    SELECT range::BIGINT AS id,
           (range * 0.5)::DOUBLE AS x,
           sin(range::DOUBLE) AS y,
           (range % 1000)::BIGINT AS k,
           chr((65 + range % 26)::INTEGER) AS c
    FROM range({rows})""",
        f"CREATE TABLE t1m AS SELECT * FROM big WHERE id < {rows // 10}",
        "CHECKPOINT",
    ]


def main(path: str, rows: int = BIG_ROWS) -> None:
    tmp = path + ".tmp"
    for leftover in (tmp, tmp + ".wal"):
        if os.path.exists(leftover):
            os.remove(leftover)
    con = duckdb.connect(tmp)
    for statement in sql(rows):
        con.execute(statement)
    (n,) = con.execute("SELECT count(*) FROM big").fetchone()
    assert n == rows, n
    con.close()
    os.replace(tmp, path)
    print(f"{path}: DuckDB {duckdb.__version__}, {os.path.getsize(path) / 2**20:.0f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--rows", type=int, default=BIG_ROWS)
    args = parser.parse_args()
    main(args.path, args.rows)
