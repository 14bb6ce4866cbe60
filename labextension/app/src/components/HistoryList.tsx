import {CircleAlertIcon} from 'lucide-react';
import type {HistoryEntry} from '../workspace';

export function HistoryList({
  history,
  onPick,
}: {
  history: HistoryEntry[];
  onPick: (sql: string) => void;
}) {
  if (history.length === 0) {
    return <div className="text-muted-foreground p-4 text-xs">Nothing has run yet.</div>;
  }
  return (
    <ul className="h-full overflow-auto text-xs" aria-label="Query history">
      {history.map((h) => (
        <li key={`${h.at}-${h.sql}`} className="border-b">
          <button
            type="button"
            className={`hover:bg-muted flex w-full items-start gap-2 px-3 py-1.5 text-left font-mono ${h.error ? 'text-red-600 dark:text-red-400' : ''}`}
            title={h.error ? `Failed: ${h.error}\n\nOpen in the editor` : 'Open in the editor'}
            data-testid="history-entry"
            data-failed={h.error ? 'true' : undefined}
            onClick={() => onPick(h.sql)}
          >
            <span className="text-muted-foreground shrink-0">
              {new Date(h.at).toLocaleTimeString()}
            </span>
            {h.error && (
              <CircleAlertIcon size={14} className="shrink-0" aria-label="failed" role="img" />
            )}
            <span className="min-w-0 break-all">
              {h.sql.length > 200 ? `${h.sql.slice(0, 200)}…` : h.sql}
            </span>
          </button>
        </li>
      ))}
    </ul>
  );
}
