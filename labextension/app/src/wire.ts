/**
 * The server's binary frames (docs/protocol.md), for every protocol client of the app:
 * `[4-byte big-endian header length][JSON header][payload]`. Query answers carry
 * `{"type":"arrow","queryId":Q}` and an Arrow IPC stream; exports `{"type":"export",…}` and the
 * next bytes of the file.
 */

export type Frame = {header: Record<string, unknown>; payload: Uint8Array};

/** Splits a binary frame; null when it is not one (too short, bad length, header not a JSON object). */
export function decodeFrame(data: ArrayBuffer): Frame | null {
  if (data.byteLength < 4) return null;
  const length = new DataView(data).getUint32(0, false);
  if (length === 0 || 4 + length > data.byteLength) return null;
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(new Uint8Array(data, 4, length)));
  } catch {
    return null;
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return null;
  return {header: header as Record<string, unknown>, payload: new Uint8Array(data, 4 + length)};
}

/** Builds a binary frame (what the server sends; used by tests and uploads). */
export function encodeFrame(header: Record<string, unknown>, payload: Uint8Array): ArrayBuffer {
  const head = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + head.length + payload.length);
  new DataView(out.buffer).setUint32(0, head.length, false);
  out.set(head, 4);
  out.set(payload, 4 + head.length);
  return out.buffer;
}
