import { describe, expect, it } from 'vitest';
import { quantityBytes } from './size-limit.js';

describe('quantityBytes', () => {
  it('reads the quantities PVCs request, and refuses others', () => {
    expect(quantityBytes('96Ki')).toBe(98_304);
    expect(quantityBytes('1Mi')).toBe(1_048_576);
    expect(quantityBytes('2Gi')).toBe(2 * 1024 ** 3);
    expect(quantityBytes('500k')).toBe(500_000);
    expect(quantityBytes('1000')).toBe(1000);
    expect(quantityBytes('1.5Gi')).toBeNull();
    expect(quantityBytes('')).toBeNull();
  });
});
