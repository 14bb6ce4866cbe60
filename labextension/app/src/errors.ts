/**
 * DuckDB's error messages point into the text it was given (`LINE 2: …` and a caret line).
 * The app wraps a statement for paging (see statements.ts WRAPPER_LINES); these helpers move
 * the position back into what the user wrote, and say where in the statement it is.
 */

export type ErrorPosition = {
  /** 1-based line in the text DuckDB was given. */
  line: number;
  /** The excerpt DuckDB printed after `LINE n: ` (may start or end with `...`). */
  excerpt: string;
  /** 0-based column of the caret within the excerpt, and how many carets. */
  column: number;
  width: number;
  /** Where `LINE n: …\n   ^^^` starts in the message. */
  index: number;
};

const LINE = /^LINE (\d+): (.*)\n( *)(\^+)/m;

export function errorPosition(message: string): ErrorPosition | null {
  const match = LINE.exec(message);
  if (!match) return null;
  const prefix = `LINE ${match[1]}: `.length;
  return {
    line: Number(match[1]),
    excerpt: match[2],
    column: match[3].length - prefix,
    width: match[4].length,
    index: match.index,
  };
}

/** The offset in `sql` of a position on its `line` (1-based), or null when it is not there. */
function offsetIn(sql: string, position: ErrorPosition, line: number): number | null {
  const lines = sql.split('\n');
  if (line < 1 || line > lines.length) return null;
  const text = lines[line - 1];
  let excerpt = position.excerpt;
  let column = position.column;
  // A long line is cut around the error: find the printed part in the real line.
  if (excerpt.startsWith('...')) {
    excerpt = excerpt.slice(3);
    column -= 3;
  }
  if (excerpt.endsWith('...')) excerpt = excerpt.slice(0, -3);
  const at = text.indexOf(excerpt);
  if (at === -1 || column < 0) return null;
  const lineStart = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  return lineStart + Math.min(at + column, text.length);
}

export type UserError = {
  message: string;
  /** Offset in the user's statement, when DuckDB named a position inside it. */
  offset: number | null;
  width: number;
};

/**
 * `message` from running a text that holds `sql` from its line `shift + 1` on: the same error
 * with its position in `sql`'s own lines (numbered from `firstLine`, where `sql` starts in the
 * editor). `null` when the position is outside `sql` (the error
 * is about the wrapper, e.g. `syntax error at or near ")"` for an unfinished statement).
 */
export function toUserError(
  message: string,
  sql: string,
  shift: number,
  firstLine = 1,
): UserError | null {
  const position = errorPosition(message);
  if (!position) return {message, offset: null, width: 0};
  const line = position.line - shift;
  const offset = offsetIn(sql, position, line);
  if (offset === null) return null;
  const before = message.slice(0, position.index);
  const after = message
    .slice(position.index)
    .replace(/^LINE \d+: /, `LINE ${line + firstLine - 1}: `);
  return {message: before + after, offset, width: position.width};
}

/** Prefixes a script's failing statement: `Statement 2 of 3 (line 4): …`. */
export function statementError(
  error: UserError,
  index: number,
  count: number,
  line: number,
): UserError {
  if (count <= 1) return error;
  return {...error, message: `Statement ${index + 1} of ${count} (line ${line}): ${error.message}`};
}

/** The 1-based line of `offset` in `text`. */
export function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === '\n') line++;
  return line;
}
