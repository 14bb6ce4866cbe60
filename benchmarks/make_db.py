"""Create the benchmark database with whatever DuckDB the running interpreter has.

Run by each interpreter (the published server's venv has DuckDB 1.5.x, this
project's environment DuckDB 2.x): a file written by a newer DuckDB may not open
in an older one, so each server gets its own file built from the same SQL.
Every value is a deterministic function of the row number.

    python make_db.py PATH
"""

from __future__ import annotations

import os
import sys

import duckdb

BIG_ROWS = 10_000_000
SMALL_ROWS = 1_000_000
SQL = [
    f"""CREATE TABLE big AS
    SELECT range::BIGINT AS id,
           (range * 0.5)::DOUBLE AS x,
           sin(range::DOUBLE) AS y,
           (range % 1000)::BIGINT AS k,
           chr((65 + range % 26)::INTEGER) AS c
    FROM range({BIG_ROWS})""",
    f"CREATE TABLE t1m AS SELECT * FROM big WHERE id < {SMALL_ROWS}",
    "CHECKPOINT",
]


def main(path: str) -> None:
    tmp = path + ".tmp"
    for leftover in (tmp, tmp + ".wal"):
        if os.path.exists(leftover):
            os.remove(leftover)
    con = duckdb.connect(tmp)
    for statement in SQL:
        con.execute(statement)
    (n,) = con.execute("SELECT count(*) FROM big").fetchone()
    assert n == BIG_ROWS, n
    con.close()
    os.replace(tmp, path)
    print(f"{path}: DuckDB {duckdb.__version__}, {os.path.getsize(path) / 2**20:.0f} MiB")


if __name__ == "__main__":
    main(sys.argv[1])
