/**
 * The result grid: DuckDB's text per cell (see format.ts), DuckDB type names in the header,
 * columns as wide as their content, sorting and paging handed to the caller (they run in
 * DuckDB), and a cell / row / block selection that Ctrl/Cmd+C copies as TSV.
 */
import {Button, cn} from '@sqlrooms/ui';
import {
  ChevronDownIcon,
  ChevronLeftIcon,
  ChevronRightIcon,
  ChevronsLeftIcon,
  ChevronsRightIcon,
  ChevronUpIcon,
  LoaderCircleIcon,
} from 'lucide-react';
import {useEffect, useMemo, useRef, useState} from 'react';
import {visibleName} from '../names';
import {Name} from './Name';
import {
  type CellRange,
  columnWidthCh,
  displayValue,
  type GridColumn,
  groupThousands,
  inRange,
  isNumericType,
  normalRange,
  rangeTsv,
  rowsLabel,
  type Sort,
  toTsv,
} from '../format';

export type Page = {pageIndex: number; pageSize: number};

type Props = {
  columns: GridColumn[];
  rows: (string | null)[][];
  numRows?: number;
  page?: Page;
  /** The page `rows` are from, when `page` (the one asked for) is still loading. */
  shownPage?: Page;
  onPageChange?: (page: Page) => void;
  sorting?: Sort[];
  onSortingChange?: (sorting: Sort[]) => void;
  isFetching?: boolean;
  footer?: React.ReactNode;
  /** Drawn under a column's name and type (its profile). */
  columnExtra?: (column: GridColumn, index: number) => React.ReactNode;
};

/** Copies through the async clipboard, or the old way where it is not allowed (some iframes). */
export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = document.createElement('textarea');
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
}

/** Off → first direction → the other → off; numbers start descending (the largest first). */
function nextSort(sorting: Sort[], id: string, descFirst: boolean): Sort[] {
  const current = sorting.find((s) => s.id === id);
  if (!current) return [{id, desc: descFirst}];
  if (current.desc === descFirst) return [{id, desc: !descFirst}];
  return [];
}

function Pager({page, pages, onChange}: {page: Page; pages: number; onChange: (p: Page) => void}) {
  const [typed, setTyped] = useState(String(page.pageIndex + 1));
  useEffect(() => setTyped(String(page.pageIndex + 1)), [page.pageIndex]);
  const go = (index: number) =>
    onChange({...page, pageIndex: Math.max(0, Math.min(pages - 1, index))});
  const first = page.pageIndex === 0;
  const last = page.pageIndex >= pages - 1;
  return (
    <span className="flex items-center gap-0.5 whitespace-nowrap">
      <Button
        variant="ghost"
        size="xs"
        className="h-6 w-6"
        aria-label="First page"
        title="First page"
        disabled={first}
        onClick={() => go(0)}
      >
        <ChevronsLeftIcon size={14} />
      </Button>
      <Button
        variant="ghost"
        size="xs"
        className="h-6 w-6"
        aria-label="Previous page"
        title="Previous page"
        disabled={first}
        onClick={() => go(page.pageIndex - 1)}
      >
        <ChevronLeftIcon size={14} />
      </Button>
      <span className="flex items-center gap-1">
        Page
        <input
          aria-label="Page"
          className="bg-background h-6 w-12 rounded border px-1 text-right"
          value={typed}
          inputMode="numeric"
          onChange={(e) => setTyped(e.target.value.replace(/\D/g, ''))}
          onBlur={() => go(Number(typed || 1) - 1)}
          onKeyDown={(e) => e.key === 'Enter' && go(Number(typed || 1) - 1)}
        />
        of {groupThousands(String(pages))}
      </span>
      <Button
        variant="ghost"
        size="xs"
        className="h-6 w-6"
        aria-label="Next page"
        title="Next page"
        disabled={last}
        onClick={() => go(page.pageIndex + 1)}
      >
        <ChevronRightIcon size={14} />
      </Button>
      <Button
        variant="ghost"
        size="xs"
        className="h-6 w-6"
        aria-label="Last page"
        title="Last page"
        disabled={last}
        onClick={() => go(pages - 1)}
      >
        <ChevronsRightIcon size={14} />
      </Button>
    </span>
  );
}

