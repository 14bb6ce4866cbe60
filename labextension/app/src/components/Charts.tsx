/**
 * Charts of a query with Mosaic vgplot. Mosaic sends its own aggregate queries (GROUP BY, bins)
 * to DuckDB over the result as a subquery, so a chart of 10M rows ships only the bins. One brush
 * selection per tab cross-filters its charts.
 */
import {Selection, vg} from '@sqlrooms/mosaic';
import {VgPlotChart} from '@sqlrooms/mosaic';
import {Button} from '@sqlrooms/ui';
import {verbatim} from '@uwdata/mosaic-sql';
import {useEffect, useMemo, useState} from 'react';
import {useApp, useAppState} from '../appContext';
import {type Channel, chartPlan, needsY} from '../chartPlan';
import type {Run} from '../runs';
import {CHART_KINDS, type ChartConfig, type ChartKind, newId} from '../workspace';

type Props = {run: Run | undefined; charts: ChartConfig[]; onChange: (c: ChartConfig[]) => void};

function useColumns(run: Run | undefined): string[] {
  const {store} = useApp();
  const [columns, setColumns] = useState<string[]>([]);
  useEffect(() => {
    if (!run?.pageable) return setColumns([]);
    let live = true;
    store.connector.query(`SELECT * FROM (${run.sql}) LIMIT 0`).then(
      (t) => live && setColumns(t.schema.fields.map((f) => f.name)),
      () => live && setColumns([]),
    );
    return () => {
      live = false;
    };
  }, [run?.sql, run?.version, run?.pageable, store]);
  return columns;
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
    default:
      return c.field;
  }
}

const FILLED = new Set(['barY', 'rectY', 'dot']);

function buildPlot(sql: string, config: ChartConfig, brush: Selection): HTMLElement {
  const plan = chartPlan(config);
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
    vg.xLabel(config.x),
    vg.width(560),
    vg.height(260),
    vg.marginLeft(60),
  ) as HTMLElement;
}

function ChartView({sql, config, brush}: {sql: string; config: ChartConfig; brush: Selection}) {
  const ready = useAppState((s) => s.mosaic.connection.status === 'ready');
  const [plot, setPlot] = useState<HTMLElement | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!ready) return;
    try {
      setPlot(buildPlot(sql, config, brush));
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, [ready, sql, config, brush]);
  if (error) return <pre className="text-xs text-red-500">{error}</pre>;
  return plot ? <VgPlotChart plot={plot} /> : <div className="text-xs">Loading chart…</div>;
}

function Picker(props: {
  label: string;
  value: string;
  options: readonly string[];
  onChange: (v: string) => void;
  optional?: boolean;
}) {
  return (
    <label className="flex items-center gap-1 text-xs">
      {props.label}
      <select
        aria-label={`chart ${props.label}`}
        className="bg-background rounded border px-1 py-0.5"
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
      >
        {props.optional && <option value="">—</option>}
        {props.options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
}

export function Charts({run, charts, onChange}: Props) {
  const columns = useColumns(run);
  const brush = useMemo(() => Selection.crossfilter(), [run?.sql, run?.version]);
  const [kind, setKind] = useState<ChartKind>('histogram');
  const [x, setX] = useState('');
  const [y, setY] = useState('');
  const [color, setColor] = useState('');
  if (!run?.pageable) {
    return <div className="text-muted-foreground p-4 text-xs">Run a query to chart it.</div>;
  }
  const xValue = columns.includes(x) ? x : (columns[0] ?? '');
  const add = () => {
    const config: ChartConfig = {id: newId('chart'), kind, x: xValue};
    if (y || needsY(kind)) config.y = y || columns[1] || xValue;
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
        <Picker label="x" value={xValue} options={columns} onChange={setX} />
        <Picker label="y" value={y} options={columns} onChange={setY} optional />
        <Picker label="color" value={color} options={columns} onChange={setColor} optional />
        <Button size="xs" onClick={add} disabled={!xValue}>
          Add chart
        </Button>
        {charts.length > 0 && (
          <Button size="xs" variant="outline" onClick={() => brush.reset()}>
            Clear brush
          </Button>
        )}
      </div>
      {charts.map((c) => (
        <figure key={c.id} className="rounded border p-2" data-testid="chart">
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
              onClick={() => onChange(charts.filter((o) => o.id !== c.id))}
            >
              ✕
            </Button>
          </figcaption>
          <ChartView sql={run.sql} config={c} brush={brush} />
        </figure>
      ))}
    </div>
  );
}
