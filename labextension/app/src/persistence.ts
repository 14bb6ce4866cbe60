/**
 * Where the workspace is kept between reloads and kernel restarts:
 *
 * - in JupyterLab, in the notebook's metadata: the panel hands the saved state over on load and
 *   writes each change (`notebook.model.setMetadata('sqlrooms', …)`);
 * - standalone, in the server's `ui_state` meta table (its name from `config.json`);
 * - on a read-only server, in this browser's localStorage first: each reader keeps their own
 *   tabs, seeded from the database's `ui_state` only while the browser has none;
 * - always also in localStorage, the fallback when neither answers (a panel with no notebook
 *   on the kernel).
 */
import {serializeWorkspace, type Workspace} from './workspace';

/** The `ui_state` row the standalone app uses. */
export const UI_STATE_KEY = 'sqlrooms-app:workspace';

export function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

export function loadStateSql(table: string, key = UI_STATE_KEY): string {
  return `SELECT payload_json::VARCHAR AS payload FROM ${table} WHERE key = ${sqlString(key)}`;
}

export function saveStateSql(table: string, payload: string, key = UI_STATE_KEY): string {
  return (
    `INSERT OR REPLACE INTO ${table} (key, payload_json, updated_at) ` +
    `VALUES (${sqlString(key)}, ${sqlString(payload)}::JSON, now())`
  );
}

/** A `ui_state` table name as the server writes it: identifiers (quoted or not) joined by dots. */
export function isTableName(name: unknown): name is string {
  const part = '(?:"(?:[^"]|"")+"|[A-Za-z_]\\w*)';
  return typeof name === 'string' && new RegExp(`^${part}(?:\\.${part})*$`).test(name);
}

/** The app's `config.json` (served beside it by sqlrooms-server): the ui_state table, if any. */
export function uiStateTableOf(config: unknown): string | null {
  const table = (config as {uiStateTable?: unknown} | null)?.uiStateTable;
  return isTableName(table) ? table : null;
}

/** Whether `config.json` says the server is read-only (its readers keep their own state). */
export function isReadOnlyConfig(config: unknown): boolean {
  return (config as {readOnly?: unknown} | null)?.readOnly === true;
}

export type Store = {
  /** The saved text, or null when there is none (or it cannot be read). */
  load(): Promise<string | null>;
  save(text: string): Promise<void>;
};

export function localStore(key: string): Store {
  return {
    load: async () => {
      try {
        return window.localStorage.getItem(key);
      } catch {
        return null;
      }
    },
    save: async (text) => {
      try {
        window.localStorage.setItem(key, text);
      } catch {
        // Storage full or disabled: the workspace lives on in memory.
      }
    },
  };
}

type Runner = {
  query(
    sql: string,
  ): Promise<{getChild(name: string): {get(i: number): unknown} | null; numRows: number}>;
};

/** The `ui_state` table through the server; a refused write (read-only) rejects. */
export function uiStateStore(runner: Runner, table: string): Store {
  return {
    load: async () => {
      const result = await runner.query(loadStateSql(table));
      const value = result.numRows > 0 ? result.getChild('payload')?.get(0) : null;
      return typeof value === 'string' ? value : null;
    },
    save: async (text) => {
      await runner.query(saveStateSql(table, text));
    },
  };
}

/** `store`'s saved state to start from, never written (the owner's state on a read-only server). */
export function seedOnly(store: Store): Store {
  return {load: () => store.load(), save: async () => undefined};
}

/**
 * The first store that has saved state wins; every save goes to all of them, and a store whose
 * save fails (a read-only server) is skipped from then on.
 */
export function layered(stores: Store[]): Store {
  const working = new Set(stores);
  return {
    load: async () => {
      for (const store of stores) {
        const text = await store.load().catch(() => null);
        if (text) return text;
      }
      return null;
    },
    save: async (text) => {
      await Promise.all(
        [...working].map((store) => store.save(text).catch(() => working.delete(store))),
      );
    },
  };
}

/** Calls `save` at most once per `ms`, with the latest workspace. */
export function debounced(save: (text: string) => void, ms: number) {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let latest: Workspace | null = null;
  const flush = () => {
    timer = null;
    if (latest) save(serializeWorkspace(latest));
    latest = null;
  };
  return {
    push(ws: Workspace) {
      latest = ws;
      timer ??= setTimeout(flush, ms);
    },
    flush() {
      if (timer) clearTimeout(timer);
      flush();
    },
  };
}

/** The notebook's metadata, through the panel: `initial` as it handed it over on load. */
export function panelStore(initial: unknown, post: (state: unknown) => void): Store {
  return {
    load: async () => (initial && typeof initial === 'object' ? JSON.stringify(initial) : null),
    save: async (text) => post(JSON.parse(text)),
  };
}
