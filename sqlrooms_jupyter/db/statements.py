"""What a SQL text does, as DuckDB's own parser and tokenizer see it: only reads, or more.

The answer decides `--read-only` refusals, result-cache invalidation and whether a
worker's cursor may serve the next client, so it errs towards "more": a statement
is a pure read only when DuckDB says it is a SELECT with no data-modifying part that
calls only functions that read (function_effects), or an EXPLAIN (with or without
ANALYZE, which runs its statement) of such a SELECT. Everything else, including
statement types and functions this DuckDB or a later one adds, is not. A read that
changes its cursor's own state (`setseed`) is allowed, but its cursor is not reused.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb

from .function_effects import FLAGGED_NAMES, SIDE_EFFECT_SCALARS, TABLE_FUNCTIONS, Effect

ST = duckdb.StatementType
_KEYWORD = duckdb.token_type.keyword
_OPERATOR = duckdb.token_type.operator
_COMMENT = duckdb.token_type.comment

# Query nodes that only read (DuckDB's QueryNode types, as `json_serialize_sql` names them).
# A CTE body may also be an INSERT, UPDATE, DELETE or COPY node, which runs inside a "SELECT".
_READ_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})
# A data-modifying node in a SELECT needs one of these words in its text; a SELECT without
# any of them or a flagged function's name (checked on the raw text, a superset of its
# keywords and unquoted names) skips serialising its tree, which costs about as much as
# running `SELECT 1`.
_MODIFYING_WORDS = ("insert", "update", "delete", "copy", "merge")
# How deep EXPLAINs, macros and query() texts are followed; deeper counts as a write.
_DEPTH = 6
_LETTERS = re.compile(r"[A-Za-z_]+")
_WORDS = re.compile(r"[a-z_][a-z0-9_$]*")
# Words before a parenthesis that are not calls: `... AS (`, `IN (`, `VALUES (`, ...
_KEYWORDS = """as in values and or not exists any all some over filter using on from where
    select with recursive materialized join union intersect except by having window when
    then else case distinct qualify returning table lateral is"""
_NOT_CALLS = frozenset(_KEYWORDS.split())
_CALLED = re.compile(r"([a-z_][a-z0-9_$]*)\s*\(")
Tokens = Sequence[tuple[int, duckdb.token_type]]
# Verdicts remembered (texts shorter than this, at most this many).
_REMEMBER_BELOW = 16 << 10
_REMEMBERED = 2048


@dataclass(frozen=True)
class Statements:
    """A text's statements as DuckDB parsed them."""

    # Their types in order; None when DuckDB reports a type this module's DuckDB does not
    # know (e.g. `UPDATE EXTENSIONS` in 2.0): such a text counts as a write.
    types: tuple[ST, ...] | None
    # Nothing in the text can change data, files, settings or global state.
    pure_read: bool
    # Nor the cursor's own state (its random seed, its profiling): it may serve another client.
    cursor_clean: bool = True

    @property
    def one_select(self) -> bool:
        return self.pure_read and self.types == (ST.SELECT,)


@dataclass(frozen=True)
class _Verdict:
    reads: bool
    clean: bool

    def __and__(self, other: _Verdict) -> _Verdict:
        return _Verdict(self.reads and other.reads, self.clean and other.clean)


_READS = _Verdict(True, True)
_SESSION = _Verdict(True, False)
_WRITES = _Verdict(False, False)
_BY_EFFECT = {Effect.READ: _READS, Effect.SESSION: _SESSION, Effect.WRITE: _WRITES}


