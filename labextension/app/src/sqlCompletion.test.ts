import {describe, expect, it} from 'vitest';
import {
  completionsAt,
  FALLBACK_CATALOG,
  groupFunctions,
  signature,
  tablesInScope,
  type Catalog,
  type TableInfo,
} from './sqlCompletion';

const tables: TableInfo[] = [
  {
    schema: 'main',
    name: 'trips',
    columns: [
      {name: 'fare', type: 'DOUBLE'},
      {name: 'city', type: 'VARCHAR'},
    ],
  },
  {schema: 'main', name: 'zones', columns: [{name: 'zone_id', type: 'INTEGER'}]},
  {schema: 'raw', name: 'events', columns: [{name: 'Event Time', type: 'TIMESTAMP'}]},
];

const catalog: Catalog = {
  ...FALLBACK_CATALOG,
  functions: groupFunctions([
    {
      name: 'date_trunc',
      kind: 'scalar',
      parameters: ['part', 'date'],
      parameterTypes: ['VARCHAR', 'DATE'],
      returnType: 'TIMESTAMP',
      description: 'Truncate to the precision.',
    },
    {
      name: 'date_trunc',
      kind: 'scalar',
      parameters: ['part', 'ts'],
      parameterTypes: ['VARCHAR', 'TIMESTAMP'],
      returnType: 'TIMESTAMP',
      description: null,
    },
  ]),
};

function labels(doc: string, pos = doc.length) {
  return completionsAt(doc, pos, catalog, tables)?.options.map((o) => o.label) ?? [];
}

describe('editor completion', () => {
  it('finds the tables and aliases in scope', () => {
    expect(tablesInScope('select * from trips t join raw.events as e on true where x')).toEqual([
      {path: ['trips'], alias: 't'},
      {path: ['raw', 'events'], alias: 'e'},
    ]);
    expect(tablesInScope('from "my table" where 1')).toEqual([{path: ['my table'], alias: null}]);
  });

  it('completes columns of the tables in scope without a prefix', () => {
    const doc = 'select fa from trips';
    expect(labels(doc, 'select fa'.length)).toContain('fare');
    expect(labels(doc, 'select fa'.length)).not.toContain('zone_id');
  });

  it('completes after an alias, a table or a schema', () => {
    expect(labels('select t. from trips t', 'select t.'.length)).toEqual(['fare', 'city']);
    expect(labels('select e. from raw.events e', 'select e.'.length)).toEqual(['"Event Time"']);
    expect(labels('select * from raw.')).toEqual(['events']);
  });

  it("offers DuckDB's functions with signatures, tables, schemas, keywords and snippets", () => {
    const options = completionsAt('select da', 9, catalog, tables)!.options;
    const fn = options.find((o) => o.label === 'date_trunc')!;
    expect(fn.detail).toBe('date_trunc(part VARCHAR, date DATE) → TIMESTAMP (+1)');
    expect(String(fn.info)).toContain('Truncate to the precision.');
    const all = options.map((o) => o.label);
    for (const label of ['trips', 'raw', 'select', 'varchar', 'group by'])
      expect(all).toContain(label);
  });

  it('writes a signature without types for macros', () => {
    expect(
      signature({
        name: 'm',
        kind: 'macro',
        parameters: ['a'],
        parameterTypes: null,
        returnType: null,
        description: null,
      }),
    ).toBe('m(a)');
  });
});
