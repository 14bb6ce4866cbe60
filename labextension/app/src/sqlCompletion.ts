/**
 * DuckDB's dialect for the editor: keywords, types and functions as the connected server lists
 * them (duckdb_keywords(), duckdb_types(), duckdb_functions()), and a completion source that
 * knows the tables in scope, so their columns complete without a `table.` prefix.
 */
import type {Completion, CompletionContext, CompletionResult} from '@codemirror/autocomplete';
import {snippetCompletion} from '@codemirror/autocomplete';
import {SQLDialect} from '@codemirror/lang-sql';
import {statementSpans} from './statements';

export type FunctionInfo = {name: string; kind: string; signatures: string[]; description: string};

export type Catalog = {keywords: string[]; types: string[]; functions: FunctionInfo[]};

export type TableInfo = {
  schema: string;
  name: string;
  columns: {name: string; type: string}[];
};

/** Used until the server has answered (and when it cannot). */
export const FALLBACK_CATALOG: Catalog = {
  keywords: (
    'select from where group by order having limit offset with as join left right full inner ' +
    'outer cross on using union all except intersect distinct insert into values update set ' +
    'delete create or replace table view schema drop alter attach detach copy to describe ' +
    'summarize show pivot unpivot qualify window over partition asc desc nulls first last ' +
    'case when then else end and or not in is null like ilike between exists cast try_cast ' +
    'true false install load pragma explain analyze macro function returning exclude replace'
  ).split(' '),
  types: (
    'bigint boolean blob date decimal double float hugeint integer interval json smallint ' +
    'time timestamp timestamptz tinyint ubigint uinteger usmallint utinyint uuid varchar'
  ).split(' '),
  functions: [],
};

export const CATALOG_QUERIES = {
  keywords: 'SELECT keyword_name AS name FROM duckdb_keywords()',
  types:
    "SELECT DISTINCT lower(type_name) AS name FROM duckdb_types() WHERE type_name NOT LIKE '\\_\\_%' ESCAPE '\\'",
  functions:
    'SELECT function_name AS name, function_type AS kind, parameters, parameter_types, ' +
    'return_type, description FROM duckdb_functions() ' +
    "WHERE function_name NOT LIKE '\\_\\_%' ESCAPE '\\' " +
    "AND function_type IN ('scalar', 'aggregate', 'macro', 'table', 'table_macro')",
};

export type FunctionRow = {
  name: string;
  kind: string;
  parameters: string[] | null;
  parameterTypes: (string | null)[] | null;
  returnType: string | null;
  description: string | null;
};

export function signature(row: FunctionRow): string {
  const params = (row.parameters ?? []).map((p, i) => {
    const type = row.parameterTypes?.[i];
    return type ? `${p} ${type}` : p;
  });
  return `${row.name}(${params.join(', ')})${row.returnType ? ` → ${row.returnType}` : ''}`;
}

/** One entry per function name, with every overload's signature. */
export function groupFunctions(rows: FunctionRow[]): FunctionInfo[] {
  const byName = new Map<string, FunctionInfo>();
  for (const row of rows) {
    let info = byName.get(row.name);
    if (!info) {
      info = {name: row.name, kind: row.kind, signatures: [], description: ''};
      byName.set(row.name, info);
    }
    const s = signature(row);
    if (!info.signatures.includes(s)) info.signatures.push(s);
    if (!info.description && row.description) info.description = row.description;
  }
  return [...byName.values()];
}

/** The dialect for highlighting: functions are highlighted as builtins. */
export function duckdbDialect(catalog: Catalog): SQLDialect {
  const words = (list: string[]) =>
    [
      ...new Set(list.filter((w) => /^[a-z_][a-z0-9_]*$/i.test(w)).map((w) => w.toLowerCase())),
    ].join(' ');
  return SQLDialect.define({
    keywords: words(catalog.keywords),
    types: words(catalog.types),
    builtin: words(catalog.functions.map((f) => f.name)),
    identifierQuotes: '"',
    operatorChars: '*+-%<>!=&|~^/:',
    specialVar: '$?',
    doubleQuotedStrings: false,
    hashComments: false,
    spaceAfterDashes: false,
  });
}

const IDENT = '(?:"(?:[^"]|"")+"|[A-Za-z_][\\w$]*)';
const NOT_ALIAS = new Set(
  'where group order having limit offset join left right full inner outer cross on using union except intersect window qualify natural positional asof anti semi lateral sample using pivot unpivot as'.split(
    ' ',
  ),
);

function unquote(part: string): string {
  return part.startsWith('"') ? part.slice(1, -1).replace(/""/g, '"') : part;
}

