/** What the status bar item says about the active kernel's SQLRooms server. */
import { formatCount } from './format';
import type { IKernelServerStatus } from './serverApi';

/** What the item shows: nothing without a kernel, else the server's state. */
export type KernelServerSummary =
  | { readonly kind: 'no-kernel' }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'off' }
  | { readonly kind: 'running'; readonly connections: number };

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
    ? { kind: 'running', connections: status.connections }
    : { kind: 'off' };
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
      return `SQLRooms: ${formatCount(summary.connections)} ${
        summary.connections === 1 ? 'client' : 'clients'
      }`;
  }
}
