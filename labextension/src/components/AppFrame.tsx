import React, { useEffect, useRef } from 'react';
import {
  appMessage,
  appUrl,
  isFromFrame,
  stateMessage,
  themeMessage,
  type AppTheme
} from '../appFrame';

export interface IAppFrameProps {
  baseUrl: string;
  kernelId: string;
  theme: AppTheme;
  onInsertCell(code: string): void;
  /** The app's saved state, handed over when it says it is ready. */
  loadState(): { state: unknown; persistent: boolean };
  onStateChanged(state: object): void;
}

/**
 * The SQLRooms app in an iframe, so that its styles and React 19 stay out of
 * JupyterLab's page. A new kernel means a new address (and a fresh app).
 */
export function AppFrame(props: IAppFrameProps): JSX.Element {
  const { baseUrl, kernelId, theme } = props;
  const frame = useRef<HTMLIFrameElement>(null);
  // The first theme goes in the URL; later changes by message, without a reload.
  const initialTheme = useRef(theme);
  const src = appUrl(baseUrl, kernelId, initialTheme.current);
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    frame.current?.contentWindow?.postMessage(
      themeMessage(theme),
      window.location.origin
    );
  }, [theme]);

  useEffect(() => {
    const listener = (event: MessageEvent): void => {
      if (!isFromFrame(event, frame.current, window.location.origin)) {
        return;
      }
      const message = appMessage(event.data);
      const host = latest.current;
      if (message?.type === 'insert-cell') {
        host.onInsertCell(message.code);
      } else if (message?.type === 'state-changed') {
        host.onStateChanged(message.state);
      } else if (message?.type === 'ready') {
        const { state, persistent } = host.loadState();
        frame.current?.contentWindow?.postMessage(
          stateMessage(state, persistent),
          window.location.origin
        );
      }
    };
    window.addEventListener('message', listener);
    return () => window.removeEventListener('message', listener);
  }, []);

  return (
    <iframe
      ref={frame}
      key={kernelId}
      className="jp-SqlRooms-appFrame"
      title="SQLRooms"
      src={src}
    />
  );
}
