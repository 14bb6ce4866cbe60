import type { KernelMessage } from '@jupyterlab/services';
import { describe, expect, it } from 'vitest';
import { announcesServerChange, endsServer } from '../serverSignals';

function stream(text: string, name = 'stdout'): KernelMessage.IIOPubMessage {
  return {
    header: { msg_type: 'stream' },
    content: { name, text }
  } as unknown as KernelMessage.IIOPubMessage;
}

describe('server signals', () => {
  it('hears %sqlrooms start and stop, and nothing else', () => {
    expect(
      announcesServerChange(
        stream('SQLRooms server running at ws://127.0.0.1:4000/\n  app: …')
      )
    ).toBe(true);
    expect(announcesServerChange(stream('SQLRooms server stopped.\n'))).toBe(
      true
    );
    expect(announcesServerChange(stream('hello\n'))).toBe(false);
    const status = {
      header: { msg_type: 'status' },
      content: { execution_state: 'idle' }
    } as unknown as KernelMessage.IIOPubMessage;
    expect(announcesServerChange(status)).toBe(false);
  });

  it('a restart or death ends the server', () => {
    expect(endsServer('restarting')).toBe(true);
    expect(endsServer('autorestarting')).toBe(true);
    expect(endsServer('dead')).toBe(true);
    expect(endsServer('idle')).toBe(false);
    expect(endsServer('busy')).toBe(false);
  });
});
