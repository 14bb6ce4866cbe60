/**
 * What a chart config asks Mosaic for. Every mark but `point` is aggregated in DuckDB (GROUP BY
 * over the whole result); `point` plots a bounded sample.
 */
import type {ChartConfig} from './workspace';

/** `label`: a text column as itself, NULL as the word `NULL` (Plot would drop or blank it). */
export type Channel = {field: string; op?: 'count' | 'sum' | 'avg' | 'bin' | 'label'};
export type MarkName = 'barY' | 'lineY' | 'dot' | 'rectY' | 'rect';

export type ChartPlan = {
  mark: MarkName;
  channels: Record<string, Channel>;
  brush: 'intervalX' | 'intervalXY' | null;
  sampleRows: number | null;
  xLabel?: string;
  yLabel?: string;
};

export const POINT_SAMPLE_ROWS = 20_000;

/** A chart needs `y` for these kinds. */
export function needsY(kind: ChartConfig['kind']): boolean {
  return kind === 'point' || kind === 'heatmap';
}

/** The y axis title: what the marks measure. */
export function yTitle(c: ChartConfig): string {
  if (c.kind === 'histogram' || (!c.y && c.kind !== 'point' && c.kind !== 'heatmap'))
    return 'count';
  if (c.kind === 'bar') return `sum of ${c.y}`;
  if (c.kind === 'line') return `avg of ${c.y}`;
  return c.y ?? c.x;
}

/**
 * The plan with axis titles, and text columns (`isText`) labelled so NULL shows as `NULL`. A
 * line over a time column (`isTime`) bins x into date_trunc-like steps chosen from its range:
 * one point per distinct timestamp would draw a million-row column as a solid block.
 */
export function chartPlan(
  c: ChartConfig,
  isText: (column: string) => boolean = () => false,
  isTime: (column: string) => boolean = () => false,
): ChartPlan {
  const base = basePlan(c);
  const plan =
    base.mark === 'lineY' && isTime(c.x)
      ? {...base, channels: {...base.channels, x: {field: c.x, op: 'bin' as const}}}
      : base;
  const channels = Object.fromEntries(
    Object.entries(plan.channels).map(([name, ch]) => {
      const categorical =
        name === 'fill' || name === 'stroke' || (name === 'x' && plan.mark === 'barY');
      return [name, categorical && !ch.op && isText(ch.field) ? {...ch, op: 'label' as const} : ch];
    }),
  );
  return {...plan, channels, xLabel: c.x, yLabel: yTitle(c)};
}

function basePlan(c: ChartConfig): ChartPlan {
  const color = c.color ? {field: c.color} : undefined;
  const yOrCount: Channel = c.y ? {field: c.y, op: 'sum'} : {field: '', op: 'count'};
  switch (c.kind) {
    case 'bar':
      return {
        mark: 'barY',
        channels: {x: {field: c.x}, y: yOrCount, ...(color && {fill: color})},
        brush: null,
        sampleRows: null,
      };
    case 'line':
      return {
        mark: 'lineY',
        channels: {
          x: {field: c.x},
          y: c.y ? {field: c.y, op: 'avg'} : {field: '', op: 'count'},
          ...(color && {stroke: color}),
        },
        brush: 'intervalX',
        sampleRows: null,
      };
    case 'histogram':
      return {
        mark: 'rectY',
        channels: {
          x: {field: c.x, op: 'bin'},
          y: {field: '', op: 'count'},
          ...(color && {fill: color}),
        },
        brush: 'intervalX',
        sampleRows: null,
      };
    case 'heatmap':
      return {
        mark: 'rect',
        channels: {
          x: {field: c.x, op: 'bin'},
          y: {field: c.y ?? c.x, op: 'bin'},
          fill: {field: '', op: 'count'},
        },
        brush: 'intervalXY',
        sampleRows: null,
      };
    case 'point':
      return {
        mark: 'dot',
        channels: {x: {field: c.x}, y: {field: c.y ?? c.x}, ...(color && {fill: color})},
        brush: 'intervalXY',
        sampleRows: POINT_SAMPLE_ROWS,
      };
  }
}

/** Y tick labels at most six characters wide (12k, 1.5M), so the axis title clears them. */
export function shortNumber(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  for (const [from, size, suffix] of [
    [1e12, 1e12, 'T'],
    [1e9, 1e9, 'B'],
    [1e6, 1e6, 'M'],
    [1e4, 1e3, 'k'],
  ] as const) {
    if (abs >= from) return `${Number((value / size).toPrecision(3))}${suffix}`;
  }
  return value.toLocaleString('en-US', {maximumFractionDigits: abs < 1 ? 3 : 1});
}

/** Whether y is a measure (count, sum, avg): then its ticks are numbers to shorten. */
export function yIsMeasure(plan: ChartPlan): boolean {
  const op = plan.channels.y?.op;
  return op === 'count' || op === 'sum' || op === 'avg';
}
