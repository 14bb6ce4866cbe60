/**
 * The app's own state: query tabs, their charts, and a history of what ran. Pure functions
 * over plain data, so it can be saved (localStorage, notebook metadata, the `ui_state` table)
 * and restored after a reload or a kernel restart.
 */

export const CHART_KINDS = ['bar', 'line', 'point', 'histogram', 'heatmap'] as const;
export type ChartKind = (typeof CHART_KINDS)[number];

export type ChartConfig = {
  id: string;
  kind: ChartKind;
  x: string;
  y?: string;
  color?: string;
};

export type QueryTab = {id: string; title: string; sql: string; charts: ChartConfig[]};

export type HistoryEntry = {sql: string; at: number; ms: number | null; error: string | null};

export type Workspace = {
  version: 1;
  tabs: QueryTab[];
  selectedTabId: string;
  history: HistoryEntry[];
};

export const HISTORY_LIMIT = 100;

let counter = 0;
export function newId(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}`;
}

export function defaultWorkspace(): Workspace {
  const tab = {id: newId('tab'), title: 'Query 1', sql: 'SHOW ALL TABLES;', charts: []};
  return {version: 1, tabs: [tab], selectedTabId: tab.id, history: []};
}

export function selectedTab(ws: Workspace): QueryTab {
  return ws.tabs.find((t) => t.id === ws.selectedTabId) ?? ws.tabs[0];
}

function nextTitle(ws: Workspace): string {
  const taken = new Set(ws.tabs.map((t) => t.title));
  let n = ws.tabs.length + 1;
  while (taken.has(`Query ${n}`)) n++;
  return `Query ${n}`;
}

export function addTab(ws: Workspace, sql = '', title?: string, id = newId('tab')): Workspace {
  const tab = {id, title: title ?? nextTitle(ws), sql, charts: []};
  return {...ws, tabs: [...ws.tabs, tab], selectedTabId: tab.id};
}

export function closeTab(ws: Workspace, id: string): Workspace {
  const index = ws.tabs.findIndex((t) => t.id === id);
  if (index === -1) return ws;
  const tabs = ws.tabs.filter((t) => t.id !== id);
  if (tabs.length === 0) {
    const fresh = defaultWorkspace();
    return {...ws, tabs: fresh.tabs, selectedTabId: fresh.selectedTabId};
  }
  const selectedTabId =
    ws.selectedTabId === id ? tabs[Math.min(index, tabs.length - 1)].id : ws.selectedTabId;
  return {...ws, tabs, selectedTabId};
}

export function selectTab(ws: Workspace, id: string): Workspace {
  return ws.tabs.some((t) => t.id === id) ? {...ws, selectedTabId: id} : ws;
}

export function updateTab(ws: Workspace, id: string, change: Partial<Omit<QueryTab, 'id'>>) {
  return {...ws, tabs: ws.tabs.map((t) => (t.id === id ? {...t, ...change} : t))};
}

export function recordRun(ws: Workspace, entry: HistoryEntry): Workspace {
  const history = [entry, ...ws.history.filter((h) => h.sql !== entry.sql)];
  return {...ws, history: history.slice(0, HISTORY_LIMIT)};
}

/** A run of `sql` failed: its history entry says so (until it runs again). */
export function recordFailure(ws: Workspace, sql: string, error: string): Workspace {
  if (!ws.history.some((h) => h.sql === sql && h.error !== error)) return ws;
  return {...ws, history: ws.history.map((h) => (h.sql === sql ? {...h, error} : h))};
}

const isString = (v: unknown): v is string => typeof v === 'string';

function parseChart(value: unknown): ChartConfig | null {
  if (!value || typeof value !== 'object') return null;
  const c = value as Record<string, unknown>;
  if (!isString(c.id) || !isString(c.x) || !CHART_KINDS.includes(c.kind as ChartKind)) return null;
  return {
    id: c.id,
    kind: c.kind as ChartKind,
    x: c.x,
    ...(isString(c.y) ? {y: c.y} : {}),
    ...(isString(c.color) ? {color: c.color} : {}),
    // A saved `sql` is dropped: a chart draws only from what its tab ran (a hostile saved
    // state would otherwise run hidden SQL when the Charts tab opens).
  };
}

function parseTab(value: unknown): QueryTab | null {
  if (!value || typeof value !== 'object') return null;
  const t = value as Record<string, unknown>;
  if (!isString(t.id) || !isString(t.title) || !isString(t.sql)) return null;
  const charts = Array.isArray(t.charts) ? t.charts.map(parseChart).filter((c) => c !== null) : [];
  return {id: t.id, title: t.title, sql: t.sql, charts};
}

function parseHistory(value: unknown): HistoryEntry | null {
  if (!value || typeof value !== 'object') return null;
  const h = value as Record<string, unknown>;
  if (!isString(h.sql) || typeof h.at !== 'number') return null;
  return {
    sql: h.sql,
    at: h.at,
    ms: typeof h.ms === 'number' ? h.ms : null,
    error: isString(h.error) ? h.error : null,
  };
}

/** A saved workspace, or a fresh one when the text is missing or not one (never throws). */
export function parseWorkspace(text: string | null | undefined): Workspace {
  if (!text) return defaultWorkspace();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return defaultWorkspace();
  }
  if (!raw || typeof raw !== 'object' || (raw as {version?: unknown}).version !== 1) {
    return defaultWorkspace();
  }
  const r = raw as Record<string, unknown>;
  const tabs = Array.isArray(r.tabs) ? r.tabs.map(parseTab).filter((t) => t !== null) : [];
  if (tabs.length === 0) return defaultWorkspace();
  const history = Array.isArray(r.history)
    ? r.history
        .map(parseHistory)
        .filter((h) => h !== null)
        .slice(0, HISTORY_LIMIT)
    : [];
  const selectedTabId =
    isString(r.selectedTabId) && tabs.some((t) => t.id === r.selectedTabId)
      ? r.selectedTabId
      : tabs[0].id;
  return {version: 1, tabs, selectedTabId, history};
}

export function serializeWorkspace(ws: Workspace): string {
  return JSON.stringify(ws);
}
