"""A bound on what DuckDB's parser is handed: its cost explodes on some short texts.

Unclosed nesting (`((((`, a run of signs `- - - -`) that ends in a syntax error makes
the parser's memory and time grow steeply: 1,000 open parentheses take a second and
~150 MB, 3,000 take 18 s and 1.2 GB, all while it holds the GIL. Balanced nesting
stops at DuckDB's own expression depth limit, cheaply. The depth is measured on DuckDB's
own tokens, so quoting the parser understands (`$$…$$`, `$tag$…$tag$`, `E'\\''`, nested
comments) cannot hide a parenthesis from the bound, as it could from a scanner of ours.
"""

from __future__ import annotations

import duckdb

from .sandbox import Refused

# Deepest bracket nesting plus the longest run of signs at that point.
MAX_SQL_NESTING = 256
_OPERATOR = duckdb.token_type.operator
_COMMENT = duckdb.token_type.comment
_OPENERS = "([{"
_CLOSERS = ")]}"
_SIGNS = "+-"
# Tokens hold a subset of these characters: a text with few of them needs no tokenizing.
_COUNTED = _OPENERS + _SIGNS


class TooDeep(Refused):
    """SQL nested deeper than the server parses; the client gets the message."""


def check_nesting(sql: str) -> None:
    """Raise TooDeep when `sql` nests brackets or signs deeper than MAX_SQL_NESTING."""
    if sum(sql.count(char) for char in _COUNTED) <= MAX_SQL_NESTING:
        return
    if nesting(sql) > MAX_SQL_NESTING:
        raise TooDeep(
            f"SQL nests brackets or signs more than {MAX_SQL_NESTING} levels deep; "
            "the server does not parse it"
        )


def nesting(sql: str) -> int:
    """Bracket depth plus the run of consecutive sign tokens, at its deepest, in DuckDB's
    tokens (comments skipped; a closer with nothing open counts as nothing)."""
    symbols = "".join(
        [
            sql[offset] if kind is _OPERATOR else "x"
            for offset, kind in duckdb.tokenize(sql)
            if kind is not _COMMENT
        ]
    )
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
