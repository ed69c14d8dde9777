// Member ids in the operator are the member API's decimal uint64 strings, never JS numbers: they
// compare exactly and print in etcdctl's hex in status and events, at any of the 64 bits.
import { describe, expect, it } from 'vitest';
import { hexID } from './names.js';

describe('hexID', () => {
  it('prints any uint64 member id exactly in hex, as etcdctl does', () => {
    expect(hexID(String(2n ** 63n + 5n))).toBe('8000000000000005');
    expect(hexID(String(2n ** 64n - 1n))).toBe('ffffffffffffffff');
    expect(hexID(String(2n ** 53n + 1n))).toBe('20000000000001'); // a JS number would print ...0
    expect(hexID('1004')).toBe('3ec');
  });
  it('leaves a value that is not a decimal id as it is', () => {
    expect(hexID('')).toBe('');
    expect(hexID('abc')).toBe('abc');
  });
});