class Functions:
    """This database's functions by lower-cased name (built-ins, extensions', macros), read
    from `duckdb_functions()` when first needed (it takes ~70 ms), again when a tree names
    one it lacks, and after `forget()` (a write may have created a macro or loaded an
    extension)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, list[_Entry]] | None = None
        self._flagged: frozenset[str] = frozenset()
        # Verdicts on texts, valid while the functions are: a tree check costs a few ms
        # (two queries), and dashboards send the same texts again and again.
        self._verdicts: OrderedDict[str, Statements] = OrderedDict()

    def forget(self) -> None:
        with self._lock:
            self._by_name = None
            self._verdicts.clear()

    def verdict(self, sql: str, judge: Callable[[], Statements]) -> Statements:
        """`judge()`'s verdict on `sql`, remembered for short texts until `forget()`."""
        if len(sql) > _REMEMBER_BELOW:
            return judge()
        with self._lock:
            known = self._verdicts.get(sql)
            if known is not None:
                self._verdicts.move_to_end(sql)
                return known
            loaded = self._by_name
        found = judge()
        with self._lock:
            if loaded is self._by_name:  # not forgotten meanwhile
                self._verdicts[sql] = found
                if len(self._verdicts) > _REMEMBERED:
                    self._verdicts.popitem(last=False)
        return found

    def flagged(self, con: duckdb.DuckDBPyConnection) -> frozenset[str]:
        """Words a text must hold for its tree to do more than read: the functions that do
        more, every macro's name (it may call them), the data-modifying statements."""
        self._load(con, reload=False)
        return self._flagged

    def knows(self, con: duckdb.DuckDBPyConnection, names: list[str]) -> bool:
        by_name = self._load(con, reload=False)
        return all(name in by_name or name in _NOT_CALLS for name in names)

    def entries(self, con: duckdb.DuckDBPyConnection, name: str) -> list[_Entry]:
        found = self._load(con, reload=False).get(name)
        return found if found is not None else self._load(con, reload=True).get(name, [])

    def _load(self, con: duckdb.DuckDBPyConnection, *, reload: bool) -> dict[str, list[_Entry]]:
        with self._lock:
            if self._by_name is not None and not reload:
                return self._by_name
            rows = con.execute(
                "SELECT function_name, function_type, has_side_effects, macro_definition"
                " FROM system.main.duckdb_functions()"
            ).fetchall()
            by_name: dict[str, list[_Entry]] = {}
            for name, kind, side_effects, definition in rows:
                entry = _Entry(kind, bool(side_effects), definition)
                by_name.setdefault(str(name).lower(), []).append(entry)
            macros = [name for name, found in by_name.items() if any(e.macro for e in found)]
            self._flagged = FLAGGED_NAMES | frozenset(macros) | frozenset(_MODIFYING_WORDS)
            self._by_name = by_name
            self._verdicts.clear()
            return by_name


@dataclass(frozen=True)
class _Entry:
    kind: str  # scalar, aggregate, window, table, pragma, macro, table_macro
    side_effects: bool
    definition: str | None

    @property
    def macro(self) -> bool:
        return self.kind in ("macro", "table_macro")


@dataclass(frozen=True)
class _Scope:
    functions: Functions
    depth: int  # how much deeper EXPLAINs, macros and query() texts are followed
    expanding: frozenset[str] = frozenset()  # macros being expanded

    def deeper(self, macro: str | None = None) -> _Scope:
        expanding = self.expanding | {macro} if macro else self.expanding
        return _Scope(self.functions, self.depth - 1, expanding)


def classify(
    con: duckdb.DuckDBPyConnection, sql: str, functions: Functions | None = None
) -> Statements:
    """The statements of `sql` (raises DuckDB's ParserException for a syntax error)."""
    functions = functions or Functions()
    return functions.verdict(sql, lambda: _classify(con, sql, _Scope(functions, _DEPTH)))


def classify_long(
    con: duckdb.DuckDBPyConnection, sql: str, functions: Functions | None = None
) -> Statements:
    """Like classify, for a text too long to parse while holding the GIL (DuckDB's Python
    API holds it in `extract_statements`; a 250 KB text of flat CTEs takes 7 s): DuckDB
    parses it inside a query, GIL released. Only SELECTs serialise: anything else counts
    as a write, as does a long text calling `query()` (its argument is not followed)."""
    facts = _tree_facts(con, sql)
    if facts is None:
        return Statements(None, False, False)
    count, names, node_types = facts
    verdict = _nodes_verdict(node_types)
    if "query" in names:
        verdict = _WRITES
    for name in names:
        verdict &= _call_verdict(con, name, None, _Scope(functions or Functions(), 0))
    return Statements((ST.SELECT,) * count, verdict.reads, verdict.clean)


