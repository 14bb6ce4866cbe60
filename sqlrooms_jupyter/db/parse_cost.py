"""A bound on what DuckDB's parser is handed: its cost explodes on some short texts.

Unclosed nesting (`((((`, a run of signs `- - - -`) that ends in a syntax error makes
the parser's memory and time grow steeply: 1,000 open parentheses take a second and
~150 MB, 3,000 take 18 s and 1.2 GB, all while it holds the GIL. Balanced nesting
stops at DuckDB's own expression depth limit, cheaply. The depth is measured on DuckDB's
own tokens, so quoting the parser understands (`$$…$$`, `$tag$…$tag$`, `E'\\''`, nested
comments) cannot hide a parenthesis from the bound, as it could from a scanner of ours.

Definitions in a WITH list cost time that grows with their count squared (2,000 CTEs parse
in 0.08 s, 8,000 in 1 s, the 13,500 that fit in 256 KB in 3-7 s): they are bounded too,
counted as `AS (` on the same tokens (a CTE, a view's or a table's `AS (SELECT …)`).
"""

from __future__ import annotations

import duckdb

from .errors import Refused

# Deepest bracket nesting plus the longest run of signs at that point.
MAX_SQL_NESTING = 256
# Most `AS (` definitions (CTEs) in one text.
MAX_SQL_DEFINITIONS = 2000
_OPERATOR = duckdb.token_type.operator
_COMMENT = duckdb.token_type.comment
_KEYWORD = duckdb.token_type.keyword
_OPENERS = "([{"
_CLOSERS = ")]}"
_SIGNS = "+-"
# Tokens hold a subset of these characters: a text with few of them needs no tokenizing.
_COUNTED = _OPENERS + _SIGNS


class TooDeep(Refused):
    """SQL nested deeper than the server parses; the client gets the message."""


def check_nesting(sql: str) -> None:
    """Raise TooDeep when `sql` nests brackets or signs deeper than MAX_SQL_NESTING, or
    holds more than MAX_SQL_DEFINITIONS `AS (` definitions."""
    if sum(sql.count(char) for char in _COUNTED) <= MAX_SQL_NESTING:
        return  # fewer brackets than either bound needs
    symbols = _symbols(sql)
    if _nesting(symbols) > MAX_SQL_NESTING:
        raise TooDeep(
            f"SQL nests brackets or signs more than {MAX_SQL_NESTING} levels deep; "
            "the server does not parse it"
        )
    if symbols.count("a(") > MAX_SQL_DEFINITIONS:
        raise TooDeep(
            f"SQL defines more than {MAX_SQL_DEFINITIONS} common table expressions (AS (…)); "
            "the server does not parse it"
        )


def nesting(sql: str) -> int:
    """Bracket depth plus the run of consecutive sign tokens, at its deepest, in DuckDB's
    tokens (comments skipped; a closer with nothing open counts as nothing)."""
    return _nesting(_symbols(sql))


def _symbols(sql: str) -> str:
    """One character a token: an operator's first character, `a` for the keyword AS (NOT and
    MATERIALIZED right after it skipped), `x` for anything else; comments dropped."""
    tokens = duckdb.tokenize(sql)
    symbols: list[str] = []
    for index, (offset, kind) in enumerate(tokens):
        if kind is _OPERATOR:
            symbols.append(sql[offset])
        elif kind is _KEYWORD:
            end = tokens[index + 1][0] if index + 1 < len(tokens) else len(sql)
            word = sql[offset:end].strip().lower()
            if word == "as":
                symbols.append("a")
            elif not (word in ("not", "materialized") and symbols and symbols[-1] == "a"):
                symbols.append("x")
        elif kind is not _COMMENT:
            symbols.append("x")
    return "".join(symbols)


def _nesting(symbols: str) -> int:
    depth = run = deepest = 0
    for symbol in symbols:
        if symbol in _SIGNS:
            run += 1
        else:
            run = 0
            if symbol in _OPENERS:
                depth += 1
            elif symbol in _CLOSERS and depth:
                depth -= 1
        if depth + run > deepest:
            deepest = depth + run
    return deepest
