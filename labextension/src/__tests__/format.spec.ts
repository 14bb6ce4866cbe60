import { describe, expect, it } from 'vitest';
import { formatCount, formatDuration } from '../format';
import { summarize, summaryText, summaryTitle } from '../statusSummary';
import type { IKernelServerStatus } from '../serverApi';

describe('formatDuration', () => {
  it.each([
    [0, '0 ms'],
    [42.4, '42 ms'],
    [1530, '1.53 s'],
    [12_345, '12.3 s'],
    [95_000, '1 min 35 s']
  ])('%d ms reads %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('formatCount', () => {
  it('groups thousands', () => {
    expect(formatCount(1234567)).toBe('1,234,567');
  });
});

describe('status bar summary', () => {
  const status = { connections: 2 } as IKernelServerStatus;

  it('says nothing without a kernel', () => {
    expect(summaryText(summarize(null, status))).toBe('');
  });

  it('says the server is off, running, or not known yet', () => {
    expect(summaryText(summarize('k', null))).toBe('SQLRooms: off');
    expect(summaryText(summarize('k', status))).toBe('SQLRooms: 2 clients');
    expect(
      summaryText(summarize('k', { connections: 1 } as IKernelServerStatus))
    ).toBe('SQLRooms: 1 client');
    expect(summaryText(summarize('k', undefined))).toBe('SQLRooms: …');
  });

  it('counts apps, not their sockets', () => {
    // One app open: four sockets, one subscription to the catalog channel.
    const oneApp = {
      connections: 4,
      channels: { catalog: 1, 'table:trips': 1 }
    } as unknown as IKernelServerStatus;
    expect(summaryText(summarize('k', oneApp))).toBe('SQLRooms: 1 app');
    expect(summaryTitle(summarize('k', oneApp))).toContain(
      '4 WebSocket connections'
    );
    const twoApps = {
      connections: 7,
      channels: { catalog: 2 }
    } as unknown as IKernelServerStatus;
    expect(summaryText(summarize('k', twoApps))).toBe('SQLRooms: 2 apps');
  });
});
