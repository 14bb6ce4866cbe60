import { describe, expect, it } from 'vitest';
import {
  buildSchemaTree,
  quoteIfNeeded,
  relationNames,
  relationReference,
  sharedColumnsSql
} from '../schema';

const schemata = [
  { database_name: 'memory', schema_name: 'main' },
  { database_name: 'memory', schema_name: 'empty' },
  { database_name: 'other', schema_name: 'main' }
];
const relations = [
  {
    database_name: 'memory',
    schema_name: 'main',
    relation_name: 'trips',
    kind: 'table'
  },
  {
    database_name: 'memory',
    schema_name: 'main',
    relation_name: 'v',
    kind: 'view'
  },
  {
    database_name: 'other',
    schema_name: 'main',
    relation_name: 'x',
    kind: 'table'
  },
  { database_name: 'late', schema_name: 's', relation_name: 'y', kind: 'table' }
];
const columns = [
  {
    database_name: 'memory',
    schema_name: 'main',
    relation_name: 'trips',
    column_name: 'id',
    data_type: 'BIGINT'
  },
  {
    database_name: 'memory',
    schema_name: 'main',
    relation_name: 'trips',
    column_name: 'fare',
    data_type: 'DOUBLE'
  },
  {
    database_name: 'other',
    schema_name: 'main',
    relation_name: 'x',
    column_name: 'z',
    data_type: 'VARCHAR'
  }
];

describe('buildSchemaTree', () => {
  const tree = buildSchemaTree(
    schemata,
    relations,
    columns,
    ['df', 'a_df'],
    [
      {
        database_name: '',
        schema_name: '',
        relation_name: 'df',
        column_name: 'n',
        data_type: 'INTEGER'
      }
    ]
  );

  it('nests databases, schemas and relations in catalog order', () => {
    expect(tree.databases.map(db => db.name)).toEqual([
      'memory',
      'other',
      'late'
    ]);
    expect(tree.databases[0].schemas.map(s => s.name)).toEqual([
      'main',
      'empty'
    ]);
    expect(tree.databases[0].schemas[1].relations).toEqual([]);
    expect(tree.databases[2].schemas[0].relations[0].name).toBe('y');
  });

  it('attaches columns with their types, in order', () => {
    const trips = tree.databases[0].schemas[0].relations[0];
    expect(trips).toEqual({
      name: 'trips',
      kind: 'table',
      columns: [
        { name: 'id', type: 'BIGINT' },
        { name: 'fare', type: 'DOUBLE' }
      ]
    });
    expect(tree.databases[0].schemas[0].relations[1]).toEqual({
      name: 'v',
      kind: 'view',
      columns: []
    });
  });

  it('lists shared dataframes sorted, with their columns', () => {
    expect(tree.shared).toEqual([
      { name: 'a_df', kind: 'shared', columns: [] },
      { name: 'df', kind: 'shared', columns: [{ name: 'n', type: 'INTEGER' }] }
    ]);
  });

  it('names every relation once, for the table watcher', () => {
    expect(relationNames(tree)).toEqual(['a_df', 'df', 'trips', 'v', 'x', 'y']);
  });
});

describe('SQL for shared dataframes', () => {
  it('is not needed without any', () => {
    expect(sharedColumnsSql([])).toBeNull();
  });

  it('describes each by name, quoted', () => {
    const sql = sharedColumnsSql(['trips', `o'dd "name"`])!;
    expect(sql).toContain('from (describe "trips")');
    expect(sql).toContain(`'o''dd "name"' as relation_name`);
    expect(sql).toContain('from (describe "o\'dd ""name""")');
    expect(sql.split('union all')).toHaveLength(2);
  });
});

describe('references to relations', () => {
  it('uses the bare name in the default database and main schema', () => {
    expect(relationReference('memory', 'main', 'trips', 'memory')).toBe(
      'trips'
    );
  });

  it('qualifies and quotes names elsewhere', () => {
    expect(relationReference('other', 'My Schema', 'Trips', 'memory')).toBe(
      'other."My Schema"."Trips"'
    );
  });

  it('quotes only what needs it', () => {
    expect(quoteIfNeeded('snake_case1')).toBe('snake_case1');
    expect(quoteIfNeeded('has space')).toBe('"has space"');
    expect(quoteIfNeeded('1abc')).toBe('"1abc"');
    expect(quoteIfNeeded('order')).toBe('"order"');
  });
});
