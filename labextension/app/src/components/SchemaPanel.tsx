import type {ColumnNodeObject, DbSchemaNode, TableNodeObject} from '@sqlrooms/duckdb';
import {
  BaseTreeNode,
  defaultRenderTableNodeMenuItems,
  defaultRenderTableSchemaNode,
  TableSchemaTree,
  TreeNodeActionsMenu,
} from '@sqlrooms/schema-tree';
import {Button, cn} from '@sqlrooms/ui';
import {RefreshCwIcon, TableIcon, ViewIcon} from 'lucide-react';
import {useAppState} from '../appContext';
import {visibleName} from '../names';
import {compactCount, shortTypeLabel} from '../typeLabel';

const BADGE_COLOURS: Record<string, string> = {
  string: 'bg-blue-100 text-blue-600 dark:bg-blue-900 dark:text-blue-300',
  number: 'bg-green-100 text-green-700 dark:bg-green-900 dark:text-green-300',
  datetime: 'bg-yellow-100 text-yellow-700 dark:bg-yellow-900 dark:text-yellow-300',
  boolean: 'bg-red-100 text-red-600 dark:bg-red-900 dark:text-red-300',
};

/** A column: its type as DuckDB's short name (full type on hover), its name truncated. */
function ColumnNode({column}: {column: ColumnNodeObject}) {
  const type = String(column.columnType);
  return (
    <BaseTreeNode asChild nodeObject={column}>
      <div
        className="flex w-full min-w-0 items-center gap-1.5"
        title={`${column.name}: ${type.toLowerCase()}`}
        data-testid="schema-column"
      >
        <span
          className={cn(
            'max-w-[96px] shrink-0 truncate rounded-sm px-1 text-[10px] leading-4 opacity-80',
            BADGE_COLOURS[column.columnTypeCategory ?? ''] ?? 'bg-muted text-muted-foreground',
          )}
          data-testid="schema-column-type"
        >
          {shortTypeLabel(type)}
        </span>
        <span className="min-w-0 truncate text-xs">{column.name}</span>
      </div>
    </BaseTreeNode>
  );
}

/** A table: its name truncated (full on hover) and a row count that always fits (3M). */
function TableNode({table}: {table: TableNodeObject}) {
  const {name, rowCount, isView} = table;
  const Icon = isView ? ViewIcon : TableIcon;
  const rows = rowCount === undefined ? '' : `${rowCount.toLocaleString('en-US')} rows`;
  return (
    <BaseTreeNode asChild nodeObject={table}>
      <div className="flex w-full min-w-0 items-center gap-1.5">
        <Icon size="16px" className="shrink-0 text-blue-500" />
        <span className="min-w-0 flex-1 truncate" title={name}>
          {name}
        </span>
        {rowCount !== undefined && rowCount > 0 && (
          <span
            className="text-muted-foreground/70 mr-1 shrink-0 text-xs"
            title={rows}
            data-testid="schema-row-count"
          >
            {compactCount(rowCount)}
          </span>
        )}
      </div>
      <TreeNodeActionsMenu>{defaultRenderTableNodeMenuItems(table)}</TreeNodeActionsMenu>
    </BaseTreeNode>
  );
}

function quoted(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `FROM "schema"."table"`, leaving out the database and the default `main` schema. */
export function previewSql(table: TableNodeObject): string {
  const {schema, table: name} = table.table;
  return `FROM ${schema && schema !== 'main' ? `${quoted(schema)}.` : ''}${quoted(name)}`;
}

/** `onPreview(sql, table)`: a click on a table asks for its preview. */
export function SchemaPanel({onPreview}: {onPreview: (sql: string, table: string) => void}) {
  const schemaTrees = useAppState((s) => s.db.schemaTrees);
  const refreshing = useAppState((s) => s.db.isRefreshingTableSchemas);
  const refresh = useAppState((s) => s.db.refreshTableSchemas);
  const renderNode = (node: DbSchemaNode) => {
    // Names as shown: invisible / bidi characters escaped (a look-alike table stands out).
    const shown =
      node.object.type === 'table' || node.object.type === 'column'
        ? ({...node, object: {...node.object, name: visibleName(node.object.name)}} as DbSchemaNode)
        : node;
    if (shown.object.type === 'column') return <ColumnNode column={shown.object} />;
    if (shown.object.type !== 'table') return defaultRenderTableSchemaNode(shown);
    const table = node.object as TableNodeObject;
    return (
      <div
        className="min-w-0 flex-1"
        data-testid="schema-table"
        data-table={table.table.table}
        title={`Preview ${visibleName(table.table.table)}`}
        onClick={() => onPreview(previewSql(table), table.table.table)}
      >
        <TableNode table={shown.object} />
      </div>
    );
  };
  return (
    <div className="flex h-full flex-col" aria-label="Schema">
      <div className="flex items-center justify-between border-b px-2 py-1 text-xs font-medium">
        <span>Tables</span>
        {/* Not the library's RefreshButton: it has no accessible name. */}
        <Button
          variant="ghost"
          size="icon"
          className="h-6 w-6"
          aria-label="Refresh tables"
          title="Refresh tables"
          onClick={() => void refresh().catch(() => undefined)}
        >
          <RefreshCwIcon className={`h-3.5 w-3.5 ${refreshing ? 'animate-spin' : ''}`} />
        </Button>
      </div>
      <TableSchemaTree
        className="flex-1 overflow-auto p-1"
        schemaTrees={schemaTrees}
        renderNode={renderNode}
        skipSingleDatabaseOrSchema
      />
    </div>
  );
}
