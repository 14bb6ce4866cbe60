/** What the status bar item says about the active kernel's SQLRooms server. */
import { formatCount } from './format';
import type { IKernelServerStatus } from './serverApi';

/**
 * Every SQLRooms app subscribes to this channel exactly once, while it opens
 * three or four sockets (queries, progress, live tables, the schema tree): so
 * its subscribers count the apps, and `connections` counts sockets.
 */
export const APP_CHANNEL = 'catalog';

/** What the item shows: nothing without a kernel, else the server's state. */
export type KernelServerSummary =
  | { readonly kind: 'no-kernel' }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'off' }
  | {
      readonly kind: 'running';
      readonly apps: number;
      readonly connections: number;
    };

export function summarize(
  kernelId: string | null,
  status: IKernelServerStatus | null | undefined
): KernelServerSummary {
  if (!kernelId) {
    return { kind: 'no-kernel' };
  }
  if (status === undefined) {
    return { kind: 'unknown' };
  }
  return status
    ? {
        kind: 'running',
        apps: status.channels?.[APP_CHANNEL] ?? 0,
        connections: status.connections
      }
    : { kind: 'off' };
}

function counted(count: number, noun: string): string {
  return `${formatCount(count)} ${noun}${count === 1 ? '' : 's'}`;
}

export function summaryText(summary: KernelServerSummary): string {
  switch (summary.kind) {
    case 'no-kernel':
      return '';
    case 'unknown':
      return 'SQLRooms: …';
    case 'off':
      return 'SQLRooms: off';
    case 'running':
      // Sockets that are not an app's (a script, a notebook client) are worth a mention
      // only when no app is open: apps open a varying number of sockets each.
      return summary.apps === 0 && summary.connections > 0
        ? `SQLRooms: ${counted(summary.connections, 'client')}`
        : `SQLRooms: ${counted(summary.apps, 'app')}`;
  }
}

export function summaryTitle(summary: KernelServerSummary): string {
  const open = 'Open SQLRooms for this kernel';
  return summary.kind === 'running'
    ? `${open}: ${counted(summary.apps, 'app')} open on its server, ` +
        `${counted(summary.connections, 'WebSocket connection')}`
    : open;
}
