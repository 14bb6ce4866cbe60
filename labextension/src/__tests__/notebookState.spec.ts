import { describe, expect, it } from 'vitest';
import { appMessage, stateMessage } from '../appFrame';
import type { INotebookLike } from '../insertCell';
import { METADATA_KEY, NotebookAppState } from '../notebookState';

/** The metadata part of a notebook model, counting writes. */
function notebook(): {
  widget: INotebookLike;
  metadata: Map<string, unknown>;
  writes: number;
} {
  const metadata = new Map<string, unknown>();
  const result = {
    metadata,
    writes: 0,
    widget: {
      content: {
        activeCellIndex: 0,
        model: {
          getMetadata: (key: string) => metadata.get(key),
          setMetadata: (key: string, value: unknown) => {
            result.writes += 1;
            metadata.set(key, value);
          },
          sharedModel: { insertCell: () => undefined }
        }
      }
    } as unknown as INotebookLike
  };
  return result;
}

describe('NotebookAppState', () => {
  it("keeps the app's state in the notebook's metadata", () => {
    const nb = notebook();
    const store = new NotebookAppState({
      notebookOf: id => (id === 'k1' ? nb.widget : null)
    });
    expect(store.load('k1')).toEqual({ state: null, persistent: true });
    const state = { version: 1, tabs: [{ id: 't', sql: 'select 1' }] };
    expect(store.save('k1', state)).toBe(true);
    expect(nb.metadata.get(METADATA_KEY)).toEqual(state);
    expect(store.load('k1')).toEqual({ state, persistent: true });
    // The same state again does not mark the notebook dirty.
    expect(store.save('k1', { ...state })).toBe(false);
    expect(nb.writes).toBe(1);
  });

  it('has nowhere to save without a notebook on the kernel', () => {
    const store = new NotebookAppState({ notebookOf: () => null });
    expect(store.load('k2')).toEqual({ state: null, persistent: false });
    expect(store.save('k2', { version: 1 })).toBe(false);
  });
});

describe('state messages', () => {
  it('hands the saved state to the app', () => {
    expect(stateMessage({ a: 1 }, true)).toEqual({
      source: 'sqlrooms-jupyter',
      type: 'state',
      state: { a: 1 },
      persistent: true
    });
  });

  it('reads ready, insert-cell and state-changed from the app, and nothing else', () => {
    expect(appMessage({ source: 'sqlrooms-app', type: 'ready' })).toEqual({
      type: 'ready'
    });
    expect(
      appMessage({ source: 'sqlrooms-app', type: 'insert-cell', code: 'x' })
    ).toEqual({ type: 'insert-cell', code: 'x' });
    expect(
      appMessage({
        source: 'sqlrooms-app',
        type: 'state-changed',
        state: { v: 1 }
      })
    ).toEqual({ type: 'state-changed', state: { v: 1 } });
    expect(
      appMessage({ source: 'sqlrooms-app', type: 'state-changed', state: 'x' })
    ).toBeNull();
    expect(appMessage({ source: 'other', type: 'ready' })).toBeNull();
    expect(appMessage(null)).toBeNull();
  });
});
