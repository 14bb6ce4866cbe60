/**
 * Charts of a query with Mosaic vgplot. Mosaic sends its own aggregate queries (GROUP BY, bins)
 * to DuckDB over the result as a subquery, so a chart of 10M rows ships only the bins. One brush
 * selection per tab cross-filters its charts.
 */
import {Selection, vg} from '@sqlrooms/mosaic';
import {VgPlotChart} from '@sqlrooms/mosaic';
import {Button, Select, SelectContent, SelectItem, SelectTrigger, SelectValue} from '@sqlrooms/ui';
import {verbatim} from '@uwdata/mosaic-sql';
import {DataType} from 'apache-arrow';
import {useEffect, useMemo, useRef, useState} from 'react';
import {useApp, useAppState} from '../appContext';
import {type Channel, chartPlan, needsY, shortNumber, yIsMeasure} from '../chartPlan';
import type {Run} from '../runs';
import {CHART_KINDS, type ChartConfig, type ChartKind, newId} from '../workspace';

type Props = {
  run: Run | undefined;
  charts: ChartConfig[];
  onChange: (c: ChartConfig[]) => void;
  /** Runs the tab's visible SQL as Ctrl+Enter would; absent when it is not one query. */
  onRunTab?: () => void;
};

type Columns = {names: string[]; text: Set<string>; time: Set<string>};

const NO_COLUMNS: Columns = {names: [], text: new Set(), time: new Set()};

/** The columns of `sql`'s result, which hold text (their NULLs get a `NULL` label) and which
 * time (a line bins them). */
function useColumns(sql: string | null, version: unknown): Columns {
  const {store} = useApp();
  const [columns, setColumns] = useState<Columns>(NO_COLUMNS);
  useEffect(() => {
    if (!sql) return setColumns(NO_COLUMNS);
    let live = true;
    store.connector.query(`SELECT * FROM (${sql}) LIMIT 0`).then(
      (t) =>
        live &&
        setColumns({
          names: t.schema.fields.map((f) => f.name),
          text: new Set(
            t.schema.fields
              .filter((f) => DataType.isUtf8(f.type) || DataType.isDictionary(f.type))
              .map((f) => f.name),
          ),
          time: new Set(
            t.schema.fields
              .filter((f) => DataType.isTimestamp(f.type) || DataType.isDate(f.type))
              .map((f) => f.name),
          ),
        }),
      () => live && setColumns(NO_COLUMNS),
    );
    return () => {
      live = false;
    };
  }, [sql, version, store]);
  return columns;
}

function quoted(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function channelValue(c: Channel) {
  switch (c.op) {
    case 'count':
      return vg.count();
    case 'sum':
      return vg.sum(c.field);
    case 'avg':
      return vg.avg(c.field);
    case 'bin':
      return vg.bin(c.field);
    case 'label':
      return verbatim(`coalesce(CAST(${quoted(c.field)} AS VARCHAR), 'NULL')`);
    default:
      return c.field;
  }
}

const FILLED = new Set(['barY', 'rectY', 'dot']);

type PlotInput = {sql: string; config: ChartConfig; brush: Selection; columns: Columns};

/** What vgplot's element carries: its Plot, whose marks are the Mosaic clients. */
type PlotHandle = {
  marks: {
    data?: {numRows?: number};
    pending: Promise<unknown>;
    destroy: () => void;
    queryError: (e: Error) => unknown;
  }[];
  setAttribute: (name: string, value: unknown) => boolean;
  render: () => Promise<void>;
};

function plotOf(element: HTMLElement): PlotHandle {
  return (element as HTMLElement & {value: PlotHandle}).value;
}

function buildPlot({sql, config, brush, columns}: PlotInput, width: number): HTMLElement {
  const plan = chartPlan(
    config,
    (c) => columns.text.has(c),
    (c) => columns.time.has(c),
  );
  const body = plan.sampleRows
    ? `SELECT * FROM (${sql}) USING SAMPLE ${plan.sampleRows} ROWS`
    : sql;
  const source = vg.from(verbatim(`(${body})`), {filterBy: brush});
  const channels = Object.fromEntries(
    Object.entries(plan.channels).map(([name, channel]) => [name, channelValue(channel)]),
  );
  const mark = (vg as unknown as Record<string, (...a: unknown[]) => unknown>)[plan.mark];
  const interactors = plan.brush
    ? [(vg as unknown as Record<string, (o: unknown) => unknown>)[plan.brush]({as: brush})]
    : [];
  return vg.plot(
    mark(source, {...channels, ...(FILLED.has(plan.mark) && {fill: channels.fill ?? 'steelblue'})}),
    ...interactors,
    // Axis titles centred under / beside their axis, inside the chart's margins.
    vg.xLabel(plan.xLabel ?? config.x),
    vg.yLabel(plan.yLabel ?? null),
    vg.xLabelAnchor('center'),
    vg.yLabelAnchor('center'),
    vg.xLabelOffset(34),
    vg.yLabelOffset(46),
    ...(yIsMeasure(plan) ? [vg.yTickFormat(shortNumber)] : []),
    vg.marginLeft(60),
    vg.marginBottom(44),
    vg.marginRight(16),
    vg.width(width),
    vg.height(260),
  ) as HTMLElement;
}

/** The width of `element`'s box, following its resizes (rounded to 10 px to redraw less). */
function useWidth(element: React.RefObject<HTMLElement | null>): number {
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const el = element.current;
    if (!el) return;
    const observer = new ResizeObserver(([entry]) =>
      setWidth(Math.floor(entry.contentRect.width / 10) * 10),
    );
    observer.observe(el);
    return () => observer.disconnect();
  }, [element]);
  return width;
}

