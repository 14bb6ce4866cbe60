/**
 * What a chart config asks Mosaic for. Every mark but `point` is aggregated in DuckDB (GROUP BY
 * over the whole result); `point` plots a bounded sample.
 */
import type {ChartConfig} from './workspace';

export type Channel = {field: string; op?: 'count' | 'sum' | 'avg' | 'bin'};
export type MarkName = 'barY' | 'lineY' | 'dot' | 'rectY' | 'rect';

export type ChartPlan = {
  mark: MarkName;
  channels: Record<string, Channel>;
  brush: 'intervalX' | 'intervalXY' | null;
  sampleRows: number | null;
};

export const POINT_SAMPLE_ROWS = 20_000;

/** A chart needs `y` for these kinds. */
export function needsY(kind: ChartConfig['kind']): boolean {
  return kind === 'point' || kind === 'heatmap';
}

export function chartPlan(c: ChartConfig): ChartPlan {
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
