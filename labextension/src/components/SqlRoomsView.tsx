import React, { useMemo } from 'react';
import type { IAppHost } from '../appHost';
import type { PanelModel } from '../panelModel';
import { AppFrame } from './AppFrame';
import { KernelPicker } from './KernelPicker';
import { ServerNotice } from './ServerNotice';
import { usePanelState } from './usePanelState';

export interface ISqlRoomsViewProps {
  model: PanelModel;
  /** Kernels known to run a SQLRooms server (from the REST API). */
  kernelsWithServer: ReadonlySet<string>;
  /** The page around the framed app: base URL, theme, the notebook. */
  host: IAppHost;
}

/** The whole panel: kernel, server state, and the SQLRooms app once a server runs. */
export function SqlRoomsView(props: ISqlRoomsViewProps): JSX.Element {
  const { model, kernelsWithServer, host } = props;
  const state = usePanelState(model);
  const running = state.server.kind === 'running';
  const kernelId = state.kernelId;

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
      {running && kernelId && (
        <AppFrame
          baseUrl={host.baseUrl}
          kernelId={kernelId}
          theme={host.theme()}
          onInsertCell={code => host.insertCell(state.kernelId, code)}
          loadState={() => host.loadState(kernelId)}
          onStateChanged={saved => host.saveState(kernelId, saved)}
        />
      )}
    </div>
  );
}
