import { describe, expect, it } from 'vitest';
import {
  channelsForTables,
  parseTableChange,
  sameChannels,
  tableChannel
} from '../notifications';

describe('table channels', () => {
  it('names the channel after the table', () => {
    expect(tableChannel('trips')).toBe('table:trips');
  });

  it('sorts and de-duplicates channels', () => {
    expect(channelsForTables(['b', 'a', 'b'])).toEqual(['table:a', 'table:b']);
    expect(channelsForTables([])).toEqual([]);
  });

  it('compares channel lists', () => {
    expect(sameChannels(['table:a'], ['table:a'])).toBe(true);
    expect(sameChannels(['table:a'], ['table:b'])).toBe(false);
    expect(sameChannels([], ['table:a'])).toBe(false);
  });
});

describe('parseTableChange', () => {
  it.each(['create', 'replace', 'drop'] as const)('reads op %s', op => {
    expect(parseTableChange({ op })).toEqual({ op });
  });

  it('reads the payload of a server notify frame', () => {
    const frame = JSON.parse(
      '{"type":"notify","channel":"table:trips","payload":{"op":"replace"}}'
    );
    expect(parseTableChange(frame.payload)).toEqual({ op: 'replace' });
  });

  it.each([
    null,
    undefined,
    'replace',
    42,
    [],
    {},
    { op: 5 },
    { op: 'explode' }
  ])('rejects %j', payload => {
    expect(parseTableChange(payload)).toBeNull();
  });
});
