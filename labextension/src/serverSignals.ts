/**
 * What tells the extension that a kernel's SQLRooms server may have started or
 * stopped, so that it asks the server extension then instead of polling a
 * kernel without a server (each such poll is a 404 in Jupyter's log).
 */
import type { Kernel, KernelMessage } from '@jupyterlab/services';

/** The first words `%sqlrooms start` and `%sqlrooms stop` print (magics.py). */
export const SERVER_STARTED = 'SQLRooms server running at ';
export const SERVER_STOPPED = 'SQLRooms server stopped.';

/** Whether an iopub message is `%sqlrooms start` or `stop` reporting. */
export function announcesServerChange(
  message: KernelMessage.IIOPubMessage
): boolean {
  if (message.header.msg_type !== 'stream') {
    return false;
  }
  const text = (message.content as { text?: unknown }).text;
  return (
    typeof text === 'string' &&
    (text.includes(SERVER_STARTED) || text.includes(SERVER_STOPPED))
  );
}

/** Kernel states in which its server is gone (a restart takes it along). */
export function endsServer(status: Kernel.Status): boolean {
  return (
    status === 'restarting' || status === 'autorestarting' || status === 'dead'
  );
}
