"""What a SQL text does, as DuckDB's own parser and tokenizer see it: only reads, or more.

The answer decides `--read-only` refusals, result-cache invalidation and whether a
worker's cursor may serve the next client, so it errs towards "more": a statement
is a pure read only when DuckDB says it is a SELECT with no data-modifying part, or
an EXPLAIN (with or without ANALYZE, which runs its statement) of such a SELECT.
Everything else, including statement types this DuckDB or a later one adds, is not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

ST = duckdb.StatementType
_KEYWORD = duckdb.token_type.keyword
_OPERATOR = duckdb.token_type.operator
_COMMENT = duckdb.token_type.comment

# Query nodes that only read (DuckDB's QueryNode types, as `json_serialize_sql` names them).
# A CTE body may also be an INSERT, UPDATE, DELETE or COPY node, which runs inside a "SELECT".
_READ_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})
# A data-modifying node in a SELECT needs one of these words in its text; a SELECT without
# any of them (checked on the raw text, a superset of its keywords) skips serialising its
# tree, which costs as much as running `SELECT 1`.
_MODIFYING_WORDS = ("insert", "update", "delete", "copy", "merge")
_EXPLAIN_DEPTH = 3
_LETTERS = re.compile(r"[A-Za-z_]+")
Tokens = Sequence[tuple[int, duckdb.token_type]]


@dataclass(frozen=True)
class Statements:
    """A text's statements as DuckDB parsed them."""

    # Their types in order; None when DuckDB reports a type this module's DuckDB does not
    # know (e.g. `UPDATE EXTENSIONS` in 2.0): such a text counts as a write.
    types: tuple[ST, ...] | None
    # Nothing in the text can change data, files, settings or session state.
    pure_read: bool

    @property
    def one_select(self) -> bool:
        return self.pure_read and self.types == (ST.SELECT,)


def classify(con: duckdb.DuckDBPyConnection, sql: str) -> Statements:
    """The statements of `sql` (raises DuckDB's ParserException for a syntax error)."""
    parsed = _parse(con, sql)
    if parsed is None:
        return Statements(None, False)
    types = tuple(kind for kind, _ in parsed)
    pure = all(_pure_read(con, kind, text, _EXPLAIN_DEPTH) for kind, text in parsed)
    return Statements(types, pure)


def reads_by_type(statement_type: object) -> bool:
    """Whether statements of this type can be pure reads at all (SELECT and EXPLAIN)."""
    return statement_type in (ST.SELECT, ST.EXPLAIN)


def _parse(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[ST, str]] | None:
    """Each statement's type and text; None when a type is missing from this DuckDB's
    Python enum ("29 is not a valid StatementType" for `UPDATE EXTENSIONS` in 2.0)."""
    try:
        return [(statement.type, statement.query) for statement in con.extract_statements(sql)]
    except ValueError:
        return None


def _pure_read(con: duckdb.DuckDBPyConnection, kind: object, text: str, depth: int) -> bool:
    if kind == ST.SELECT:
        return _select_only_reads(con, text)
    if kind == ST.EXPLAIN and depth > 0:
        return _explained_only_reads(con, text, depth - 1)
    return False


def _select_only_reads(con: duckdb.DuckDBPyConnection, text: str) -> bool:
    """A SELECT's tree holds only reading query nodes (`WITH x AS (COPY …) SELECT` does not)."""
    lowered = text.lower()
    if not any(word in lowered for word in _MODIFYING_WORDS):
        return True
    try:
        row = con.execute("SELECT json_serialize_sql(?)", [text]).fetchone()
        tree = json.loads(row[0]) if row else None
    except (duckdb.Error, ValueError):
        return False
    if not isinstance(tree, dict) or tree.get("error") is not False:
        return False
    return _only_read_nodes(tree)


def _only_read_nodes(tree: object) -> bool:
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            kind = node.get("type")
            if isinstance(kind, str) and kind.endswith("_NODE") and kind not in _READ_NODES:
                return False
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return True


def _explained_only_reads(con: duckdb.DuckDBPyConnection, text: str, depth: int) -> bool:
    """EXPLAIN [ANALYZE | (options)] <statement>: a read when its statement is one.

    DuckDB's tokenizer finds where the explained statement may start (after EXPLAIN, after
    ANALYZE, after an option list such as `(ANALYZE, FORMAT json)`); each start DuckDB
    parses as statements must be a pure read, and at least one must parse. `EXPLAIN (SELECT
    1)` starts at the parenthesis; `EXPLAIN (ANALYZE) COPY …` after it.
    """
    tokens = [t for t in duckdb.tokenize(text) if t[1] != _COMMENT]
    starts = set()
    position = 1
    if len(tokens) > position and _word(text, tokens, position) in ("analyze", "analyse"):
        starts.add(tokens[position][0])
        position += 1
    if len(tokens) > position:
        starts.add(tokens[position][0])
        after = _after_parentheses(text, tokens, position)
        if after is not None:
            starts.add(after)
    verdicts = []
    for start in starts:
        try:
            parsed = _parse(con, text[start:])
        except duckdb.Error:
            continue  # not a statement from here
        if parsed is None:
            return False
        if parsed:
            verdicts.append(all(_pure_read(con, kind, text, depth) for kind, text in parsed))
    return bool(verdicts) and all(verdicts)


def _word(text: str, tokens: Tokens, index: int) -> str:
    found = _LETTERS.match(text, tokens[index][0])
    return found.group().lower() if found else ""


def _after_parentheses(text: str, tokens: Tokens, index: int) -> int | None:
    """Where the text continues after the parenthesised group opening at token `index`."""
    depth = 0
    for i in range(index, len(tokens)):
        offset, kind = tokens[i]
        if kind != _OPERATOR:
            if depth == 0:
                return None
            continue
        char = text[offset]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return tokens[i + 1][0] if i + 1 < len(tokens) else len(text)
        elif depth == 0:
            return None
    return None
