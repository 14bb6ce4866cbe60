import {Button} from '@sqlrooms/ui';
import {useRef, useState} from 'react';
import {useApp} from '../appContext';
import {exportFileName, exportResult, saveBlob, type ExportFormat} from '../download';

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;
}

/** Download CSV / Parquet of a query's whole result, computed and streamed by the server. */
export function DownloadButtons({sql}: {sql: string}) {
  const {connection} = useApp();
  const [state, setState] = useState<{bytes: number} | {error: string} | null>(null);
  const abort = useRef<AbortController | null>(null);

  const start = (format: ExportFormat) => {
    const controller = new AbortController();
    abort.current = controller;
    setState({bytes: 0});
    exportResult({
      wsUrl: connection.wsUrl,
      sql,
      format,
      signal: controller.signal,
      onProgress: (bytes) => setState({bytes}),
    }).then(
      ({blob}) => {
        saveBlob(blob, exportFileName(format, sql));
        setState(null);
      },
      (error: Error) => setState(error.name === 'AbortError' ? null : {error: error.message}),
    );
  };

  if (state && 'bytes' in state) {
    return (
      <span className="flex items-center gap-2" role="status" data-testid="download-progress">
        Downloading… {megabytes(state.bytes)}
        <Button size="xs" variant="outline" onClick={() => abort.current?.abort()}>
          Cancel
        </Button>
      </span>
    );
  }
  return (
    <span className="flex items-center gap-1">
      Download
      <Button size="xs" variant="outline" onClick={() => start('csv')}>
        CSV
      </Button>
      <Button size="xs" variant="outline" onClick={() => start('parquet')}>
        Parquet
      </Button>
      {state && (
        <span role="alert" className="text-red-500" title={state.error}>
          {state.error.split('\n')[0].slice(0, 80)}
        </span>
      )}
    </span>
  );
}
