/**
 * The schema browser's tree: databases > schemas > tables, views and shared
 * dataframes > columns, built from DuckDB's catalog functions.
 */

export type RelationKind = 'table' | 'view' | 'shared';

export interface IColumnNode {
  readonly name: string;
  readonly type: string;
}

export interface IRelationNode {
  readonly name: string;
  readonly kind: RelationKind;
  readonly columns: readonly IColumnNode[];
}

export interface ISchemaNode {
  readonly name: string;
  readonly relations: readonly IRelationNode[];
}

export interface IDatabaseNode {
  readonly name: string;
  readonly schemas: readonly ISchemaNode[];
}

export interface ISchemaTree {
  readonly databases: readonly IDatabaseNode[];
  /** Kernel objects shared with `%sqlrooms share`, queryable by their bare name. */
  readonly shared: readonly IRelationNode[];
}

/** One row of {@link RELATIONS_SQL}. */
export interface IRelationRow {
  database_name: string;
  schema_name: string;
  relation_name: string;
  kind: string;
}

/** One row of {@link COLUMNS_SQL} or {@link sharedColumnsSql}. */
export interface IColumnRow {
  database_name: string;
  schema_name: string;
  relation_name: string;
  column_name: string;
  data_type: string;
}

/**
 * Every database and schema, including empty ones. `temp` is left out: each
 * query runs on a cursor of its own, so nothing there outlives its query.
 */
export const SCHEMATA_SQL = `
select database_name, schema_name
from duckdb_schemas()
where database_name not in ('system', 'temp')
  and schema_name not in ('information_schema', 'pg_catalog')
order by 1, 2`;

export const RELATIONS_SQL = `
select database_name, schema_name, table_name as relation_name, 'table' as kind
from duckdb_tables() where not internal and database_name <> 'temp'
union all
select database_name, schema_name, view_name, 'view'
from duckdb_views() where not internal and database_name <> 'temp'
order by 1, 2, 3`;

export const COLUMNS_SQL = `
select database_name, schema_name, table_name as relation_name, column_name, data_type
from duckdb_columns() where not internal and database_name <> 'temp'
order by database_name, schema_name, table_name, column_index`;

export const CURRENT_DATABASE_SQL = 'select current_database() as name';

/** A double-quoted SQL identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * Columns of shared kernel objects. They are not in the catalog: the server
 * registers one on a query's cursor when the query names it, as this does.
 */
export function sharedColumnsSql(names: readonly string[]): string | null {
  if (names.length === 0) {
    return null;
  }
  return names
    .map(
      name =>
        `select '' as database_name, '' as schema_name, ${quoteLiteral(name)} as relation_name, ` +
        `column_name, column_type as data_type from (describe ${quoteIdentifier(name)})`
    )
    .join('\nunion all\n');
}

function groupColumns(
  columns: readonly IColumnRow[]
): Map<string, IColumnNode[]> {
  const byRelation = new Map<string, IColumnNode[]>();
  for (const row of columns) {
    const key = relationKey(
      row.database_name,
      row.schema_name,
      row.relation_name
    );
    const list = byRelation.get(key) ?? [];
    list.push({ name: row.column_name, type: row.data_type });
    byRelation.set(key, list);
  }
  return byRelation;
}

function relationKey(
  database: string,
  schema: string,
  relation: string
): string {
  return JSON.stringify([database, schema, relation]);
}

function asKind(kind: string): RelationKind {
  return kind === 'view' ? 'view' : 'table';
}

/**
 * Builds the tree from catalog rows. Databases and schemas keep the order of
 * `schemata`, then any that only `relations` name; relations keep row order.
 */
export function buildSchemaTree(
  schemata: readonly { database_name: string; schema_name: string }[],
  relations: readonly IRelationRow[],
  columns: readonly IColumnRow[],
  sharedNames: readonly string[] = [],
  sharedColumns: readonly IColumnRow[] = []
): ISchemaTree {
  const columnsOf = groupColumns(columns);
  const databases = new Map<string, Map<string, IRelationNode[]>>();
  const schemaOf = (database: string, schema: string): IRelationNode[] => {
    let schemas = databases.get(database);
    if (!schemas) {
      schemas = new Map();
      databases.set(database, schemas);
    }
    let list = schemas.get(schema);
    if (!list) {
      list = [];
      schemas.set(schema, list);
    }
    return list;
  };
  for (const row of schemata) {
    schemaOf(row.database_name, row.schema_name);
  }
  for (const row of relations) {
    schemaOf(row.database_name, row.schema_name).push({
      name: row.relation_name,
      kind: asKind(row.kind),
      columns:
        columnsOf.get(
          relationKey(row.database_name, row.schema_name, row.relation_name)
        ) ?? []
    });
  }
  const sharedColumnsOf = new Map<string, IColumnNode[]>();
  for (const row of sharedColumns) {
    const list = sharedColumnsOf.get(row.relation_name) ?? [];
    list.push({ name: row.column_name, type: row.data_type });
    sharedColumnsOf.set(row.relation_name, list);
  }
  return {
    databases: [...databases].map(([name, schemas]) => ({
      name,
      schemas: [...schemas].map(([schemaName, list]) => ({
        name: schemaName,
        relations: list
      }))
    })),
    shared: [...sharedNames].sort().map(name => ({
      name,
      kind: 'shared' as const,
      columns: sharedColumnsOf.get(name) ?? []
    }))
  };
}

/** Names a query can use for the relations in the tree (bare names, for live refresh). */
export function relationNames(tree: ISchemaTree): string[] {
  const names = new Set<string>(tree.shared.map(relation => relation.name));
  for (const database of tree.databases) {
    for (const schema of database.schemas) {
      for (const relation of schema.relations) {
        names.add(relation.name);
      }
    }
  }
  return [...names].sort();
}

/** What to insert into the editor for a relation: a qualified name only when needed. */
export function relationReference(
  database: string,
  schema: string,
  relation: string,
  defaultDatabase: string
): string {
  const name = quoteIfNeeded(relation);
  if (database === defaultDatabase && schema === 'main') {
    return name;
  }
  return `${quoteIfNeeded(database)}.${quoteIfNeeded(schema)}.${name}`;
}

const PLAIN_IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/** DuckDB's reserved keywords (`duckdb_keywords()`), which only work quoted as names. */
const RESERVED = new Set(
  (
    'all analyse analyze and any array as asc asymmetric both case cast check collate ' +
    'column constraint create default deferrable desc describe distinct do else end ' +
    'except false fetch for foreign from group having in initially intersect into ' +
    'lambda lateral leading limit not null offset on only or order pivot pivot_longer ' +
    'pivot_wider placing primary qualify references returning select show some ' +
    'summarize symmetric table then to trailing true union unique unpivot using ' +
    'variadic when where window with'
  ).split(' ')
);

/** The name as is when DuckDB reads it back unchanged, else double-quoted. */
export function quoteIfNeeded(name: string): string {
  return PLAIN_IDENTIFIER.test(name) && !RESERVED.has(name)
    ? name
    : quoteIdentifier(name);
}
