import {describe, expect, it} from 'vitest';
import {decodeFrame, encodeFrame} from './wire';

describe('wire frames', () => {
  it('round-trips a header and payload', () => {
    const frame = decodeFrame(
      encodeFrame({type: 'arrow', queryId: 'q1'}, new Uint8Array([1, 2, 3])),
    );
    expect(frame?.header).toEqual({type: 'arrow', queryId: 'q1'});
    expect([...(frame?.payload ?? [])]).toEqual([1, 2, 3]);
  });

  it('takes an empty payload', () => {
    expect(decodeFrame(encodeFrame({type: 'export'}, new Uint8Array()))?.payload.byteLength).toBe(
      0,
    );
  });

  it('refuses what is not a frame', () => {
    expect(decodeFrame(new ArrayBuffer(2))).toBeNull();
    const tooLong = new Uint8Array(8);
    new DataView(tooLong.buffer).setUint32(0, 100, false);
    expect(decodeFrame(tooLong.buffer)).toBeNull();
    const zero = new Uint8Array(4);
    expect(decodeFrame(zero.buffer)).toBeNull();
    for (const header of ['not json', '[1,2]', 'null', '42']) {
      const head = new TextEncoder().encode(header);
      const out = new Uint8Array(4 + head.length);
      new DataView(out.buffer).setUint32(0, head.length, false);
      out.set(head, 4);
      expect(decodeFrame(out.buffer)).toBeNull();
    }
  });

  it('reads a frame that sits inside a larger buffer view', () => {
    const bytes = new Uint8Array(encodeFrame({type: 'arrow', queryId: 'x'}, new Uint8Array([9])));
    expect(decodeFrame(bytes.buffer)?.payload[0]).toBe(9);
  });
});