def _classify(con: duckdb.DuckDBPyConnection, sql: str, scope: _Scope) -> Statements:
    parsed = _parse(con, sql)
    if parsed is None:
        return Statements(None, False, False)
    types = tuple(kind for kind, _ in parsed)
    verdict = _READS
    for kind, text in parsed:
        verdict &= _statement_verdict(con, kind, text, scope)
    return Statements(types, verdict.reads, verdict.reads and verdict.clean)


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


def _statement_verdict(
    con: duckdb.DuckDBPyConnection, kind: object, text: str, scope: _Scope
) -> _Verdict:
    if scope.depth <= 0:
        return _WRITES
    if kind == ST.SELECT:
        return _select_verdict(con, text, scope)
    if kind == ST.EXPLAIN:
        return _explained_verdict(con, text, scope.deeper())
    return _WRITES


def _select_verdict(con: duckdb.DuckDBPyConnection, text: str, scope: _Scope) -> _Verdict:
    """A SELECT reads only when its tree holds only reading query nodes (`WITH x AS (COPY
    …) SELECT` does not) and every function it calls reads only, as DuckDB's parser names
    them (a macro by what its definition calls; `query('…')` by its text)."""
    if not _may_do_more(con, text, scope.functions):
        return _READS
    facts = _tree_facts(con, text)
    if facts is None:
        return _WRITES
    _, names, node_types = facts
    verdict = _nodes_verdict(node_types)
    query_texts = _query_arguments(con, text) if "query" in names else None
    for name in names:
        verdict &= _call_verdict(con, name, query_texts, scope)
    return verdict


def _may_do_more(con: duckdb.DuckDBPyConnection, text: str, functions: Functions) -> bool:
    """False only when the text provably calls nothing but plain reads: every name a call
    can have is then one of its words, written just before its parenthesis (unless quoted,
    written with escapes (U&"…") or parted from it by a comment). A name the cache lacks
    (a macro made since) takes the tree, whose check reloads the cache."""
    if not text.isascii() or '"' in text or "/*" in text or "--" in text:
        return True
    lowered = text.lower()
    if _SESSION_PARAMETER in lowered:
        return True
    if not set(_WORDS.findall(lowered)).isdisjoint(functions.flagged(con)):
        return True
    return not functions.knows(con, _CALLED.findall(lowered))


def _tree_facts(
    con: duckdb.DuckDBPyConnection, text: str
) -> tuple[int, list[str], list[str]] | None:
    """How many statements, the functions called and the node types of `text`'s tree, or
    None unless DuckDB serialised it (only SELECTs serialise). Run as a query: DuckDB
    parses with the GIL released and only the names come back to Python."""
    try:
        rows = con.execute(_TREE_FACTS, [text]).fetchall()
    except duckdb.Error:
        return None
    if not rows or rows[0][0] != "false":
        return None
    _, count, names, node_types, session_parameter = rows[0]
    names = [str(n).lower() for n in names or []]
    if session_parameter:
        names.append(_SESSION_PARAMETER)
    return int(count or 0), names, list(node_types or [])


# A reader's options that make it create temporary tables on its cursor (`read_csv`'s
# `store_rejects`, `rejects_table`, `rejects_scan`): a text that names them anywhere, even in
# a string, keeps its cursor out of the pool (counted as a call of this pseudo-function).
_SESSION_PARAMETER = "rejects"
# Every function qualified: a database's macros may shadow built-ins (`lower`), not these.
_TREE_FACTS = """
SELECT system.main.json_extract_string(tree, '$.error'),
       system.main.json_array_length(tree, '$.statements'),
       system.main.list_distinct(system.main.json_extract_string(tree, '$..function_name')),
       system.main.list_distinct(system.main.json_extract_string(tree, '$..type')),
       system.main.contains(system.main.lower(tree::VARCHAR), 'rejects')
FROM (SELECT system.main.json_serialize_sql($1)::JSON AS tree)
"""


