import React from 'react';

export interface ISqlEditorProps {
  value: string;
  onChange(value: string): void;
  /** Ctrl+Enter or Cmd+Enter. */
  onRun(): void;
}

/** A plain SQL text area; Ctrl/Cmd+Enter runs. */
export function SqlEditor(props: ISqlEditorProps): JSX.Element {
  const { value, onChange, onRun } = props;
  return (
    <textarea
      className="jp-SqlRooms-editor"
      aria-label="SQL"
      spellCheck={false}
      placeholder="select * from my_table limit 100    (Ctrl+Enter runs)"
      value={value}
      onChange={event => onChange(event.target.value)}
      onKeyDown={event => {
        if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          event.stopPropagation();
          onRun();
        }
      }}
    />
  );
}
