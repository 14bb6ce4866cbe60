/**
 * Live refresh: a second socket subscribed to `table:<name>` for the tables on screen, and a
 * third to `catalog` (every share and unshare) for the schema tree. The official connector
 * subscribes only when its socket opens, so a new set of tables means a new watcher; queries
 * keep their own socket, untouched.
 */
import {createWebSocketDuckDbConnector} from '@sqlrooms/duckdb';
import {useEffect, useRef} from 'react';

export function tableChannels(names: Iterable<string>): string[] {
  return [...new Set([...names].map((n) => `table:${n}`))].sort();
}

export function isTableChange(payload: unknown): boolean {
  const op = (payload as {op?: unknown} | null)?.op;
  return op === 'create' || op === 'replace' || op === 'drop';
}

export const CATALOG_CHANNEL = 'catalog';

export function useTableWatcher(wsUrl: string, names: string[], onChange: () => void): void {
  useChannelWatcher(wsUrl, tableChannels(names), onChange);
}

/**
 * Calls `onChange` when a table is created, replaced or dropped on any of `channels`; with
 * `catchUp`, also once subscribed, for changes made before the subscription.
 */
export function useChannelWatcher(
  wsUrl: string,
  channels: string[],
  onChange: () => void,
  {catchUp = false}: {catchUp?: boolean} = {},
): void {
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;
  const key = channels.join('\n');
  useEffect(() => {
    if (!key) return;
    const watcher = createWebSocketDuckDbConnector({
      wsUrl,
      subscribeChannels: key.split('\n'),
      onNotification: (payload) => {
        if (isTableChange(payload)) onChangeRef.current();
      },
    });
    watcher
      .initialize()
      .then(() => catchUp && onChangeRef.current())
      .catch(() => undefined);
    return () => {
      watcher.destroy().catch(() => undefined);
    };
  }, [wsUrl, key, catchUp]);
}
