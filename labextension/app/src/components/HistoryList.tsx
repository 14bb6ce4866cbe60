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
            className="hover:bg-muted w-full px-3 py-1.5 text-left font-mono"
            title="Open in the editor"
            onClick={() => onPick(h.sql)}
          >
            <span className="text-muted-foreground mr-2">
              {new Date(h.at).toLocaleTimeString()}
            </span>
            {h.sql.length > 200 ? `${h.sql.slice(0, 200)}…` : h.sql}
          </button>
        </li>
      ))}
    </ul>
  );
}
