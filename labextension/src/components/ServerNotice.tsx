import React from 'react';
import type { ServerState } from '../panelModel';
import { START_SQLROOMS_CODE } from '../kernels';

export interface IServerNoticeProps {
  server: ServerState;
  onStart(): void;
  onRetry(): void;
}

/** Everything but a running server: what is the matter, and what to do. */
export function ServerNotice(props: IServerNoticeProps): JSX.Element | null {
  const { server, onStart, onRetry } = props;
  switch (server.kind) {
    case 'running':
      return null;
    case 'no-kernel':
      return (
        <div className="jp-SqlRooms-notice">
          Pick a kernel above, or open SQLRooms from a notebook.
        </div>
      );
    case 'checking':
      return (
        <div className="jp-SqlRooms-notice">Looking for a SQLRooms server…</div>
      );
    case 'starting':
      return (
        <div className="jp-SqlRooms-notice">
          Starting SQLRooms in the kernel…
        </div>
      );
    case 'absent':
      return (
        <div className="jp-SqlRooms-notice">
          <p>This kernel has no SQLRooms server running.</p>
          <button
            className="jp-mod-styled jp-mod-accept jp-SqlRooms-startButton"
            onClick={onStart}
          >
            Start SQLRooms in this kernel
          </button>
          <p className="jp-SqlRooms-hint">
            Runs <code>{START_SQLROOMS_CODE.replace('\n', '; ')}</code> in the
            kernel.
          </p>
        </div>
      );
    case 'error':
      return (
        <div className="jp-SqlRooms-notice jp-SqlRooms-error">
          <pre>{server.message}</pre>
          <button className="jp-mod-styled" onClick={onRetry}>
            Check again
          </button>
        </div>
      );
  }
}