type Drawn = 'loading' | 'drawn' | 'empty';

/**
 * One chart. Its plot (and its Mosaic clients) is built once per query, config and brush, and
 * destroyed when replaced: a resize only redraws it at the new width from the data it has. A
 * plot rebuilt on every width step left the card empty until its queries came back, and every
 * superseded plot stayed connected, querying on each brush. A failed query shows its error and
 * an empty result says so, where the card used to stay a bare caption.
 */
function ChartView(input: PlotInput) {
  const {sql, config, brush, columns} = input;
  const ready = useAppState((s) => s.mosaic.connection.status === 'ready');
  const box = useRef<HTMLDivElement>(null);
  const width = useWidth(box);
  const hasWidth = width >= 100;
  const widthRef = useRef(width);
  widthRef.current = width;
  const [plot, setPlot] = useState<HTMLElement | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [drawn, setDrawn] = useState<Drawn>('loading');
  useEffect(() => {
    if (!ready || !hasWidth) return;
    let element: HTMLElement;
    try {
      element = buildPlot({sql, config, brush, columns}, widthRef.current);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      return;
    }
    const handle = plotOf(element);
    let live = true;
    const failed = (e: unknown) => live && setError(e instanceof Error ? e.message : String(e));
    for (const m of handle.marks) {
      const original = m.queryError.bind(m);
      m.queryError = (e: Error) => {
        failed(e);
        return original(e);
      };
      m.pending.catch(failed); // its field-info queries failed
    }
    const seen = () => {
      if (!live || !element.querySelector('svg')) return;
      setError(null);
      setDrawn(handle.marks.some((m) => (m.data?.numRows ?? 1) > 0) ? 'drawn' : 'empty');
    };
    const watcher = new MutationObserver(seen);
    watcher.observe(element, {childList: true});
    setError(null);
    setDrawn('loading');
    setPlot(element);
    return () => {
      live = false;
      watcher.disconnect();
      for (const m of handle.marks) m.destroy();
    };
  }, [ready, hasWidth, sql, config, brush, columns]);
  useEffect(() => {
    if (!plot || !hasWidth) return;
    const handle = plotOf(plot);
    // Before its first drawing the pending render reads the new width itself.
    if (handle.setAttribute('width', width) && plot.querySelector('svg')) void handle.render();
  }, [plot, width, hasWidth]);
  return (
    <div ref={box} className="w-full min-w-0 overflow-hidden" data-testid="chart-body">
      {error ? (
        <pre className="text-xs whitespace-pre-wrap text-red-500" data-testid="chart-error">
          {error}
        </pre>
      ) : drawn === 'empty' ? (
        <div className="text-muted-foreground text-xs" data-testid="chart-empty">
          No rows to chart.
        </div>
      ) : drawn === 'loading' ? (
        <div className="text-xs">Loading chart…</div>
      ) : null}
      {plot && !error && (
        <div className={drawn === 'empty' ? 'hidden' : undefined}>
          <VgPlotChart plot={plot} />
        </div>
      )}
    </div>
  );
}

const NONE = '__none__';

