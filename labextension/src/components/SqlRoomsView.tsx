import React, { useCallback, useMemo, useState } from 'react';
import type { PanelModel } from '../panelModel';
import { quoteIfNeeded, relationReference } from '../schema';
import { KernelPicker } from './KernelPicker';
import { QueryBar } from './QueryBar';
import { ResultsGrid } from './ResultsGrid';
import { SchemaBrowser, type IRelationReference } from './SchemaBrowser';
import { ServerNotice } from './ServerNotice';
import { SqlEditor } from './SqlEditor';
import { usePanelState } from './usePanelState';

export interface ISqlRoomsViewProps {
  model: PanelModel;
  /** Kernels known to run a SQLRooms server (from the REST API). */
  kernelsWithServer: ReadonlySet<string>;
  now(): number;
}

const PREVIEW_LIMIT = 100;

/** The whole panel: kernel, server state, schema, editor and results. */
export function SqlRoomsView(props: ISqlRoomsViewProps): JSX.Element {
  const { model, kernelsWithServer, now } = props;
  const state = usePanelState(model);
  const [sql, setSql] = useState('');
  const running = state.server.kind === 'running';

  const run = useCallback(() => void model.run(sql), [model, sql]);
  const preview = useCallback(
    (relation: IRelationReference) => {
      const reference =
        relation.kind === 'shared'
          ? quoteIfNeeded(relation.name)
          : relationReference(
              relation.database,
              relation.schema,
              relation.name,
              state.schema.defaultDatabase
            );
      const text = `select * from ${reference} limit ${PREVIEW_LIMIT}`;
      setSql(text);
      void model.run(text);
    },
    [model, state.schema.defaultDatabase]
  );
  const withServer = useMemo(() => {
    const ids = new Set(kernelsWithServer);
    if (running && state.kernelId) {
      ids.add(state.kernelId);
    }
    return ids;
  }, [kernelsWithServer, running, state.kernelId]);

  return (
    <div className="jp-SqlRooms-view">
      <div className="jp-SqlRooms-header">
        <KernelPicker
          kernels={state.kernels}
          withServer={withServer}
          selected={state.kernelId}
          onSelect={id => void model.selectKernel(id)}
        />
        {state.server.kind === 'running' && (
          <span className="jp-SqlRooms-serverInfo">
            <span className="jp-SqlRooms-dot jp-mod-running" /> SQLRooms on{' '}
            <code>{state.server.status.database}</code>
          </span>
        )}
      </div>
      <ServerNotice
        server={state.server}
        onStart={() => void model.startServer()}
        onRetry={() => void model.refreshStatus()}
      />
      {running && (
        <div className="jp-SqlRooms-body">
          <SchemaBrowser
            tree={state.schema.tree}
            loading={state.schema.loading}
            error={state.schema.error}
            onPreview={preview}
            onRefresh={() => void model.reloadSchema()}
          />
          <div className="jp-SqlRooms-main">
            <SqlEditor value={sql} onChange={setSql} onRun={run} />
            <QueryBar
              query={state.query}
              canRun={sql.trim().length > 0}
              now={now}
              onRun={run}
              onCancel={() => model.cancel()}
            />
            <div className="jp-SqlRooms-results">
              {state.query.kind === 'failed' && (
                <pre className="jp-SqlRooms-error jp-SqlRooms-queryError">
                  {state.query.error}
                </pre>
              )}
              {state.query.kind === 'done' && (
                <ResultsGrid result={state.query.result} />
              )}
            </div>
          </div>
        </div>
      )}
    </div>
  );
}
