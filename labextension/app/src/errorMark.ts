/** The editor's mark on where DuckDB says an error is; cleared by the next edit. */
import {type Extension, StateField} from '@codemirror/state';
import {Decoration, type DecorationSet, EditorView} from '@codemirror/view';

export type ErrorMark = {from: number; to: number; message: string};

const theme = EditorView.baseTheme({
  '.cm-sql-error': {
    textDecoration: 'underline wavy #dc2626',
    textUnderlineOffset: '3px',
    backgroundColor: 'rgba(220, 38, 38, 0.12)',
  },
});

/** The range to mark in a document of `length`: at least one character, inside the text. */
export function markRange(mark: ErrorMark, length: number): {from: number; to: number} | null {
  if (length === 0) return null;
  let from = Math.max(0, Math.min(mark.from, length));
  let to = Math.min(Math.max(mark.to, from + 1), length);
  if (from >= to) {
    from = length - 1; // at the end of the text ("at end of input"): its last character
    to = length;
  }
  return {from, to};
}

export function errorMark(mark: ErrorMark | null): Extension {
  if (!mark) return [];
  const field = StateField.define<DecorationSet>({
    create(state) {
      const range = markRange(mark, state.doc.length);
      if (!range) return Decoration.none;
      const decoration = Decoration.mark({
        class: 'cm-sql-error',
        attributes: {title: mark.message, 'data-testid': 'sql-error-mark'},
      });
      return Decoration.set([decoration.range(range.from, range.to)]);
    },
    update: (marks, tr) => (tr.docChanged ? Decoration.none : marks),
    provide: (f) => EditorView.decorations.from(f),
  });
  return [field, theme];
}
