// The lean gRPC server's wire helpers: message framing across DATA chunks, grpc-timeout units,
// grpc-message percent-encoding, and metadata read from HTTP/2 headers.

import { describe, expect, it } from 'vitest';
import { HeaderMetadata, MessageReader, TooLargeError, encodeGrpcMessage, frameMessage, parseTimeout } from './wire.js';

describe('MessageReader', () => {
  it('splits messages however the bytes are chunked', () => {
    const a = Buffer.from('first message');
    const b = Buffer.alloc(0);
    const c = Buffer.from('x'.repeat(300));
    const wire = Buffer.concat([frameMessage(a), frameMessage(b), frameMessage(c)]);
    // Every split of the stream into chunks of one size gives the same messages.
    for (const size of [1, 2, 3, 4, 5, 6, 7, 17, 64, wire.length]) {
      const r = new MessageReader(1000);
      const got: string[] = [];
      for (let i = 0; i < wire.length; i += size) for (const m of r.push(wire.subarray(i, i + size))) got.push(m.bytes.toString());
      expect(got, `chunk size ${size}`).toEqual([a.toString(), '', c.toString()]);
      expect(r.partial()).toBe(false);
    }
  });

  it('reads the compressed flag and keeps a started message as partial', () => {
    const r = new MessageReader(100);
    const framed = frameMessage(Buffer.from('abc'));
    framed[0] = 1;
    expect(r.push(framed.subarray(0, 6))).toEqual([]);
    expect(r.partial()).toBe(true);
    expect(r.push(framed.subarray(6))).toEqual([{ compressed: true, bytes: Buffer.from('abc') }]);
  });

  it("refuses an oversized message from its prefix, with grpc-go's text", () => {
    const r = new MessageReader(10);
    const head = Buffer.from([0, 0, 0, 0, 11]);
    expect(() => r.push(head)).toThrow(TooLargeError);
    expect(() => new MessageReader(10).push(head)).toThrow('grpc: received message larger than max (11 vs. 10)');
  });
});

describe('grpc-timeout', () => {
  it('converts every unit to ms, rounding up', () => {
    expect(parseTimeout(undefined)).toBeUndefined();
    expect(parseTimeout('1H')).toBe(3_600_000);
    expect(parseTimeout('2M')).toBe(120_000);
    expect(parseTimeout('3S')).toBe(3000);
    expect(parseTimeout('250m')).toBe(250);
    expect(parseTimeout('1500u')).toBe(2);
    expect(parseTimeout('99999999n')).toBe(100);
  });

  it('is NaN when malformed (more than 8 digits, no unit, unknown unit)', () => {
    for (const bad of ['123456789S', '10', '10x', '', 'S']) expect(parseTimeout(bad), bad).toBeNaN();
  });
});

describe('grpc-message', () => {
  it('leaves printable ASCII alone and percent-encodes the rest as UTF-8, and %', () => {
    expect(encodeGrpcMessage('etcdserver: key not found')).toBe('etcdserver: key not found');
    expect(encodeGrpcMessage('100% sure')).toBe('100%25 sure');
    expect(encodeGrpcMessage('a\nb')).toBe('a%0Ab');
    expect(encodeGrpcMessage('clé')).toBe('cl%C3%A9');
    expect(decodeURIComponent(encodeGrpcMessage('ünïcödé % \t'))).toBe('ünïcödé % \t');
  });
});

describe('HeaderMetadata', () => {
  it('answers get() as grpc-js Metadata does: lists, -bin base64-decoded, absent empty', () => {
    const md = new HeaderMetadata({ token: 'abc', 'x-bin': 'AQID,BAU=', hasleader: 'true', multi: ['1', '2'] });
    expect(md.get('token')).toEqual(['abc']);
    expect(md.get('Token')).toEqual(['abc']);
    expect(md.get('missing')).toEqual([]);
    expect(md.get('multi')).toEqual(['1', '2']);
    expect(md.get('x-bin')).toEqual([Buffer.from([1, 2, 3]), Buffer.from([4, 5])]);
    expect(md.getMap()).toEqual({ token: 'abc', 'x-bin': Buffer.from([1, 2, 3]), hasleader: 'true', multi: '1' });
  });
});
