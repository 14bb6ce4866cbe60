import {describe, expect, it} from 'vitest';
import {POINT_SAMPLE_ROWS, chartPlan, needsY} from './chartPlan';

describe('chartPlan', () => {
  it('bins and counts a histogram in the database, with an x brush', () => {
    expect(chartPlan({id: 'c', kind: 'histogram', x: 'fare'})).toEqual({
      mark: 'rectY',
      channels: {x: {field: 'fare', op: 'bin'}, y: {field: '', op: 'count'}},
      brush: 'intervalX',
      sampleRows: null,
    });
  });

  it('sums y per bar, or counts rows without y, and colors by a column', () => {
    expect(chartPlan({id: 'c', kind: 'bar', x: 'vendor', y: 'fare'}).channels.y).toEqual({
      field: 'fare',
      op: 'sum',
    });
    const counted = chartPlan({id: 'c', kind: 'bar', x: 'vendor', color: 'kind'});
    expect(counted.channels.y.op).toBe('count');
    expect(counted.channels.fill).toEqual({field: 'kind'});
  });

  it('averages y per x on a line', () => {
    expect(chartPlan({id: 'c', kind: 'line', x: 'day', y: 'fare'}).channels.y.op).toBe('avg');
  });

  it('bins both axes of a heatmap and samples points', () => {
    const heat = chartPlan({id: 'c', kind: 'heatmap', x: 'a', y: 'b'});
    expect([heat.channels.x.op, heat.channels.y.op, heat.channels.fill.op]).toEqual([
      'bin',
      'bin',
      'count',
    ]);
    expect(chartPlan({id: 'c', kind: 'point', x: 'a', y: 'b'}).sampleRows).toBe(POINT_SAMPLE_ROWS);
    expect(needsY('heatmap') && needsY('point') && !needsY('bar')).toBe(true);
  });
});