/** Tables (and their aliases) named after FROM / JOIN in `statement`. */
export function tablesInScope(statement: string): {path: string[]; alias: string | null}[] {
  const pattern = new RegExp(
    `\\b(?:from|join)\\s+(${IDENT}(?:\\s*\\.\\s*${IDENT})*)(?:\\s+(?:as\\s+)?(${IDENT}))?`,
    'gi',
  );
  const found: {path: string[]; alias: string | null}[] = [];
  for (const m of statement.matchAll(pattern)) {
    const path = m[1].split(/\s*\.\s*(?=(?:"|[A-Za-z_]))/).map(unquote);
    const alias = m[2] && !NOT_ALIAS.has(m[2].toLowerCase()) ? unquote(m[2]) : null;
    found.push({path, alias});
  }
  return found;
}

function matchTable(tables: TableInfo[], path: string[]): TableInfo | undefined {
  const name = path[path.length - 1].toLowerCase();
  const schema = path.length > 1 ? path[path.length - 2].toLowerCase() : null;
  return tables.find(
    (t) => t.name.toLowerCase() === name && (schema === null || t.schema.toLowerCase() === schema),
  );
}

export function quoteIfNeeded(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

export const SNIPPETS: Completion[] = [
  snippetCompletion('SELECT ${columns}\nFROM ${table}\nWHERE ${condition}', {
    label: 'select',
    detail: 'SELECT … FROM … WHERE',
    type: 'text',
  }),
  snippetCompletion(
    'SELECT ${column}, count(*) AS n\nFROM ${table}\nGROUP BY ALL\nORDER BY n DESC',
    {label: 'group by', detail: 'count per group', type: 'text'},
  ),
  snippetCompletion('WITH ${name} AS (\n  ${query}\n)\nSELECT * FROM ${name}', {
    label: 'with',
    detail: 'WITH … AS (…)',
    type: 'text',
  }),
  snippetCompletion('CREATE TABLE ${name} AS\n${query}', {
    label: 'create table as',
    detail: 'CREATE TABLE … AS',
    type: 'text',
  }),
  snippetCompletion("FROM read_parquet('${path}')", {
    label: 'read_parquet',
    detail: "FROM read_parquet('…')",
    type: 'text',
  }),
  snippetCompletion("FROM read_csv('${path}')", {
    label: 'read_csv',
    detail: "FROM read_csv('…')",
    type: 'text',
  }),
  snippetCompletion('PIVOT ${table}\nON ${column}\nUSING sum(${value})', {
    label: 'pivot',
    detail: 'PIVOT … ON … USING',
    type: 'text',
  }),
  snippetCompletion('SUMMARIZE ${table}', {
    label: 'summarize',
    detail: 'SUMMARIZE table',
    type: 'text',
  }),
];

function columnOptions(table: TableInfo, boost: number): Completion[] {
  return table.columns.map((c) => ({
    label: quoteIfNeeded(c.name),
    type: 'property',
    detail: `${c.type.toLowerCase()} · ${table.name}`,
    boost,
  }));
}

/** What completes at `pos` in `doc`: dotted names resolve to columns or tables. */
export function completionsAt(
  doc: string,
  pos: number,
  catalog: Catalog,
  tables: TableInfo[],
  explicit = false,
): {from: number; options: Completion[]} | null {
  const before = doc.slice(0, pos);
  const word = /(?:[\w$]+|"[^"]*)$/.exec(before);
  const from = word ? pos - word[0].length : pos;
  const span = statementSpans(doc).find((s) => s.from <= pos && pos <= s.to);
  const statement = span ? doc.slice(span.from, span.to) : doc;
  const scope = tablesInScope(statement);

  const dotted = new RegExp(`(${IDENT})\\s*\\.\\s*$`).exec(doc.slice(0, from));
  if (dotted) {
    const qualifier = unquote(dotted[1]).toLowerCase();
    const aliased = scope.find((s) => s.alias?.toLowerCase() === qualifier);
    const table = aliased ? matchTable(tables, aliased.path) : matchTable(tables, [qualifier]);
    const inSchema = tables.filter((t) => t.schema.toLowerCase() === qualifier);
    const options = [
      ...(table ? columnOptions(table, 3) : []),
      ...inSchema.map((t) => ({
        label: quoteIfNeeded(t.name),
        type: 'class',
        detail: `table · ${t.schema}`,
      })),
    ];
    return options.length ? {from, options} : null;
  }
  if (!word && !explicit) return null;

  const inScope = scope
    .map((s) => matchTable(tables, s.path))
    .filter((t): t is TableInfo => t !== undefined);
  const schemas = [...new Set(tables.map((t) => t.schema))];
  const options: Completion[] = [
    ...inScope.flatMap((t) => columnOptions(t, 3)),
    ...tables.map((t) => ({
      label: quoteIfNeeded(t.name),
      type: 'class',
      detail: `table · ${t.schema}`,
      boost: 2,
    })),
    ...schemas.map((s) => ({
      label: quoteIfNeeded(s),
      type: 'namespace',
      detail: 'schema',
      boost: 1,
    })),
    ...catalog.functions.map((f) => ({
      label: f.name,
      type: 'function',
      detail: f.signatures[0] + (f.signatures.length > 1 ? ` (+${f.signatures.length - 1})` : ''),
      info: [...f.signatures, '', f.description].join('\n').trim(),
      boost: -1,
    })),
    ...catalog.keywords.map((k) => ({label: k.toLowerCase(), type: 'keyword', boost: 0})),
    ...catalog.types.map((t) => ({label: t, type: 'type', boost: -2})),
    ...SNIPPETS,
  ];
  return {from, options};
}

export function duckdbCompletionSource(getCatalog: () => Catalog, getTables: () => TableInfo[]) {
  return (context: CompletionContext): CompletionResult | null => {
    const doc = context.state.doc.toString();
    const found = completionsAt(doc, context.pos, getCatalog(), getTables(), context.explicit);
    return found ? {...found, validFor: /^[\w$]*$/} : null;
  };
}
