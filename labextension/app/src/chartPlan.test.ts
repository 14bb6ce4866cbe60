import {describe, expect, it} from 'vitest';
import {POINT_SAMPLE_ROWS, chartPlan, needsY, shortNumber} from './chartPlan';

describe('chartPlan', () => {
  it('bins and counts a histogram in the database, with an x brush', () => {
    expect(chartPlan({id: 'c', kind: 'histogram', x: 'fare'})).toEqual({
      mark: 'rectY',
      channels: {x: {field: 'fare', op: 'bin'}, y: {field: '', op: 'count'}},
      brush: 'intervalX',
      sampleRows: null,
      xLabel: 'fare',
      yLabel: 'count',
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

  it('bins a time column on a line, not a number', () => {
    const isTime = (c: string) => c === 'pickup';
    const line = chartPlan({id: 'c', kind: 'line', x: 'pickup', y: 'fare'}, () => false, isTime);
    expect(line.channels.x).toEqual({field: 'pickup', op: 'bin'});
    const byNumber = chartPlan({id: 'c', kind: 'line', x: 'year'}, () => false, isTime);
    expect(byNumber.channels.x).toEqual({field: 'year'});
    const bars = chartPlan({id: 'c', kind: 'bar', x: 'pickup'}, () => false, isTime);
    expect(bars.channels.x).toEqual({field: 'pickup'});
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

  it('labels NULL in text categories and titles the y axis', () => {
    const plan = chartPlan(
      {id: 'c', kind: 'bar', x: 'city', y: 'fare', color: 'kind'},
      (c) => c !== 'fare',
    );
    expect(plan.channels.x).toEqual({field: 'city', op: 'label'});
    expect(plan.channels.fill).toEqual({field: 'kind', op: 'label'});
    expect(plan.channels.y).toEqual({field: 'fare', op: 'sum'});
    expect(plan.yLabel).toBe('sum of fare');
    expect(chartPlan({id: 'c', kind: 'bar', x: 'year'}).channels.x).toEqual({field: 'year'});
  });
});

describe('shortNumber', () => {
  it('keeps y ticks short', () => {
    expect(shortNumber(20000)).toBe('20k');
    expect(shortNumber(12500)).toBe('12.5k');
    expect(shortNumber(1500000)).toBe('1.5M');
    expect(shortNumber(9999)).toBe('9,999');
    expect(shortNumber(0.125)).toBe('0.125');
    expect(shortNumber(-2e9)).toBe('-2B');
    expect(shortNumber('x')).toBe('x');
  });
});
