"""The parse-cost bound: nesting and WITH-list definitions counted on DuckDB's own tokens."""

from __future__ import annotations

import pytest

from sqlrooms_jupyter.db.parse_cost import MAX_SQL_DEFINITIONS, TooDeep, check_nesting


def ctes(count: int, spelling: str = "c{i} AS(SELECT 1)") -> str:
    return "WITH " + ",".join(spelling.format(i=i) for i in range(count)) + " SELECT 1 AS one"


@pytest.mark.parametrize(
    "spelling",
    [
        "c{i} AS(SELECT 1)",
        "c{i} as (select 1)",
        "c{i} AS MATERIALIZED (SELECT 1)",
        "c{i} AS NOT MATERIALIZED (SELECT 1)",
        "c{i} AS /* hidden */ (SELECT 1)",
        "c{i}\nAs\t(SELECT 1)",
    ],
)
def test_too_many_with_definitions_are_refused_however_spelled(spelling: str) -> None:
    check_nesting(ctes(MAX_SQL_DEFINITIONS, spelling))
    with pytest.raises(TooDeep, match="common table expressions"):
        check_nesting(ctes(MAX_SQL_DEFINITIONS + 1, spelling))


def test_as_in_other_places_is_not_a_definition() -> None:
    """Aliases, casts, ASC and quoted text are not `AS (`."""
    columns = ",".join(f"cast(c{i} AS int) AS a{i}" for i in range(3000))
    check_nesting(f"SELECT {columns} FROM t ORDER BY 1 ASC")
    check_nesting("SELECT " + ",".join("'x AS (y'" for _ in range(3000)))
