import { describe, expect, it } from 'vitest';
import { ConfChangeDecodeError, decodeConfChange, encodeConfChange } from './conf-change.js';
import { SeededRng } from './rand.js';

describe('conf change codec', () => {
  it('round-trips every type, large ids and a context', () => {
    for (const type of ['addNode', 'addLearnerNode', 'removeNode', 'updateNode'] as const) {
      const cc = { type, nodeId: 2n ** 64n - 1n, context: new Uint8Array([1, 2, 3]) };
      expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
    }
    const small = { type: 'addNode' as const, nodeId: 7n, context: new Uint8Array() };
    expect(decodeConfChange(encodeConfChange(small))).toEqual(small);
  });

  it('rejects garbage with a typed error', () => {
    expect(() => decodeConfChange(new Uint8Array([1, 2]))).toThrow(ConfChangeDecodeError);
    const b = encodeConfChange({ type: 'addNode', nodeId: 1n, context: new Uint8Array([9]) });
    expect(() => decodeConfChange(b.subarray(0, b.length - 1))).toThrow(ConfChangeDecodeError);
    const bad = b.slice();
    bad[1] = 77;
    expect(() => decodeConfChange(bad)).toThrow(ConfChangeDecodeError);
  });
});

describe('SeededRng', () => {
  it('is deterministic per seed and stays in range', () => {
    const a = new SeededRng(42);
    const b = new SeededRng(42);
    const c = new SeededRng(43);
    const xs = Array.from({ length: 50 }, () => a.intn(10));
    expect(Array.from({ length: 50 }, () => b.intn(10))).toEqual(xs);
    expect(Array.from({ length: 50 }, () => c.intn(10))).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 10)).toBe(true);
    expect(new Set(xs).size).toBeGreaterThan(5);
    expect(() => a.intn(0)).toThrow(RangeError);
    // seeds that differ only above 2^32 still give different streams
    const hi1 = new SeededRng(2 ** 40);
    const hi2 = new SeededRng(2 ** 41);
    expect(Array.from({ length: 8 }, () => hi1.intn(1000))).not.toEqual(Array.from({ length: 8 }, () => hi2.intn(1000)));
  });
});