function Picker(props: {
  label: string;
  value: string;
  options: readonly string[];
  onChange: (v: string) => void;
  optional?: boolean;
}) {
  return (
    <label className="flex items-center gap-1 text-xs">
      <span className="text-muted-foreground">{props.label}</span>
      <Select
        value={props.value || NONE}
        onValueChange={(v) => props.onChange(v === NONE ? '' : v)}
      >
        <SelectTrigger
          aria-label={`chart ${props.label}`}
          title={`chart ${props.label}`}
          className="h-7 max-w-40 min-w-20 px-2 text-xs"
        >
          <SelectValue />
        </SelectTrigger>
        <SelectContent>
          {props.optional && (
            <SelectItem value={NONE} className="text-xs">
              —
            </SelectItem>
          )}
          {props.options.map((o) => (
            <SelectItem key={o} value={o} className="text-xs">
              {o}
            </SelectItem>
          ))}
        </SelectContent>
      </Select>
    </label>
  );
}

/** The new-chart picks, kept while the Charts view is closed (switching views remounts it). */
let lastPick: {kind: ChartKind; x: string; y: string; color: string} = {
  kind: 'histogram',
  x: '',
  y: '',
  color: '',
};

/** Whether `brush` selects anything (a "Clear brush" with nothing brushed only puzzles). */
function useBrushed(brush: Selection): boolean {
  const [brushed, setBrushed] = useState(false);
  useEffect(() => {
    const update = () =>
      setBrushed(brush.clauses.some((c) => c.predicate !== null && c.predicate !== undefined));
    update();
    brush.addEventListener('value', update);
    return () => brush.removeEventListener('value', update);
  }, [brush]);
  return brushed;
}

export function Charts({run, charts, onChange, onRunTab}: Props) {
  // Charts draw only from a query the user ran in this tab: saved state never runs SQL.
  const sql = run?.pageable ? run.sql : null;
  const columns = useColumns(sql, run?.version);
  const brush = useMemo(() => Selection.crossfilter(), [sql, run?.version]);
  const [pick, setPick] = useState(lastPick);
  const {kind, x, y, color} = pick;
  const choose = (change: Partial<typeof lastPick>) =>
    setPick((p) => (lastPick = {...p, ...change}));
  const setKind = (kind: ChartKind) => choose({kind});
  const setX = (x: string) => choose({x});
  const setY = (y: string) => choose({y});
  const setColor = (color: string) => choose({color});
  const brushed = useBrushed(brush);
  if (!sql) {
    if (charts.length === 0 || run) {
      return <div className="text-muted-foreground p-4 text-xs">Run a query to chart it.</div>;
    }
    const n = `${charts.length} chart${charts.length === 1 ? '' : 's'}`;
    return (
      <div className="text-muted-foreground flex flex-col items-start gap-2 p-4 text-xs">
        {onRunTab ? (
          <Button size="xs" onClick={onRunTab}>
            Run this tab&apos;s query to draw {n}
          </Button>
        ) : (
          <span>Run this tab&apos;s query (Ctrl/Cmd+Enter) to draw {n}.</span>
        )}
      </div>
    );
  }
  const names = columns.names;
  const xValue = names.includes(x) ? x : (names[0] ?? '');
  const add = () => {
    const config: ChartConfig = {id: newId('chart'), kind, x: xValue};
    if (y || needsY(kind)) config.y = y || names[1] || xValue;
    if (color) config.color = color;
    onChange([...charts, config]);
  };
  return (
    <div className="flex h-full flex-col gap-2 overflow-auto p-2">
      <div className="flex flex-wrap items-center gap-2" role="group" aria-label="New chart">
        <Picker
          label="type"
          value={kind}
          options={CHART_KINDS}
          onChange={(v) => setKind(v as ChartKind)}
        />
        <Picker label="x" value={xValue} options={names} onChange={setX} />
        <Picker label="y" value={y} options={names} onChange={setY} optional />
        <Picker label="color" value={color} options={names} onChange={setColor} optional />
        <Button size="xs" onClick={add} disabled={!xValue}>
          Add chart
        </Button>
        {brushed && (
          <Button size="xs" variant="outline" onClick={() => brush.reset()}>
            Clear brush
          </Button>
        )}
      </div>
      {charts.map((c) => (
        <figure key={c.id} className="min-w-0 rounded border p-2" data-testid="chart">
          <figcaption className="flex items-center justify-between text-xs">
            <span>
              {c.kind} of {c.x}
              {c.y ? ` × ${c.y}` : ''}
              {c.color ? ` by ${c.color}` : ''}
            </span>
            <Button
              size="xs"
              variant="ghost"
              aria-label="Remove chart"
              title="Remove chart"
              onClick={() => onChange(charts.filter((o) => o.id !== c.id))}
            >
              ✕
            </Button>
          </figcaption>
          <ChartView sql={sql} config={c} brush={brush} columns={columns} />
        </figure>
      ))}
    </div>
  );
}
