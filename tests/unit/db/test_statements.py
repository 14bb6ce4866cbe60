"""statements: what a text does, as DuckDB parses it (issue 28 items 1 and 12)."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from sqlrooms_jupyter.db.function_effects import PRAGMAS, SIDE_EFFECT_SCALARS, TABLE_FUNCTIONS
from sqlrooms_jupyter.db.statements import Functions, classify, classify_long, reads_by_type

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
    "select 1 as updated_at",
    "select 'setseed(1)' as s",  # the name in a string
    "select * from range(3)",
    "select lower('A'), count(*) from range(3)",
    "select * from query('select 42 x')",
    "select * from query('select * from query(''select 1'')')",
    "select * from query_table('t')",
    "select * from read_csv('/tmp/x.csv')",
    "select current_query()",
    "select * from duckdb_settings()",
]

# Reads that change the cursor's own state: allowed, but the cursor serves nobody else.
SESSION = [
    "select setseed(0.5)",
    'SELECT "SetSeed"(0.5)',
    "select (0.5).setseed()",
    "select system.main.setseed(0.5)",
    "select random(), gen_random_uuid()",
    "select * from range(3) where range in (select setseed(0.1))",
    "select * from disable_profiling()",
    "select * from query('select setseed(0.1)')",
    "explain analyze select setseed(0.1)",
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
    "select * from json_execute_serialized_sql('{}')",
    "explain analyze select * from json_execute_serialized_sql('{}')",
    "select * from query('select 1' || '')",
    "select * from query(concat('select ', 'nextval(''s'')'))",
    "select * from query('select nextval(''s'')')",
    "select * from query('copy (select 1) to ''/tmp/x''')",
    "select * from enable_profiling(format='json', save_location='/tmp/p')",
    "select * from enable_logging('QueryLog')",
    "select * from disable_logging()",
    "select * from truncate_duckdb_logs()",
    "select * from checkpoint()",
    "select * from force_checkpoint()",
    "select nextval('s')",
    "select setval('s', 1)",
    "select write_log('x')",
    "select * from arrow_scan(1, 2, 3)",
    "select * from add_grammar_extension('x')",
    'select U&"s\\0065tseed"(0.5)',  # not a name DuckDB lists
    "with x as (select 1) select * from checkpoint()",
]


@pytest.mark.parametrize("sql", READS)
def test_reads_are_pure(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    assert classify(con, sql).pure_read


@pytest.mark.parametrize("sql", READS)
def test_reads_leave_the_cursor_clean(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    assert classify(con, sql).cursor_clean


@pytest.mark.parametrize("sql", SESSION)
def test_state_changing_reads_dirty_the_cursor(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    found = classify(con, sql)
    assert found.pure_read and not found.cursor_clean


@pytest.mark.parametrize("sql", WRITES)
def test_anything_else_is_not(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    found = classify(con, sql)
    assert not found.pure_read and not found.cursor_clean


@pytest.mark.parametrize("sql", READS[-10:] + SESSION[:6] + WRITES[-20:])
def test_long_texts_are_classified_alike(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """classify_long (the GIL released) agrees, or errs towards a write."""
    short, long = classify(con, sql), classify_long(con, sql)
    assert long.pure_read <= short.pure_read and long.cursor_clean <= short.cursor_clean
    if "query(" not in sql:
        assert (long.pure_read, long.cursor_clean) == (short.pure_read, short.cursor_clean)


def test_classifying_leaves_no_result_open(con: duckdb.DuckDBPyConnection) -> None:
    """Finding 03: the cursor runs its own query next."""
    cursor = con.cursor()
    for sql in ["select 1 as updated_at", "select setseed(0.1) as copy"]:
        classify(cursor, sql)
        assert cursor.execute(sql).fetchall()


def test_macros_are_judged_by_what_they_call() -> None:
    con = duckdb.connect()
    con.execute("create sequence s")
    con.execute("create macro runs(q) as table select * from query(q)")
    con.execute("create macro constant_query() as table select * from query('select 1')")
    con.execute("create macro bump() as nextval('s')")
    con.execute("create macro seeded() as setseed(0.5)")
    con.execute("create macro lower(x) as nextval('s')")  # shadows the built-in
    functions = Functions()
    assert not classify(con, "select * from runs('select 1')", functions).pure_read
    assert classify(con, "select * from constant_query()", functions).cursor_clean
    assert not classify(con, "select bump()", functions).pure_read
    assert not classify(con, "select lower('a')", functions).pure_read
    found = classify(con, "select seeded()", functions)
    assert found.pure_read and not found.cursor_clean
    con.execute("create macro later() as write_log('x')")  # a name the cache lacks
    assert not classify(con, "select later()", functions).pure_read
    con.execute("create or replace macro bump() as 1")
    functions.forget()  # after a write, as the runner does
    assert classify(con, "select bump()", functions).cursor_clean


def test_every_table_function_is_classified() -> None:
    """A DuckDB upgrade that adds a table or pragma function, or a scalar with side effects,
    fails here until function_effects says what it does."""
    con = duckdb.connect()
    rows = con.execute(
        "select distinct function_type, function_name from duckdb_functions()"
        " where function_type in ('table', 'pragma') or has_side_effects"
    ).fetchall()
    known = {"table": TABLE_FUNCTIONS, "pragma": PRAGMAS}
    missing = [
        (kind, name) for kind, name in rows if name not in known.get(kind, SIDE_EFFECT_SCALARS)
    ]
    assert missing == []


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


def test_verdicts_are_remembered_until_the_functions_are_forgotten() -> None:
    """A remembered verdict saves the tree check; a write (forget) can change what a name
    calls, so it drops them."""
    con = duckdb.connect()
    con.execute("CREATE MACRO bump(x) AS x + 1")
    functions = Functions()
    sql = 'SELECT bump(1) AS "y" FROM range(3) t(x)'
    assert classify(con, sql, functions).cursor_clean
    con.execute("CREATE OR REPLACE MACRO bump(x) AS setseed(0.5)")
    assert classify(con, sql, functions).cursor_clean  # remembered
    functions.forget()
    assert not classify(con, sql, functions).cursor_clean


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('f.csv', store_rejects=true)",
        "SELECT * FROM read_csv('f.csv', rejects_table='users', rejects_scan='users_scan')",
        "SELECT * FROM read_csv_auto('f.csv', STORE_REJECTS = true)",
        "SELECT * FROM read_csv('f.csv', \"Rejects_Table\"='users')",
    ],
)
def test_readers_that_make_temp_tables_keep_their_cursor_out_of_the_pool(sql: str) -> None:
    """read_csv's reject tables are temporary tables on the cursor: another client would
    see them (and a `users` one would shadow the real table)."""
    verdict = classify(duckdb.connect(), sql, Functions())
    assert verdict.pure_read and not verdict.cursor_clean
