import React, { useEffect, useRef } from 'react';
import {
  appUrl,
  insertedCell,
  isFromFrame,
  themeMessage,
  type AppTheme
} from '../appFrame';

export interface IAppFrameProps {
  baseUrl: string;
  kernelId: string;
  theme: AppTheme;
  onInsertCell(code: string): void;
}

/**
 * The SQLRooms app in an iframe, so that its styles and React 19 stay out of
 * JupyterLab's page. A new kernel means a new address (and a fresh app).
 */
export function AppFrame(props: IAppFrameProps): JSX.Element {
  const { baseUrl, kernelId, theme, onInsertCell } = props;
  const frame = useRef<HTMLIFrameElement>(null);
  // The first theme goes in the URL; later changes by message, without a reload.
  const initialTheme = useRef(theme);
  const src = appUrl(baseUrl, kernelId, initialTheme.current);
  const insert = useRef(onInsertCell);
  insert.current = onInsertCell;

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
      const code = insertedCell(event.data);
      if (code !== null) {
        insert.current(code);
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
