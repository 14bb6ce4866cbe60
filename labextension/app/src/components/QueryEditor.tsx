import {closeCompletion} from '@codemirror/autocomplete';
import {Prec} from '@codemirror/state';
import {EditorView, keymap} from '@codemirror/view';
import {CodeMirrorEditor, createSqlroomsTheme} from '@sqlrooms/codemirror';
import type * as arrow from 'apache-arrow';
import {useEffect, useMemo, useRef, useState} from 'react';
import {useApp, useAppState} from '../appContext';
import {errorMark, type ErrorMark} from '../errorMark';
import {
  CATALOG_QUERIES,
  type Catalog,
  duckdbCompletionSource,
  duckdbDialect,
  FALLBACK_CATALOG,
  type FunctionRow,
  groupFunctions,
  type TableInfo,
} from '../sqlCompletion';
import {statementAt, type Statement} from '../statements';

type Props = {
  value: string;
  onChange: (value: string) => void;
  /** The statement under the cursor (or the selection), with where it starts. */
  onRun: (statement: Statement) => void;
  /** Where the last run's error is, to mark. */
  errorMark?: ErrorMark | null;
};

function column(table: arrow.Table, name: string): unknown[] {
  const vector = table.getChild(name);
  return Array.from({length: table.numRows}, (_, i) => vector?.get(i) as unknown);
}

function strings(value: unknown): string[] | null {
  if (value === null || value === undefined) return null;
  const list = value as {toArray?: () => unknown[]};
  return Array.from(list.toArray?.() ?? [], (v) => (v === null ? '' : String(v)));
}

let catalogOnce: Promise<Catalog> | null = null;

/** The server's keywords, types and functions, asked once per page. */
function useCatalog(): Catalog {
  const {store} = useApp();
  const [catalog, setCatalog] = useState<Catalog>(FALLBACK_CATALOG);
  useEffect(() => {
    let live = true;
    catalogOnce ??= Promise.all([
      store.connector.query(CATALOG_QUERIES.keywords),
      store.connector.query(CATALOG_QUERIES.types),
      store.connector.query(CATALOG_QUERIES.functions),
    ]).then(([keywords, types, functions]) => {
      const rows: FunctionRow[] = column(functions, 'name').map((name, i) => ({
        name: String(name),
        kind: String(functions.getChild('kind')?.get(i)),
        parameters: strings(functions.getChild('parameters')?.get(i)),
        parameterTypes: strings(functions.getChild('parameter_types')?.get(i)),
        returnType: (functions.getChild('return_type')?.get(i) as string | null) ?? null,
        description: (functions.getChild('description')?.get(i) as string | null) ?? null,
      }));
      return {
        keywords: column(keywords, 'name').map(String),
        types: column(types, 'name').map(String),
        functions: groupFunctions(rows),
      };
    });
    catalogOnce.then(
      (c) => live && setCatalog(c),
      () => {
        catalogOnce = null; // not connected yet: ask again next time
      },
    );
    return () => {
      live = false;
    };
  }, [store]);
  return catalog;
}

/** Tables and views with their columns, from the schema tree's data. */
function useTables(): TableInfo[] {
  const tables = useAppState((s) => s.db.tables);
  return useMemo(
    () =>
      tables.map((t) => ({
        schema: t.table.schema ?? 'main',
        name: t.table.table,
        columns: t.columns.map((c) => ({name: c.name, type: c.type})),
      })),
    [tables],
  );
}

export function QueryEditor({value, onChange, onRun, errorMark: mark = null}: Props) {
  const catalog = useCatalog();
  const tables = useTables();
  const onRunRef = useRef(onRun);
  onRunRef.current = onRun;
  const catalogRef = useRef(catalog);
  catalogRef.current = catalog;
  const tablesRef = useRef(tables);
  tablesRef.current = tables;
  const extensions = useMemo(() => {
    const dialect = duckdbDialect(catalog);
    return [
      dialect.language,
      dialect.language.data.of({
        autocomplete: duckdbCompletionSource(
          () => catalogRef.current,
          () => tablesRef.current,
        ),
      }),
      createSqlroomsTheme(),
      EditorView.contentAttributes.of({'aria-label': 'SQL editor'}),
      Prec.highest(
        keymap.of([
          {
            key: 'Mod-Enter',
            preventDefault: true,
            run: (view) => {
              closeCompletion(view); // running, not picking: the popup would cover the results
              const {from, to} = view.state.selection.main;
              const statement = statementAt(view.state.doc.toString(), {from, to});
              if (statement) onRunRef.current(statement);
              return true;
            },
          },
        ]),
      ),
      errorMark(mark),
    ];
  }, [catalog, mark]);
  return (
    <CodeMirrorEditor
      className="h-full"
      value={value}
      onChange={onChange}
      extensions={extensions}
      options={{lineNumbers: true, foldGutter: false}}
    />
  );
}
