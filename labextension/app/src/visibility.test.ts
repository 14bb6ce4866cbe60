import {describe, expect, it} from 'vitest';
import {isVisibleCatalogEntry, isVisibleTable} from './visibility';

const table = (database: string, schema: string, name: string) => ({database, schema, table: name});

describe('visibility', () => {
  it('shows shared dataframes in temp and hides SQLRooms internals', () => {
    expect(isVisibleTable(table('temp', 'main', 'trips'))).toBe(true);
    expect(isVisibleTable(table('memory', 'main', 'events'))).toBe(true);
    expect(isVisibleTable(table('memory', '__sqlrooms', 'ui_state'))).toBe(false);
    expect(isVisibleCatalogEntry({type: 'database', database: 'temp'})).toBe(true);
    expect(isVisibleCatalogEntry({type: 'schema', database: 'm', schema: '__sqlrooms'})).toBe(
      false,
    );
  });
});
