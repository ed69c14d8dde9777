// The two seeded checks every hand-written response encoder gets (txn-codec.test.ts,
// watch-codec.test.ts): answers as the member makes them, which the encoder must take and write
// as proto-loader does; and answers with one value spoiled somewhere, which the method's
// serializer must answer as proto-loader answers them, with the same bytes or the same error.

import { expect, it } from 'vitest';
import { TestRng } from '../../../mvcc/testing/rng.js';
import { objectsIn, outcome, spoil } from './random-messages.js';

export interface ResponseEncoding<T> {
  /** A random answer shaped as the member makes it. */
  make(rng: TestRng): T;
  /** The hand-written encoder alone: it throws on what it leaves to proto-loader. */
  encode(m: T): Buffer;
  /** The method's serializer: the hand-written encoder in front of proto-loader's. */
  serialize(v: unknown): Buffer;
  /** What every other method's serializer does (grpc-server.ts): proto-loader, zero values left off. */
  reference(v: unknown): Buffer;
}

/** Registers both checks, `cases` answers per seed, the seed in each test's name. */
export function responseEncodingTests<T>(seeds: readonly number[], cases: number, c: ResponseEncoding<T>): void {
  it.each(seeds)('answers as the member makes them, seed %i: the fast path takes every one', (seed) => {
    const rng = new TestRng(seed * 1009);
    for (let i = 0; i < cases; i++) {
      const m = c.make(rng);
      const want = c.reference(m).toString('hex');
      expect({ i, hex: c.encode(m).toString('hex') }).toEqual({ i, hex: want });
      expect({ i, hex: c.serialize(m).toString('hex') }).toEqual({ i, hex: want });
    }
  });

  it.each(seeds)('values only proto-loader converts go to proto-loader, seed %i', (seed) => {
    const rng = new TestRng(seed * 7);
    for (let i = 0; i < cases / 4; i++) {
      const m = c.make(rng);
      spoil(rng, rng.pick(objectsIn(m)));
      const hex = (f: (v: unknown) => Buffer) => outcome(() => f(m).toString('hex'));
      expect({ i, r: hex(c.serialize) }).toEqual({ i, r: hex(c.reference) });
    }
  });
}
