/**
 * The SQLRooms app framed in the panel: its address, and the postMessage bridge
 * (theme and saved state to the app; "insert into notebook" and state changes
 * from it). Pure functions, tested without a browser.
 */

export type AppTheme = 'light' | 'dark';

/** `{base_url}sqlrooms/app/?kernel=<id>&theme=…`: served by the server extension. */
export function appUrl(
  baseUrl: string,
  kernelId: string,
  theme: AppTheme
): string {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const query = new URLSearchParams({ kernel: kernelId, theme });
  return `${base}sqlrooms/app/?${query.toString()}`;
}

/** Panel → app. */
export function themeMessage(theme: AppTheme): Record<string, string> {
  return { source: 'sqlrooms-jupyter', type: 'theme', theme };
}

/**
 * Panel → app, answering `ready`: the workspace saved in the notebook's
 * metadata (null if none), and whether there is a notebook to keep it in.
 */
export function stateMessage(
  state: unknown,
  persistent: boolean
): Record<string, unknown> {
  return { source: 'sqlrooms-jupyter', type: 'state', state, persistent };
}

/** App → panel. */
export type AppMessage =
  | { type: 'ready' }
  | { type: 'insert-cell'; code: string }
  | { type: 'state-changed'; state: object };

export function appMessage(data: unknown): AppMessage | null {
  if (!data || typeof data !== 'object') {
    return null;
  }
  const message = data as Record<string, unknown>;
  if (message.source !== 'sqlrooms-app') {
    return null;
  }
  if (message.type === 'ready') {
    return { type: 'ready' };
  }
  const code = insertedCell(data);
  if (code !== null) {
    return { type: 'insert-cell', code };
  }
  if (
    message.type === 'state-changed' &&
    message.state &&
    typeof message.state === 'object'
  ) {
    return { type: 'state-changed', state: message.state };
  }
  return null;
}

/** App → panel: a cell to insert below the notebook's active cell. */
export function insertedCell(data: unknown): string | null {
  if (!data || typeof data !== 'object') {
    return null;
  }
  const message = data as Record<string, unknown>;
  return message.source === 'sqlrooms-app' &&
    message.type === 'insert-cell' &&
    typeof message.code === 'string'
    ? message.code
    : null;
}

/** Whether a message event comes from this app frame (same window, same origin). */
export function isFromFrame(
  event: Pick<MessageEvent, 'source' | 'origin'>,
  frame: { contentWindow: unknown } | null,
  origin: string
): boolean {
  return (
    frame !== null &&
    event.source === frame.contentWindow &&
    event.origin === origin
  );
}
