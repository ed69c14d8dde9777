// uvarintSize against the bytes both encoders really write, at every 7-bit boundary up to 2^53.
import { describe, expect, it } from 'vitest';
import { uvarintSize } from './varint-size.js';
import { ByteWriter } from '../mvcc/codec.js';
import { WireWriter } from '../server/codec/proto-wire.js';

const samples: number[] = [0, 1, 127, 128, 300, Number.MAX_SAFE_INTEGER];
for (let k = 1; k <= 7; k++) samples.push(2 ** (7 * k) - 1, 2 ** (7 * k), 2 ** (7 * k) + 1);

describe('uvarintSize', () => {
  it('is the length ByteWriter.uvarint writes', () => {
    for (const n of samples) {
      const w = new ByteWriter();
      w.uvarint(n);
      expect(uvarintSize(n), `n=${n}`).toBe(w.finish().length);
    }
  });

  it('is the length WireWriter.uvarint writes (the gRPC codec)', () => {
    for (const n of samples) {
      const w = new WireWriter(Buffer.alloc(16));
      w.uvarint(n);
      expect(uvarintSize(n), `n=${n}`).toBe(w.pos);
    }
  });
});
