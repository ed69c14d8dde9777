import { describe, expect, it } from 'vitest';
import { IpPool, intToIp, ipToInt } from './ip-pool.js';

describe('IpPool', () => {
  it('converts addresses both ways', () => {
    expect(intToIp(ipToInt('198.18.3.4'))).toBe('198.18.3.4');
    expect(() => ipToInt('1.2.3')).toThrow();
  });
  it('hands out distinct addresses above the reserved block, never .0, .255 or the gateway', () => {
    const pool = new IpPool('198.18.0.1/16');
    const seen = new Set<string>();
    for (let i = 0; i < 600; i++) {
      const ip = pool.allocate();
      expect(seen.has(ip)).toBe(false);
      expect(ip).not.toMatch(/\.(0|255)$/);
      expect(ipToInt(ip)).toBeGreaterThanOrEqual(ipToInt('198.18.1.0'));
      seen.add(ip);
    }
  });
  it('does not reuse a released address at once, and skips reserved ones', () => {
    const pool = new IpPool('10.0.0.1/29', 0); // .2 .. .6 usable besides the gateway .1
    pool.reserve('10.0.0.3');
    const a = pool.allocate();
    expect(a).toBe('10.0.0.2');
    pool.release(a);
    expect(pool.allocate()).toBe('10.0.0.4');
    expect(pool.allocate()).toBe('10.0.0.5');
    expect(pool.allocate()).toBe('10.0.0.6');
    expect(pool.allocate()).toBe('10.0.0.2');
    expect(() => pool.allocate()).toThrow(/exhausted/);
  });
});
