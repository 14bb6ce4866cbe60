/** SQL text helpers: where statements are, which one to run, how the wrappers place it, the notebook cell. */
export type Span = {from: number; to: number};

/** A statement as the user wrote it: its text (trimmed, no trailing `;`) and where it starts. */
export type Statement = {sql: string; from: number};

const IDENT_CHAR = /[\w$]/;
const DOLLAR_TAG = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/;

/** The end (exclusive) of the quoted text opening at `i` with `quote`; `'` doubles to escape. */
function skipQuoted(text: string, i: number, quote: string, backslash: boolean): number {
  let j = i + 1;
  while (j < text.length) {
    const c = text[j];
    if (backslash && c === '\\') j += 2;
    else if (c === quote && text[j + 1] === quote) j += 2;
    else if (c === quote) return j + 1;
    else j++;
  }
  return text.length;
}

/** The end (exclusive) of the block comment opening at `i`; DuckDB's nest. */
function skipBlockComment(text: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < text.length) {
    if (text[j] === '/' && text[j + 1] === '*') {
      depth++;
      j += 2;
    } else if (text[j] === '*' && text[j + 1] === '/') {
      depth--;
      j += 2;
      if (depth === 0) return j;
    } else j++;
  }
  return text.length;
}

/**
 * Spans of the statements in `text`, split at semicolons outside strings (`'…'`, `E'…\'…'`,
 * `"…"`, `$$…$$`, `$tag$…$tag$`) and comments (`--`, nested `/* *\/`). A span ends at its
 * semicolon (exclusive) or the end of the text; spans with nothing but comments are left out.
 */
export function statementSpans(text: string): Span[] {
  const spans: Span[] = [];
  let start = 0;
  let hasCode = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    const before = i > 0 ? text[i - 1] : '';
    if (c === '-' && next === '-') {
      const eol = text.indexOf('\n', i);
      i = eol === -1 ? text.length : eol + 1;
      continue;
    }
    if (c === '/' && next === '*') {
      i = skipBlockComment(text, i);
      continue;
    }
    if (c === ';') {
      if (hasCode) spans.push({from: start, to: i});
      start = i + 1;
      hasCode = false;
      i++;
      continue;
    }
    if (!/\s/.test(c)) hasCode = true;
    if (c === "'") {
      const escaped = /[eE]/.test(before) && !IDENT_CHAR.test(i > 1 ? text[i - 2] : '');
      i = skipQuoted(text, i, "'", escaped);
    } else if (c === '"') {
      i = skipQuoted(text, i, '"', false);
    } else if (c === '$' && !IDENT_CHAR.test(before)) {
      const tag = DOLLAR_TAG.exec(text.slice(i, i + 130));
      if (tag) {
        const close = text.indexOf(tag[0], i + tag[0].length);
        i = close === -1 ? text.length : close + tag[0].length;
      } else i++;
    } else i++;
  }
  if (hasCode) spans.push({from: start, to: text.length});
  return spans;
}

function trimmed(text: string, span: Span): Statement {
  const raw = text.slice(span.from, span.to);
  const lead = raw.length - raw.trimStart().length;
  return {
    sql: raw
      .trim()
      .replace(/;+\s*$/, '')
      .trim(),
    from: span.from + lead,
  };
}

/** Every statement of a script, in order (what Run all runs). */
export function statementsOf(text: string): Statement[] {
  return statementSpans(text)
    .map((s) => trimmed(text, s))
    .filter((s) => s.sql);
}

/**
 * What Ctrl/Cmd+Enter runs: the selection when there is one, otherwise the statement under
 * the cursor. A cursor right after a statement's `;` is in that statement (not the next one);
 * after the last statement (blank lines, a comment), it is the last one.
 */
export function statementAt(text: string, selection: Span): Statement | null {
  if (selection.to > selection.from) {
    const picked = trimmed(text, selection);
    return picked.sql ? picked : null;
  }
  const spans = statementSpans(text);
  const at = selection.from;
  const hit =
    spans.find((s) => s.from <= at && at <= s.to + 1) ??
    [...spans].reverse().find((s) => s.to < at);
  if (!hit) return null;
  const statement = trimmed(text, hit);
  return statement.sql ? statement : null;
}

/** `statementAt`'s text, or '' (kept for callers that want only the SQL). */
export function statementToRun(text: string, selection: Span): string {
  return statementAt(text, selection)?.sql ?? '';
}

/** The first keyword, after comments. */
export function leadingKeyword(sql: string): string {
  const stripped = sql.replace(/^(\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/)+/, '');
  const match = /^\(*\s*([a-z]+)/i.exec(stripped);
  return match ? match[1].toLowerCase() : '';
}

const PAGEABLE = new Set([
  'select',
  'with',
  'from',
  'values',
  'table',
  'pivot',
  'unpivot',
  'describe',
  'show',
  'summarize',
]);

/** A single statement DuckDB can take as a subquery, so pages and sorting can run on the server. */
export function isPageable(sql: string): boolean {
  return PAGEABLE.has(leadingKeyword(sql)) && statementSpans(sql).length === 1;
}

/**
 * How many lines the app's wrappers put before the user's SQL: the user's line N is the
 * wrapper's line N + WRAPPER_LINES, at the same column (so errors map back exactly).
 */
export const WRAPPER_LINES = 1;

/** The page, the count and the filters (format.ts, profiles.ts) follow WRAPPER_LINES. */
export function countQuery(sql: string): string {
  return `SELECT count(*)::BIGINT AS n FROM (\n${sql}\n)`;
}

/** Plans `sql` without running it: its parser and binder errors, at the wrapper's offset. */
export function explainQuery(sql: string): string {
  return `EXPLAIN\n${sql}`;
}

/** A Python triple-quoted string's body for `text`. */
function tripleQuoted(text: string): string {
  const escaped = text.replace(/\\/g, '\\\\');
  let body = '';
  let quotes = 0;
  for (let i = 0; i < escaped.length; i++) {
    const c = escaped[i];
    // A third quote in a row, or a quote just before the closing `"""`, must be escaped.
    if (c === '"' && (quotes === 2 || i === escaped.length - 1)) {
      body += '\\"';
      quotes = 0;
    } else {
      body += c;
      quotes = c === '"' ? quotes + 1 : 0;
    }
  }
  return body;
}

export const RESULT_PREFIX = 'result_';

/** `result_N` for the smallest N ≥ 1 not in `taken`. */
export function freshName(taken: Iterable<string>): string {
  const used = new Set(taken);
  let n = 1;
  while (used.has(`${RESULT_PREFIX}${n}`)) n++;
  return `${RESULT_PREFIX}${n}`;
}

/**
 * The cell "Insert into notebook" adds. `duckdb.sql()` in a kernel runs on the default
 * connection, the one `%sqlrooms start` serves, where shared names are registered too.
 */
export function notebookCell(sql: string, variable: string): string {
  return `import duckdb\n\n${variable} = duckdb.sql("""${tripleQuoted(sql.trim())}""").df()\n${variable}`;
}
