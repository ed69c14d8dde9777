import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter } from './codec.js';
import { decodeCommand, encodeCommand, type Command } from './index.js';
import { TestRng } from './testing/rng.js';
import { randomCommand } from './testing/random-commands.js';

const b = (s: string): Uint8Array => Buffer.from(s);

function normal(x: unknown): unknown {
  if (x instanceof Uint8Array) return `b:${Buffer.from(x).toString('hex')}`;
  if (Array.isArray(x)) return x.map(normal);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).filter(([, v]) => v !== undefined).map(([k, v]) => [k, normal(v)]));
  return x;
}

describe('command codec', () => {
  it('round-trips random commands exactly (seed printed on failure)', () => {
    for (const seed of [1, 2, 3]) {
      const rng = new TestRng(seed);
      for (let i = 0; i < 2000; i++) {
        const cmd = randomCommand(rng, { revision: 1 + rng.int(1e6), compactRevision: rng.int(100), leases: [7n, 2n ** 52n + 3n, -5n, 2n ** 63n - 1n, -(2n ** 63n)] });
        const bytes = encodeCommand(cmd);
        expect(normal(decodeCommand(bytes)), `seed ${seed} #${i}`).toEqual(normal(cmd));
      }
    }
  });

  it('keeps large and negative integers and binary keys exact', () => {
    const cmd: Command = {
      type: 'put',
      req: { key: Uint8Array.of(0, 255, 1), value: new Uint8Array(70_000).fill(9), lease: 2n ** 63n - 1n, prevKv: true, ignoreValue: false, ignoreLease: true },
    };
    expect(normal(decodeCommand(encodeCommand(cmd)))).toEqual(normal(cmd));
    const cp: Command = { type: 'leaseCheckpoint', req: { checkpoints: [{ ID: -(2n ** 40n), remainingTTL: 0 }] } };
    expect(decodeCommand(encodeCommand(cp))).toEqual(cp);
  });

  it('fills proto3 defaults for omitted fields', () => {
    const d = decodeCommand(encodeCommand({ type: 'put', req: { key: b('k') } }));
    expect(normal(d)).toEqual(normal({ type: 'put', req: { key: b('k'), value: new Uint8Array(0), lease: 0n, prevKv: false, ignoreValue: false, ignoreLease: false } }));
  });

  it('rejects truncated and trailing bytes', () => {
    const bytes = encodeCommand({ type: 'put', req: { key: b('key'), value: b('value') } });
    expect(() => decodeCommand(bytes.subarray(0, bytes.length - 2))).toThrow();
    expect(() => decodeCommand(Buffer.concat([bytes, Uint8Array.of(0)]))).toThrow();
    expect(() => decodeCommand(Uint8Array.of(9, 1))).toThrow(/version/);
  });

  it('a put of a small key and value is compact', () => {
    expect(encodeCommand({ type: 'put', req: { key: b('/registry/pods/a'), value: b('x') } }).length).toBeLessThan(25);
  });
});

describe('ByteReader.varintBig', () => {
  it('reads zeros among other values and stops at the end of the buffer', () => {
    const w = new ByteWriter();
    const values = [0n, 5n, 0n, -3n, 2n ** 63n - 1n, 0n, -(2n ** 63n)];
    for (const v of values) {
      w.varintBig(v);
      w.varint(7);
    }
    const r = new ByteReader(Buffer.from(w.view()));
    for (const v of values) {
      expect(r.varintBig()).toBe(v);
      expect(r.varint()).toBe(7);
    }
    expect(() => r.varintBig()).toThrow();
  });
});

describe('ByteWriter short-copy paths', () => {
  it('latin1 and append write the same bytes on both sides of the short-copy bound', () => {
    const rng = new TestRng(7);
    for (const n of [0, 1, 63, 64, 65, 200]) {
      // Every byte value, 0x80-0xff included: keys are latin1 strings of raw bytes.
      const bytes = Buffer.from(Array.from({ length: n }, () => rng.int(256)));
      const key = bytes.toString('latin1');
      const w = new ByteWriter(4);
      w.latin1(key);
      const body = new ByteWriter(4);
      body.raw(bytes);
      w.append(body);
      const r = new ByteReader(w.finish());
      expect(r.uvarint()).toBe(n);
      expect(Buffer.from(w.finish().subarray(r.pos, r.pos + n)).equals(bytes)).toBe(true);
      expect(Buffer.from(w.finish().subarray(r.pos + n)).equals(bytes)).toBe(true);
    }
  });

  it('writes a zero lease id as one zero byte, as the range path did', () => {
    const w = new ByteWriter(1);
    w.varintBig(0n);
    w.varintBig(1n);
    w.varintBig(-1n);
    expect([...w.finish()]).toEqual([0, 2, 1]);
  });
});
