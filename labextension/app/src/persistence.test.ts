import {describe, expect, it, vi} from 'vitest';
import {parsePanelMessage} from './bridge';
import {
  debounced,
  isTableName,
  layered,
  loadStateSql,
  panelStore,
  saveStateSql,
  seedOnly,
  type Store,
  uiStateTableOf,
} from './persistence';
import {addTab, defaultWorkspace, parseWorkspace, serializeWorkspace, updateTab} from './workspace';

function memoryStore(initial: string | null = null, {failSave = false} = {}) {
  const store = {
    text: initial,
    saves: 0,
    load: async () => store.text,
    save: async (text: string) => {
      store.saves += 1;
      if (failSave) throw new Error('Cannot write: read-only');
      store.text = text;
    },
  };
  return store;
}

describe('a read-only server: the browser first, the saved state as a seed', () => {
  it("keeps the browser's copy over the owner's and never writes the seed", async () => {
    const owner = memoryStore('owner');
    const local = memoryStore(null);
    const store = layered([local, seedOnly(owner)]);
    expect(await store.load()).toBe('owner');
    await store.save('reader');
    expect(await store.load()).toBe('reader');
    expect(owner.saves).toBe(0);
    expect(owner.text).toBe('owner');
  });
});

describe('ui_state SQL', () => {
  it('reads and upserts one key, with quotes escaped', () => {
    expect(loadStateSql('"__sqlrooms".ui_state')).toBe(
      `SELECT payload_json::VARCHAR AS payload FROM "__sqlrooms".ui_state WHERE key = 'sqlrooms-app:workspace'`,
    );
    expect(saveStateSql('"ns"."main".ui_state', `{"sql":"select 'it''s'"}`)).toBe(
      `INSERT OR REPLACE INTO "ns"."main".ui_state (key, payload_json, updated_at) ` +
        `VALUES ('sqlrooms-app:workspace', '{"sql":"select ''it''''s''"}'::JSON, now())`,
    );
  });

  it('takes the table name from config.json only when it is a quoted identifier path', () => {
    expect(uiStateTableOf({uiStateTable: '"__sqlrooms".ui_state'})).toBe('"__sqlrooms".ui_state');
    expect(uiStateTableOf({uiStateTable: '"my ns"."main".ui_state'})).toBe(
      '"my ns"."main".ui_state',
    );
    expect(isTableName('ui_state; drop table x')).toBe(false);
    expect(isTableName('"a"; drop table x')).toBe(false);
    expect(isTableName('meta.ui_state')).toBe(true);
    expect(uiStateTableOf({})).toBeNull();
    expect(uiStateTableOf(null)).toBeNull();
  });
});

describe('layered stores', () => {
  it('loads from the first store that has state and saves to all', async () => {
    const server = memoryStore(null);
    const local = memoryStore('{"from":"local"}');
    const store = layered([server, local]);
    expect(await store.load()).toBe('{"from":"local"}');
    server.text = '{"from":"server"}';
    expect(await store.load()).toBe('{"from":"server"}');
    await store.save('{"v":2}');
    expect([server.text, local.text]).toEqual(['{"v":2}', '{"v":2}']);
  });

  it('drops a store whose writes are refused (read-only server) and keeps the fallback', async () => {
    const readOnly = memoryStore(null, {failSave: true});
    const local = memoryStore(null);
    const store = layered([readOnly, local]);
    await store.save('{"v":1}');
    await store.save('{"v":2}');
    expect(readOnly.saves).toBe(1);
    expect(local.text).toBe('{"v":2}');
  });

  it('survives a store whose load fails', async () => {
    const broken: Store = {load: () => Promise.reject(new Error('gone')), save: async () => {}};
    expect(await layered([broken, memoryStore('{"ok":1}')]).load()).toBe('{"ok":1}');
  });
});

describe('notebook metadata through the panel', () => {
  it('restores what the panel handed over and posts every save as an object', async () => {
    const ws = updateTab(addTab(defaultWorkspace(), 'select 2'), 'x', {sql: 'ignored'});
    const posted: unknown[] = [];
    const store = panelStore(JSON.parse(serializeWorkspace(ws)), (s) => posted.push(s));
    expect(parseWorkspace(await store.load())).toEqual(ws);
    await store.save(serializeWorkspace(ws));
    expect(posted).toEqual([JSON.parse(serializeWorkspace(ws))]);
    expect(await panelStore(null, () => undefined).load()).toBeNull();
  });

  it('parses the panel state message', () => {
    expect(
      parsePanelMessage({
        source: 'sqlrooms-jupyter',
        type: 'state',
        state: {a: 1},
        persistent: true,
      }),
    ).toEqual({source: 'sqlrooms-jupyter', type: 'state', state: {a: 1}, persistent: true});
    expect(parsePanelMessage({source: 'sqlrooms-jupyter', type: 'state'})).toEqual({
      source: 'sqlrooms-jupyter',
      type: 'state',
      state: null,
      persistent: false,
    });
  });
});

describe('debounced saving', () => {
  it('saves the latest workspace once per interval, and on flush', () => {
    vi.useFakeTimers();
    try {
      const saved: string[] = [];
      const saver = debounced((text) => saved.push(text), 400);
      const first = defaultWorkspace();
      const second = addTab(first, 'select 1');
      saver.push(first);
      saver.push(second);
      expect(saved).toEqual([]);
      vi.advanceTimersByTime(400);
      expect(saved).toEqual([serializeWorkspace(second)]);
      saver.push(first);
      saver.flush();
      expect(saved).toHaveLength(2);
      saver.flush();
      expect(saved).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });
});
