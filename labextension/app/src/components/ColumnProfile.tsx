/** A column's profile in the grid header: bars to click (a filter), NULL count, a note. */
import {cn} from '@sqlrooms/ui';
import type * as arrow from 'apache-arrow';
import {useEffect, useState} from 'react';
import {useApp} from '../appContext';
import {visibleName} from '../names';
import type {GridColumn} from '../format';
import {
  type Filter,
  filteredSql,
  histogramProfile,
  histogramQuery,
  type Profile,
  profileKind,
  topValuesProfile,
  topValuesQuery,
} from '../profiles';

type Props = {
  sql: string;
  column: GridColumn;
  filters: Filter[];
  onFilter: (filter: Filter | null) => void;
  /** Computed at once; otherwise on a click (see AUTO_PROFILED_COLUMNS). */
  eager?: boolean;
};

function rowsOf(table: arrow.Table): Record<string, unknown>[] {
  return Array.from({length: table.numRows}, (_, i) => table.get(i)?.toJSON() ?? {});
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export function ColumnProfile({sql, column, filters, onFilter, eager = true}: Props) {
  const {store} = useApp();
  const [asked, setAsked] = useState(eager);
  const [profile, setProfile] = useState<Profile | null>(null);
  const [failed, setFailed] = useState(false);
  const kind = profileKind(column.type);
  const source = filteredSql(sql, filters, column.name);
  const active = filters.find((f) => f.column === column.name);
  // The picked value stays in its own profile even when other filters push it out of the top.
  const keep = active?.value;
  useEffect(() => {
    if (!asked) return;
    let live = true;
    const query =
      kind === 'histogram'
        ? histogramQuery(source, column.name, column.type)
        : topValuesQuery(source, column.name, keep);
    store.connector.query(query).then(
      (table) => {
        if (!live) return;
        const rows = rowsOf(table);
        setProfile(
          kind === 'histogram'
            ? histogramProfile(
                rows.map((r) => ({bin: num(r.bin), n: Number(r.n), lo: num(r.lo), hi: num(r.hi)})),
                column.name,
                column.type,
              )
            : topValuesProfile(
                rows.map((r) => ({
                  v: r.v === null ? null : String(r.v),
                  n: Number(r.n),
                  distinct: Number(r.distinct_n),
                  total: Number(r.total),
                  nulls: Number(r.nulls),
                })),
                column.name,
              ),
        );
      },
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [asked, store, source, kind, column.name, column.type, keep]);

  if (!asked) {
    return (
      <button
        type="button"
        className="text-muted-foreground hover:bg-muted h-9 w-full rounded text-[10px]"
        aria-label={`Profile ${visibleName(column.name)}`}
        onClick={(e) => {
          e.stopPropagation();
          setAsked(true);
        }}
      >
        Profile
      </button>
    );
  }
  if (failed) return null;
  if (!profile) return <div className="bg-muted h-9 animate-pulse rounded" />;
  const picked = profile.bars.find((b) => active?.label === b.filter.label);
  const headline = kind === 'top' ? (picked ?? profile.bars[0]) : undefined;
  const max = Math.max(1, ...profile.bars.map((b) => b.n));
  const total = Math.max(1, profile.total);
  return (
    <div
      className="flex flex-col gap-0.5 font-normal"
      data-testid="column-profile"
      onClick={(e) => e.stopPropagation()}
    >
      {kind === 'histogram' ? (
        <div
          className="flex h-7 items-end gap-px"
          role="group"
          aria-label={`${column.name} histogram`}
        >
          {profile.bars.map((b) => (
            <button
              type="button"
              key={b.label}
              title={`${b.label}: ${b.n.toLocaleString('en-US')}`}
              aria-label={`${b.label}: ${b.n}`}
              className={cn(
                'min-w-px flex-1 rounded-t-sm',
                active?.label === b.filter.label
                  ? 'bg-sky-600'
                  : 'bg-sky-500/45 hover:bg-sky-500/80',
              )}
              style={{height: `${b.n ? Math.max(6, (b.n / max) * 100) : 2}%`}}
              onClick={() => onFilter(active?.label === b.filter.label ? null : b.filter)}
            />
          ))}
        </div>
      ) : (
        <div
          className="flex h-7 flex-col gap-px"
          role="group"
          aria-label={`${column.name} top values`}
        >
          {profile.bars.map((b) => (
            <button
              type="button"
              key={b.label}
              title={`${b.label}: ${b.n.toLocaleString('en-US')}`}
              aria-pressed={b === picked}
              aria-label={`${b.label}: ${b.n}`}
              className={cn(
                'relative h-2 w-full overflow-hidden rounded-sm text-left',
                b === picked
                  ? 'bg-amber-400/30 ring-1 ring-amber-500'
                  : 'bg-muted hover:bg-sky-500/20',
              )}
              onClick={() => onFilter(active?.label === b.filter.label ? null : b.filter)}
            >
              <span
                className={cn(
                  'absolute inset-y-0 left-0',
                  b === picked
                    ? 'bg-amber-500'
                    : b.label === 'NULL'
                      ? 'bg-muted-foreground/50'
                      : 'bg-sky-500/70',
                )}
                style={{width: `${(b.n / total) * 100}%`}}
              />
            </button>
          ))}
        </div>
      )}
      <div className="text-muted-foreground flex justify-between gap-1 overflow-hidden text-[10px] leading-3 whitespace-nowrap">
        <span
          className={cn('min-w-0 truncate', picked && headline === picked && 'text-foreground')}
          data-testid="profile-headline"
        >
          {headline
            ? `${headline === picked ? '= ' : ''}${headline.label} ${Math.round((headline.n / total) * 100)}%`
            : profile.bars.length === 1
              ? profile.bars[0].label
              : profile.bars.length
                ? `${profile.bars[0].label.split(' – ')[0]} – ${profile.bars[profile.bars.length - 1].label.split(' – ').pop()}`
                : ''}
        </span>
        {profile.note && (
          <span className="shrink-0" title={`Shown: the top ${profile.bars.length} values`}>
            {profile.note.replace(/ \(.*/, '')}
          </span>
        )}
        <span data-testid="null-count" className="shrink-0">
          {profile.nulls ? `${profile.nulls.toLocaleString('en-US')} null` : ''}
        </span>
      </div>
    </div>
  );
}
