import type {DbSchemaNode, TableNodeObject} from '@sqlrooms/duckdb';
import {defaultRenderTableSchemaNode, TableSchemaTree} from '@sqlrooms/schema-tree';
import {Button} from '@sqlrooms/ui';
import {RefreshCwIcon} from 'lucide-react';
import {useAppState} from '../appContext';
import {visibleName} from '../names';

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
    const rendered = defaultRenderTableSchemaNode(shown);
    if (node.object.type !== 'table') return rendered;
    const table = node.object as TableNodeObject;
    return (
      <div
        className="min-w-0 flex-1"
        data-testid="schema-table"
        data-table={table.table.table}
        title={`Preview ${visibleName(table.table.table)}`}
        onClick={() => onPreview(previewSql(table), table.table.table)}
      >
        {rendered}
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
