import {describe, expect, it} from 'vitest';
import {
  HISTORY_LIMIT,
  addTab,
  closeTab,
  defaultWorkspace,
  parseWorkspace,
  recordRun,
  selectTab,
  selectedTab,
  serializeWorkspace,
  updateTab,
} from './workspace';

describe('tabs', () => {
  it('adds, selects, edits and closes tabs', () => {
    let ws = defaultWorkspace();
    const first = ws.tabs[0].id;
    ws = addTab(ws, 'select 2');
    expect(ws.tabs.map((t) => t.title)).toEqual(['Query 1', 'Query 2']);
    expect(selectedTab(ws).sql).toBe('select 2');
    ws = selectTab(ws, first);
    ws = updateTab(ws, first, {sql: 'select 1'});
    expect(selectedTab(ws).sql).toBe('select 1');
    ws = closeTab(ws, first);
    expect(ws.tabs.length).toBe(1);
    expect(selectedTab(ws).sql).toBe('select 2');
  });

  it('keeps one tab when the last one closes', () => {
    const ws = defaultWorkspace();
    const after = closeTab(ws, ws.tabs[0].id);
    expect(after.tabs.length).toBe(1);
    expect(after.tabs[0].id).not.toBe(ws.tabs[0].id);
  });

  it('does not reuse a title still in use', () => {
    let ws = addTab(addTab(defaultWorkspace()));
    ws = closeTab(ws, ws.tabs[1].id);
    expect(addTab(ws).tabs.map((t) => t.title)).toEqual(['Query 1', 'Query 3', 'Query 4']);
  });
});

describe('history', () => {
  it('puts the latest run first, once, and keeps a bounded list', () => {
    let ws = defaultWorkspace();
    for (let i = 0; i < HISTORY_LIMIT + 5; i++) {
      ws = recordRun(ws, {sql: `select ${i}`, at: i, ms: 1, error: null});
    }
    ws = recordRun(ws, {sql: 'select 50', at: 999, ms: 2, error: null});
    expect(ws.history.length).toBe(HISTORY_LIMIT);
    expect(ws.history[0]).toEqual({sql: 'select 50', at: 999, ms: 2, error: null});
    expect(ws.history.filter((h) => h.sql === 'select 50').length).toBe(1);
  });
});

describe('save and restore', () => {
  it('round-trips tabs, charts, selection and history', () => {
    let ws = addTab(defaultWorkspace(), 'from trips');
    ws = updateTab(ws, ws.selectedTabId, {
      charts: [{id: 'c1', kind: 'histogram', x: 'fare', color: 'vendor'}],
    });
    ws = recordRun(ws, {sql: 'from trips', at: 5, ms: 12.5, error: null});
    expect(parseWorkspace(serializeWorkspace(ws))).toEqual(ws);
  });

  it('drops the SQL a saved chart carries: charts draw only from what the tab ran', () => {
    const hostile = "SELECT 1 AS a); COPY (SELECT 1) TO '/tmp/x'; SELECT * FROM (SELECT 1 AS a";
    const ws = parseWorkspace(
      JSON.stringify({
        version: 1,
        selectedTabId: 't',
        history: [],
        tabs: [
          {id: 't', title: 'T', sql: 's', charts: [{id: 'c', kind: 'bar', x: 'a', sql: hostile}]},
        ],
      }),
    );
    expect(ws.tabs[0].charts).toEqual([{id: 'c', kind: 'bar', x: 'a'}]);
    expect(JSON.stringify(ws)).not.toContain('COPY');
  });

  it('falls back to a fresh workspace on junk', () => {
    for (const junk of [null, '', '{', '[]', '{"version":2}', '{"version":1,"tabs":[{}]}']) {
      const ws = parseWorkspace(junk);
      expect(ws.tabs.length).toBe(1);
      expect(ws.selectedTabId).toBe(ws.tabs[0].id);
    }
  });

  it('drops invalid charts and fixes a dangling selection', () => {
    const ws = parseWorkspace(
      JSON.stringify({
        version: 1,
        selectedTabId: 'gone',
        tabs: [{id: 't', title: 'T', sql: 's', charts: [{id: 'c', kind: 'pie', x: 'a'}]}],
        history: [{sql: 'x'}],
      }),
    );
    expect(ws.selectedTabId).toBe('t');
    expect(ws.tabs[0].charts).toEqual([]);
    expect(ws.history).toEqual([]);
  });
});
