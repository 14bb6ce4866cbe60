import {Button} from '@sqlrooms/ui';
import {visibleName} from '../names';
import {Name} from './Name';
import type {QueryTab} from '../workspace';

type Props = {
  tabs: QueryTab[];
  selectedId: string;
  onSelect: (id: string) => void;
  onClose: (id: string) => void;
  onAdd: () => void;
};

export function TabBar({tabs, selectedId, onSelect, onClose, onAdd}: Props) {
  return (
    <div className="flex items-center gap-1 overflow-x-auto border-b px-1" role="tablist">
      {tabs.map((t) => (
        <div
          key={t.id}
          className={`flex items-center rounded-t text-xs ${t.id === selectedId ? 'bg-muted font-medium' : ''}`}
        >
          <button
            type="button"
            role="tab"
            aria-selected={t.id === selectedId}
            className="px-2 py-1"
            onClick={() => onSelect(t.id)}
          >
            <Name name={t.title} />
          </button>
          <button
            type="button"
            aria-label={`Close ${visibleName(t.title)}`}
            title={`Close ${visibleName(t.title)}`}
            className="text-muted-foreground hover:text-foreground px-1"
            onClick={() => onClose(t.id)}
          >
            ×
          </button>
        </div>
      ))}
      <Button
        size="xs"
        variant="ghost"
        aria-label="New query tab"
        title="New query tab"
        onClick={onAdd}
      >
        +
      </Button>
    </div>
  );
}
