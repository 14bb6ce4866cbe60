import {sql as sqlLanguage, PostgreSQL} from '@codemirror/lang-sql';
import {Prec} from '@codemirror/state';
import {EditorView, keymap} from '@codemirror/view';
import {CodeMirrorEditor} from '@sqlrooms/codemirror';
import {useMemo, useRef} from 'react';
import {useAppState} from '../appContext';
import {errorMark, type ErrorMark} from '../errorMark';
import {statementAt, type Statement} from '../statements';

type Props = {
  value: string;
  onChange: (value: string) => void;
  /** The statement under the cursor (or the selection), with where it starts. */
  onRun: (statement: Statement) => void;
  /** Where the last run's error is, to mark. */
  errorMark?: ErrorMark | null;
};

/** Table and column names for completion, by bare and schema-qualified table name. */
function useCompletionSchema(): Record<string, string[]> {
  const tables = useAppState((s) => s.db.tables);
  return useMemo(() => {
    const schema: Record<string, string[]> = {};
    for (const t of tables) {
      const columns = t.columns.map((c) => c.name);
      schema[t.table.table] = columns;
      if (t.table.schema && t.table.schema !== 'main') {
        schema[`${t.table.schema}.${t.table.table}`] = columns;
      }
    }
    return schema;
  }, [tables]);
}

export function QueryEditor({value, onChange, onRun, errorMark: mark = null}: Props) {
  const schema = useCompletionSchema();
  const onRunRef = useRef(onRun);
  onRunRef.current = onRun;
  const extensions = useMemo(
    () => [
      sqlLanguage({dialect: PostgreSQL, schema, upperCaseKeywords: false}),
      EditorView.contentAttributes.of({'aria-label': 'SQL editor'}),
      Prec.highest(
        keymap.of([
          {
            key: 'Mod-Enter',
            preventDefault: true,
            run: (view) => {
              const {from, to} = view.state.selection.main;
              const statement = statementAt(view.state.doc.toString(), {from, to});
              if (statement) onRunRef.current(statement);
              return true;
            },
          },
        ]),
      ),
      errorMark(mark),
    ],
    [schema, mark],
  );
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
