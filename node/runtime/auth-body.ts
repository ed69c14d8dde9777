// The body of an 'auth' or 'mvccAs' entry: the credentials the proposer checked the request
// with, then the request.   u16 credentials JSON length | credentials JSON | request bytes
// Credentials are {username, revision}; none (length 0) when the client sent no token.

import type { AuthInfo } from '../mvcc/auth-store.js';

export function encodeAuthBody(ai: AuthInfo | undefined, request: Uint8Array): Buffer {
  const cred = ai ? Buffer.from(JSON.stringify({ username: ai.username, revision: ai.revision })) : Buffer.alloc(0);
  const out = Buffer.allocUnsafe(2 + cred.byteLength + request.byteLength);
  out.writeUInt16LE(cred.byteLength, 0);
  cred.copy(out, 2);
  out.set(request, 2 + cred.byteLength);
  return out;
}

/** Throws on bad bytes (entry-decode.ts turns that into a skipped entry). */
export function decodeAuthBody(body: Uint8Array): { ai: AuthInfo | undefined; request: Uint8Array } {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (b.byteLength < 2) throw new Error('auth entry body too short');
  const n = b.readUInt16LE(0);
  if (2 + n > b.byteLength) throw new Error('auth entry credentials truncated');
  let ai: AuthInfo | undefined;
  if (n > 0) {
    const j = JSON.parse(b.subarray(2, 2 + n).toString('utf8')) as Partial<AuthInfo>;
    if (typeof j.username !== 'string' || typeof j.revision !== 'number') throw new Error('auth entry credentials without username and revision');
    ai = { username: j.username, revision: j.revision };
  }
  return { ai, request: b.subarray(2 + n) };
}
