"""statements: what a text does, as DuckDB parses it (issue 28 items 1 and 12)."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from sqlrooms_jupyter.statements import classify, reads_by_type

ST = duckdb.StatementType


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


READS = [
    "select 1",
    "SELECT 1",
    "  \n\tselect 1 ;  ",
    "/* c */ select 1 -- c",
    "select 1; select 2",
    "from range(3)",
    "values (1), (2)",
    "with x as (select 1 a) select * from x",
    "with recursive r(n) as (select 1 union all select n + 1 from r where n < 3) from r",
    "select 'insert into t values (1)' as s",  # the word in a string
    "select 1 as update",
    "select 1 union select 2",
    "describe select 1",
    "explain select 1",
    "EXPLAIN ANALYZE SELECT 1",
    "explain analyse select 1",
    "ExPlAiN\n\tAnAlYzE\n\tSeLeCt 1",
    "explain /* c */ analyze -- c\n select 1",
    "explain (analyze) select 1",
    "explain (analyze true, format json) select 1",
    "explain (format json) select 1",
    "explain (select 1)",
    "explain analyze (select 1)",
    "explain (analyze) (select 1)",
    "explain analyze with x as (select 1 a) select * from x",
    "select 1; explain analyze select 2",
]

WRITES = [
    "EXPLAIN ANALYZE COPY (SELECT 'x') TO '/tmp/x' (HEADER false)",
    "explain analyze copy (select 1) to '/tmp/x'",
    "EXPLAIN\nANALYZE\n\tINSERT INTO __sqlrooms.ui_state VALUES (1)",
    "explain /* select */ analyze -- select\n insert into t values (1)",
    "explain (analyze) copy (select 1) to '/tmp/x'",
    "explain (analyze, format json) copy (select 1) to '/tmp/x'",
    "explain (ANALYZE true) delete from t",
    "explain analyze create temp table u as select 1",
    "explain analyze create temp view v as select 1",
    "explain analyze create temp macro lower(x) as 'shadowed'",
    "explain create table u (x int)",  # a plan only, but not of a read
    "explain analyze update t set x = 1",
    "explain analyze update extensions",
    "select 1; explain analyze copy (select 1) to '/tmp/x'",
    "select 1; insert into t values (1)",
    "insert into t values (1); select 1",
    "select 1; /* ; */ create temp table u(x int)",
    "with x as (copy (select 1) to '/tmp/x') select 1",
    "WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x",
    "with x as (update t set x = 2 returning *) select * from x",
    "with x as (delete from t returning *) select * from x",
    "explain analyze with x as (delete from t returning *) select * from x",
    "set variable v = 1",
    "set threads = 1",
    "reset threads",
    "use memory",
    "prepare p as select 1",
    "begin",
    "attach ':memory:' as m",
    "pivot t on x",
    "update extensions",
    "select 1; update extensions",
]


@pytest.mark.parametrize("sql", READS)
def test_reads_are_pure(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    assert classify(con, sql).pure_read


@pytest.mark.parametrize("sql", WRITES)
def test_anything_else_is_not(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    assert not classify(con, sql).pure_read


def test_every_statement_of_a_text_is_typed(con: duckdb.DuckDBPyConnection) -> None:
    found = classify(con, "select 1; -- ;\n explain analyze copy (select 1) to '/tmp/x';")
    assert found.types == (ST.SELECT, ST.EXPLAIN) and not found.pure_read
    assert classify(con, "select 1").one_select
    assert not classify(con, "select 1; select 2").one_select
    assert not classify(con, "with x as (copy (select 1) to '/tmp/x') select 1").one_select


def test_a_syntax_error_is_duckdbs(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(duckdb.ParserException):
        classify(con, "explain analyze")


def test_a_type_missing_from_the_enum_counts_as_a_write(con: duckdb.DuckDBPyConnection) -> None:
    found = classify(con, "UPDATE EXTENSIONS")  # 29 in DuckDB 2.0: not in its Python enum
    assert found.types is None and not found.pure_read


# One statement of each type DuckDB's Python API lists; None where no SQL text parses
# to that type (DuckDB builds it internally, or files the statement under another type).
EXAMPLES: dict[str, str | None] = {
    "INVALID": None,
    "SELECT": "select 1",
    "INSERT": "insert into t values (1)",
    "UPDATE": "update t set x = 1",
    "CREATE": "create temp table u (x int)",
    "DELETE": "delete from t",
    "PREPARE": "prepare p as select 1",
    "EXECUTE": "execute p",
    "ALTER": "alter table t add column y int",
    "TRANSACTION": "begin transaction",
    "COPY": "copy (select 1) to '/tmp/x.csv'",
    "ANALYZE": None,  # `analyze` parses as VACUUM
    "VARIABLE_SET": None,  # `set variable` parses as SET
    "CREATE_FUNC": None,  # `create macro` parses as CREATE
    "EXPLAIN": "explain analyze copy (select 1) to '/tmp/x.csv'",
    "DROP": "drop table t",
    "EXPORT": "export database '/tmp/export'",
    "PRAGMA": "pragma enable_profiling",
    "VACUUM": "vacuum",
    "CALL": "call checkpoint()",
    "SET": "set variable v = 1",
    "LOAD": "load json",
    "RELATION": None,
    "EXTENSION": None,
    "LOGICAL_PLAN": None,
    "ATTACH": "attach ':memory:' as m",
    "DETACH": "detach m",
    "MULTI": "pivot t on x",
    "COPY_DATABASE": None,  # `copy from database` parses as PRAGMA
    "MERGE_INTO": "merge into t using (select 1 x) s on t.x = s.x when matched then delete",
}


def test_every_statement_type_has_an_example() -> None:
    assert set(EXAMPLES) == set(ST.__members__), "a new StatementType: add an example"


@pytest.mark.parametrize("name", sorted(ST.__members__))
def test_every_statement_type_but_select_and_explain_is_a_write(
    con: duckdb.DuckDBPyConnection, name: str
) -> None:
    kind = ST.__members__[name]
    assert reads_by_type(kind) is (kind in (ST.SELECT, ST.EXPLAIN))
    sql = EXAMPLES.get(name)
    if sql is None:
        return
    found = classify(con, sql)
    assert found.types == (kind,)
    assert found.pure_read is (kind == ST.SELECT)
