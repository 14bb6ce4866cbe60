/**
 * Which catalog entries the schema tree shows. Unlike the official default, DuckDB's `temp`
 * database stays visible: dataframes shared from a notebook (`%sqlrooms share`) live there.
 * SQLRooms' own `__sqlrooms*` objects stay hidden.
 */
import type {QualifiedTableName, SchemaCatalogFilterEntry} from '@sqlrooms/duckdb';

const INTERNAL_PREFIX = '__sqlrooms';

const visible = (name: string | undefined): boolean => !name?.startsWith(INTERNAL_PREFIX);

export function isVisibleTable(table: Pick<QualifiedTableName, 'database' | 'schema' | 'table'>) {
  return visible(table.table) && visible(table.database) && visible(table.schema);
}

export function isVisibleCatalogEntry(entry: SchemaCatalogFilterEntry): boolean {
  switch (entry.type) {
    case 'database':
      return visible(entry.database);
    case 'schema':
      return visible(entry.database) && visible(entry.schema);
    case 'table':
      return isVisibleTable(entry.table);
  }
}
