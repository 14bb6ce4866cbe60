import React, { useState } from 'react';
import type {
  IColumnNode,
  IRelationNode,
  ISchemaTree,
  RelationKind
} from '../schema';

export interface ISchemaBrowserProps {
  tree: ISchemaTree | null;
  loading: boolean;
  error: string | null;
  /** Puts a query of the relation into the editor and runs it. */
  onPreview(reference: IRelationReference): void;
  onRefresh(): void;
}

export interface IRelationReference {
  database: string;
  schema: string;
  name: string;
  kind: RelationKind;
}

const KIND_LABEL: Record<RelationKind, string> = {
  table: 'table',
  view: 'view',
  shared: 'dataframe'
};

/** Databases, schemas, tables, views and shared dataframes, with their columns. */
export function SchemaBrowser(props: ISchemaBrowserProps): JSX.Element {
  const { tree, loading, error, onPreview, onRefresh } = props;
  return (
    <div className="jp-SqlRooms-schema">
      <div className="jp-SqlRooms-sectionHeader">
        <span>Schema</span>
        <button
          className="jp-SqlRooms-iconButton"
          title="Reload the schema"
          onClick={onRefresh}
          disabled={loading}
        >
          {'\u21BB'}
        </button>
      </div>
      {error && <div className="jp-SqlRooms-error">{error}</div>}
      {!tree && loading && <div className="jp-SqlRooms-muted">Loading…</div>}
      {tree && (
        <ul className="jp-SqlRooms-tree">
          {tree.shared.length > 0 && (
            <TreeNode
              label="Shared dataframes"
              className="jp-SqlRooms-shared"
              open
            >
              {tree.shared.map(relation => (
                <RelationItem
                  key={relation.name}
                  relation={relation}
                  onPreview={() =>
                    onPreview({
                      database: '',
                      schema: '',
                      name: relation.name,
                      kind: 'shared'
                    })
                  }
                />
              ))}
            </TreeNode>
          )}
          {tree.databases.map(database => (
            <TreeNode
              key={database.name}
              label={database.name}
              className="jp-SqlRooms-database"
              open
            >
              {database.schemas.map(schema => (
                <TreeNode
                  key={schema.name}
                  label={schema.name}
                  className="jp-SqlRooms-schemaName"
                  open={schema.name === 'main'}
                >
                  {schema.relations.length === 0 && (
                    <li className="jp-SqlRooms-muted">no tables</li>
                  )}
                  {schema.relations.map(relation => (
                    <RelationItem
                      key={relation.name}
                      relation={relation}
                      onPreview={() =>
                        onPreview({
                          database: database.name,
                          schema: schema.name,
                          name: relation.name,
                          kind: relation.kind
                        })
                      }
                    />
                  ))}
                </TreeNode>
              ))}
            </TreeNode>
          ))}
        </ul>
      )}
    </div>
  );
}

function TreeNode(props: {
  label: string;
  className: string;
  open?: boolean;
  children: React.ReactNode;
}): JSX.Element {
  const [open, setOpen] = useState(props.open ?? false);
  return (
    <li className={props.className}>
      <button
        className="jp-SqlRooms-treeToggle"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        <span className="jp-SqlRooms-caret">{open ? '\u25BE' : '\u25B8'}</span>
        {props.label}
      </button>
      {open && <ul>{props.children}</ul>}
    </li>
  );
}

function RelationItem(props: {
  relation: IRelationNode;
  onPreview(): void;
}): JSX.Element {
  const { relation, onPreview } = props;
  const [open, setOpen] = useState(false);
  return (
    <li className="jp-SqlRooms-relation" data-relation={relation.name}>
      <div className="jp-SqlRooms-relationRow">
        <button
          className="jp-SqlRooms-treeToggle"
          aria-expanded={open}
          onClick={() => setOpen(!open)}
          title={`${KIND_LABEL[relation.kind]} ${relation.name}`}
        >
          <span className="jp-SqlRooms-caret">
            {open ? '\u25BE' : '\u25B8'}
          </span>
          <span className="jp-SqlRooms-relationName">{relation.name}</span>
          <span className="jp-SqlRooms-kind">{KIND_LABEL[relation.kind]}</span>
        </button>
        <button
          className="jp-SqlRooms-iconButton jp-SqlRooms-previewButton"
          title={`Query ${relation.name}`}
          onClick={onPreview}
        >
          {'\u25B6'}
        </button>
      </div>
      {open && (
        <ul className="jp-SqlRooms-columns">
          {relation.columns.map((column: IColumnNode) => (
            <li key={column.name} className="jp-SqlRooms-column">
              <span>{column.name}</span>
              <span className="jp-SqlRooms-type">{column.type}</span>
            </li>
          ))}
        </ul>
      )}
    </li>
  );
}
