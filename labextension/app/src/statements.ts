/** SQL text helpers: which statement to run, whether it returns rows, the notebook cell. */

export type Span = {from: number; to: number};

/** Spans of the statements in `text`, split at semicolons outside quotes and comments. */
export function statementSpans(text: string): Span[] {
  const spans: Span[] = [];
  let start = 0;
  let i = 0;
  const push = (end: number) => {
    if (text.slice(start, end).trim()) spans.push({from: start, to: end});
  };
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === "'" || c === '"') {
      const close = text.indexOf(c, i + 1);
      i = close === -1 ? text.length : close + 1;
    } else if (c === '-' && next === '-') {
      const eol = text.indexOf('\n', i);
      i = eol === -1 ? text.length : eol + 1;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 2;
    } else if (c === ';') {
      push(i);
      start = i + 1;
      i++;
    } else {
      i++;
    }
  }
  push(text.length);
  return spans;
}

/**
 * What Ctrl/Cmd+Enter runs: the selection when there is one, otherwise the statement under
 * the cursor (or the last one before it, when the cursor sits after a semicolon).
 */
export function statementToRun(text: string, selection: Span): string {
  if (selection.to > selection.from) {
    return stripTrailingSemicolons(text.slice(selection.from, selection.to));
  }
  const spans = statementSpans(text);
  const at = selection.from;
  const hit =
    spans.find((s) => s.from <= at && at <= s.to) ?? [...spans].reverse().find((s) => s.to < at);
  return hit ? stripTrailingSemicolons(text.slice(hit.from, hit.to)) : '';
}

function stripTrailingSemicolons(sql: string): string {
  return sql.trim().replace(/;+\s*$/, '').trim();
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

/** A statement DuckDB can take as a subquery, so pages and sorting can run on the server. */
export function isPageable(sql: string): boolean {
  return PAGEABLE.has(leadingKeyword(sql));
}

/** The cell "Insert into notebook" adds: `df = duckdb.sql("""…""").df()`. */
export function notebookCell(sql: string, variable = 'df'): string {
  const text = sql.trim().replace(/\\/g, '\\\\');
  let body = '';
  let quotes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    // A third quote in a row, or a quote just before the closing `"""`, must be escaped.
    if (c === '"' && (quotes === 2 || i === text.length - 1)) {
      body += '\\"';
      quotes = 0;
    } else {
      body += c;
      quotes = c === '"' ? quotes + 1 : 0;
    }
  }
  return `${variable} = duckdb.sql("""${body}""").df()`;
}