def _nodes_verdict(node_types: list[str]) -> _Verdict:
    for kind in node_types:
        if isinstance(kind, str) and kind.endswith("_NODE") and kind not in _READ_NODES:
            return _WRITES
    return _READS


def _call_verdict(
    con: duckdb.DuckDBPyConnection,
    name: str,
    query_texts: list[str] | None,
    scope: _Scope,
) -> _Verdict:
    """What calling `name` may do, over every function of that name (a macro may shadow a
    built-in); a name DuckDB does not list counts as a write."""
    if name == _SESSION_PARAMETER:
        return _SESSION
    entries = [e for e in scope.functions.entries(con, name) if e.kind != "pragma"]
    if not entries:
        return _WRITES
    verdict = _READS
    for entry in entries:
        if entry.macro:
            # A built-in macro may call the function it is named after ("system".main.…).
            if name not in scope.expanding:
                verdict &= _macro_verdict(con, name, entry, scope)
        elif entry.kind == "table":
            effect = TABLE_FUNCTIONS.get(name, Effect.WRITE)
            if effect is Effect.RUNS_SQL:
                verdict &= _runs_sql_verdict(con, name, query_texts, scope)
            else:
                verdict &= _BY_EFFECT[effect]
        elif entry.side_effects:
            verdict &= _BY_EFFECT[SIDE_EFFECT_SCALARS.get(name, Effect.WRITE)]
    return verdict


def _macro_verdict(
    con: duckdb.DuckDBPyConnection, name: str, entry: _Entry, scope: _Scope
) -> _Verdict:
    if entry.definition is None or scope.depth <= 1:
        return _WRITES
    text = entry.definition if entry.kind == "table_macro" else f"SELECT {entry.definition}"
    try:
        found = _classify(con, text, scope.deeper(name))
    except duckdb.Error:
        return _WRITES
    return _Verdict(found.one_select, found.one_select and found.cursor_clean)


def _runs_sql_verdict(
    con: duckdb.DuckDBPyConnection,
    name: str,
    query_texts: list[str] | None,
    scope: _Scope,
) -> _Verdict:
    """`query('…')` does what its constant text does; anything else that runs SQL from data
    (a computed text, a macro's parameter, a serialised statement) counts as a write."""
    if name != "query" or query_texts is None or scope.depth <= 1:
        return _WRITES
    verdict = _READS
    for text in query_texts:
        try:
            found = _classify(con, text, scope.deeper())
        except duckdb.Error:
            return _WRITES
        verdict &= _Verdict(found.pure_read, found.pure_read and found.cursor_clean)
    return verdict


def _query_arguments(con: duckdb.DuckDBPyConnection, text: str) -> list[str] | None:
    """The constant texts of every `query(…)` call in the tree; None when one is not a
    single string constant."""
    row = con.execute("SELECT system.main.json_serialize_sql(?)", [text]).fetchall()
    texts: list[str] = []
    stack: list[object] = [json.loads(row[0][0])]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            name = node.get("function_name")
            if isinstance(name, str) and name.lower() == "query":
                argument = _single_string(node.get("arguments"))
                if argument is None:
                    return None
                texts.append(argument)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return texts


def _single_string(arguments: object) -> str | None:
    if not isinstance(arguments, list) or len(arguments) != 1:
        return None
    argument = arguments[0]
    expression = argument.get("expression") if isinstance(argument, dict) else None
    if not isinstance(expression, dict) or expression.get("class") != "CONSTANT":
        return None
    literal = expression.get("literal")
    if not isinstance(literal, dict) or literal.get("kind") != "STRING":
        return None
    text = literal.get("text")
    return text if isinstance(text, str) else None


def _explained_verdict(con: duckdb.DuckDBPyConnection, text: str, scope: _Scope) -> _Verdict:
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
    verdict = None
    for start in starts:
        try:
            parsed = _parse(con, text[start:])
        except duckdb.Error:
            continue  # not a statement from here
        if parsed is None:
            return _WRITES
        for kind, statement in parsed:
            found = _statement_verdict(con, kind, statement, scope)
            verdict = found if verdict is None else verdict & found
    return verdict if verdict is not None else _WRITES


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
