// Memory for the payloads of Raft entries kept in the in-memory log: the ones this member
// proposes (mvcc/codec.ts encodeCommand with an envelope's headroom, runtime/envelope.ts) and the
// ones it decodes from peers (transport/codec.ts), carved from slabs used for nothing else.
//
// Raft keeps every entry in its in-memory log until a snapshot lets it compact (up to the
// snapshot count and the catch-up entries behind it: tens of thousands of entries). A small
// Buffer.allocUnsafe() comes from node's shared 8 KiB pool, where an entry sits beside whatever
// else was allocated at the time (the command's encoding, answers, frames), and keeps that whole
// slab alive: on a leader under 1000 clients the log's 46 MiB of payload held 91 MiB of Buffers.
// Entries leave the log in the order they came, so a slab holding only entries is freed whole.

/**
 * Bytes per slab; an entry larger than an eighth of it gets a buffer of its own. Above the malloc
 * mmap threshold the member runs with (hack/lib/member-node-args.ts, MEMBER_GLIBC_TUNABLES), so
 * each slab is a mapping of its own that goes back to the kernel whole, instead of a block in
 * glibc's heap between socket read buffers.
 */
export const ENTRY_SLAB_BYTES = 256 * 1024;

let slab: Buffer | undefined;
let used = 0;

/** A copy of an entry's payload in the arena. */
export function copyEntry(src: Uint8Array): Buffer {
  const b = allocEntry(src.byteLength);
  b.set(src);
  return b;
}

/** An uninitialized buffer of n bytes for an entry's payload (the caller writes all of it). */
export function allocEntry(n: number): Buffer {
  if (n > ENTRY_SLAB_BYTES / 8) return Buffer.allocUnsafeSlow(n);
  if (!slab || used + n > ENTRY_SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(ENTRY_SLAB_BYTES);
    used = 0;
  }
  const b = slab.subarray(used, used + n);
  // 8-byte aligned, as node's pool does.
  used += (n + 7) & ~7;
  return b;
}
