import { describe, expect, it } from 'vitest';
import { ENTRY_SLAB_BYTES, allocEntry, copyEntry } from './entry-arena.js';

describe('entry arena (raft entry payloads on slabs of their own)', () => {
  it('carves small payloads from one slab, 8-byte aligned, and never overlaps them', () => {
    const a = allocEntry(13);
    const b = allocEntry(100);
    expect(a.length).toBe(13);
    expect(b.length).toBe(100);
    if (a.buffer === b.buffer) expect(b.byteOffset - a.byteOffset).toBe(16);
    a.fill(1);
    b.fill(2);
    expect([...a].every((x) => x === 1)).toBe(true);
  });

  it('gives a large payload a buffer of its own and copies bytes exactly', () => {
    const big = allocEntry(ENTRY_SLAB_BYTES / 4);
    expect(big.byteOffset).toBe(0);
    expect(big.buffer.byteLength).toBe(ENTRY_SLAB_BYTES / 4);
    const src = Buffer.from('hello entry');
    const c = copyEntry(src.subarray(6));
    expect(c.toString()).toBe('entry');
    src.fill(0);
    expect(c.toString()).toBe('entry');
    expect(copyEntry(new Uint8Array(0)).length).toBe(0);
  });

  it('starts a new slab when one is full', () => {
    const seen = new Set<ArrayBufferLike>();
    for (let i = 0; i < (2 * ENTRY_SLAB_BYTES) / 1024; i++) seen.add(allocEntry(1024).buffer);
    expect(seen.size).toBeGreaterThanOrEqual(2);
  });
});