type Cell = {row: number; col: number};

/** The header row's height: the profiles' row sticks right under it. */
const HEADER_PX = 26;

export function ResultGrid({
  columns,
  rows,
  numRows,
  page,
  shownPage,
  onPageChange,
  sorting = [],
  onSortingChange,
  isFetching,
  footer,
  columnExtra,
}: Props) {
  const [anchor, setAnchor] = useState<Cell | null>(null);
  const [focus, setFocus] = useState<Cell | null>(null);
  const [copied, setCopied] = useState<string | null>(null);
  const dragging = useRef(false);
  const range: CellRange | null = anchor && focus ? normalRange(anchor, focus) : null;
  useEffect(() => {
    setAnchor(null);
    setFocus(null);
  }, [rows]);
  useEffect(() => {
    const stop = () => (dragging.current = false);
    window.addEventListener('mouseup', stop);
    return () => window.removeEventListener('mouseup', stop);
  }, []);

  const shown = useMemo(
    () => rows.map((r) => r.map((v, c) => displayValue(v, columns[c] ?? {name: '', type: ''}))),
    [rows, columns],
  );
  const widths = useMemo(
    () =>
      columns.map((c, i) =>
        columnWidthCh(
          c,
          shown.map((r) => r[i] ?? ''),
        ),
      ),
    [columns, shown],
  );
  const rowsPage = shownPage ?? page;
  const offset = rowsPage ? rowsPage.pageIndex * rowsPage.pageSize : 0;
  const total = numRows ?? rows.length;
  const pages = page ? Math.max(1, Math.ceil(total / page.pageSize)) : 1;

  const copy = (text: string, what: string) => {
    void copyText(text).then(() => {
      setCopied(what);
      window.setTimeout(() => setCopied(null), 1500);
    });
  };
  const copySelection = () => {
    if (range) {
      const cells = (range.r1 - range.r0 + 1) * (range.c1 - range.c0 + 1);
      copy(rangeTsv(columns, rows, range), cells === 1 ? 'Copied cell' : `Copied ${cells} cells`);
    } else {
      copy(
        toTsv(
          columns.map((c) => c.name),
          rows,
        ),
        `Copied ${rowsLabel(rows.length)}`,
      );
    }
  };
  const press = (cell: Cell, extend: boolean) => {
    if (!extend || !anchor) setAnchor(cell);
    setFocus(cell);
    dragging.current = true;
  };

  return (
    <div
      className="flex h-full min-h-0 flex-col"
      data-testid="result-grid"
      aria-busy={isFetching ? true : undefined}
    >
      <div
        className={cn(
          'min-h-0 flex-1 overflow-auto font-mono text-xs outline-none transition-opacity',
          isFetching && 'opacity-40',
        )}
        tabIndex={0}
        onKeyDown={(e) => {
          if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'c') {
            e.preventDefault();
            copySelection();
          } else if (e.key === 'Escape') {
            setAnchor(null);
            setFocus(null);
          }
        }}
      >
        <table
          className="border-separate border-spacing-0 select-none"
          style={{tableLayout: 'fixed', width: 'max-content'}}
        >
          <colgroup>
            <col style={{width: `${Math.max(4, String(offset + rows.length).length + 2)}ch`}} />
            {widths.map((w, i) => (
              <col key={i} style={{width: `${w}ch`}} />
            ))}
          </colgroup>
          <thead>
            <tr>
              <th
                className="bg-background sticky top-0 left-0 z-20 border-r border-b"
                style={{height: HEADER_PX}}
              />
              {columns.map((c) => {
                const sorted = sorting.find((s) => s.id === c.name);
                return (
                  <th
                    key={c.name}
                    scope="col"
                    aria-sort={sorted ? (sorted.desc ? 'descending' : 'ascending') : undefined}
                    title={`${visibleName(c.name)} ${c.type.toLowerCase()}${onSortingChange ? ' · click to sort' : ''}`}
                    className={cn(
                      'bg-background hover:bg-muted sticky top-0 z-10 border-r border-b px-2 py-1 text-left font-medium',
                      onSortingChange && 'cursor-pointer',
                    )}
                    style={{height: HEADER_PX}}
                    onClick={() =>
                      onSortingChange?.(nextSort(sorting, c.name, isNumericType(c.type)))
                    }
                  >
                    <span className="flex items-center gap-1 overflow-hidden">
                      <span className="truncate">
                        <Name name={c.name} />
                      </span>
                      {sorted &&
                        (sorted.desc ? (
                          <ChevronDownIcon className="h-3 w-3 shrink-0" />
                        ) : (
                          <ChevronUpIcon className="h-3 w-3 shrink-0" />
                        ))}
                      <span className="flex-1" />
                      <span
                        className="text-muted-foreground truncate font-normal"
                        data-testid="column-type"
                      >
                        {c.type.toLowerCase()}
                      </span>
                    </span>
                  </th>
                );
              })}
            </tr>
            {columnExtra && (
              <tr>
                <td
                  className="bg-background sticky left-0 z-20 border-r border-b"
                  style={{top: HEADER_PX}}
                />
                {columns.map((c, i) => (
                  <td
                    key={c.name}
                    className="bg-background sticky z-10 border-r border-b px-2 py-1 align-top"
                    style={{top: HEADER_PX}}
                  >
                    {columnExtra(c, i)}
                  </td>
                ))}
              </tr>
            )}
          </thead>
          <tbody>
            {rows.map((row, r) => (
              <tr key={r} className="hover:bg-muted/50">
                <td
                  className={cn(
                    'bg-background text-muted-foreground sticky left-0 cursor-pointer border-r border-b px-1 text-right',
                    range &&
                      range.r0 <= r &&
                      r <= range.r1 &&
                      range.c0 === 0 &&
                      range.c1 === columns.length - 1 &&
                      'bg-muted',
                  )}
                  title="Select row"
                  onMouseDown={(e) => {
                    const extend = e.shiftKey && anchor;
                    setAnchor(extend ? {row: anchor.row, col: 0} : {row: r, col: 0});
                    setFocus({row: r, col: columns.length - 1});
                  }}
                >
                  {offset + r + 1}
                </td>
                {row.map((value, c) => {
                  const numeric = isNumericType(columns[c]?.type ?? '');
                  return (
                    <td
                      key={c}
                      title={value ?? 'NULL'}
                      className={cn(
                        'truncate border-r border-b px-2 py-0.5 whitespace-nowrap',
                        numeric && 'text-right tabular-nums',
                        value === null && 'text-muted-foreground italic',
                        inRange(range, r, c) && 'bg-primary/15',
                      )}
                      onMouseDown={(e) => press({row: r, col: c}, e.shiftKey)}
                      onMouseEnter={() => dragging.current && setFocus({row: r, col: c})}
                    >
                      {shown[r][c]}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="text-muted-foreground flex min-h-8 flex-wrap items-center gap-x-3 gap-y-1 border-t px-2 py-1 text-xs">
        {page && onPageChange && pages > 1 && (
          <Pager page={page} pages={pages} onChange={onPageChange} />
        )}
        {isFetching && (
          <span role="status" className="flex items-center gap-1" data-testid="grid-loading">
            <LoaderCircleIcon size={12} className="animate-spin" />
            Loading
            {page && page !== rowsPage ? ` page ${groupThousands(String(page.pageIndex + 1))}` : ''}
            …
          </span>
        )}
        <span data-testid="row-count">{rowsLabel(total)}</span>
        <Button
          size="xs"
          variant="ghost"
          onClick={copySelection}
          title="Ctrl/Cmd+C copies the selection"
        >
          {range ? 'Copy selection' : 'Copy page'}
        </Button>
        {copied && (
          <span role="status" data-testid="copied">
            {copied}
          </span>
        )}
        {footer}
      </div>
    </div>
  );
}
