import { describe, expect, it } from 'vitest';
import { mergePerms, PermType, rangeAllowed, validPermissionRange, type Permission } from './auth-perms.js';

const p = (permType: PermType, key: string, rangeEnd = ''): Permission => ({ permType, key, rangeEnd });
const read = (perms: Permission[], key: string, end = ''): boolean => rangeAllowed(mergePerms(perms), false, key, end);
const write = (perms: Permission[], key: string, end = ''): boolean => rangeAllowed(mergePerms(perms), true, key, end);

describe('permission ranges (etcd range_perm_cache semantics)', () => {
  it('a single-key permission allows that key only, and no range', () => {
    const perms = [p(PermType.READ, 'lone')];
    expect(read(perms, 'lone')).toBe(true);
    expect(read(perms, 'lone0')).toBe(false);
    expect(read(perms, 'lon')).toBe(false);
    // [lone, lone\0) is exactly the key, so a range over it is covered; a prefix range is not.
    expect(read(perms, 'lone', 'lone\u0000')).toBe(true);
    expect(read(perms, 'lone', 'lonf')).toBe(false);
  });

  it('a prefix permission covers its keys and sub-ranges, not beyond', () => {
    const perms = [p(PermType.READWRITE, 'foo/', 'foo0')];
    expect(read(perms, 'foo/a')).toBe(true);
    expect(write(perms, 'foo/')).toBe(true);
    expect(read(perms, 'foo0')).toBe(false);
    expect(read(perms, 'foo/', 'foo0')).toBe(true);
    expect(read(perms, 'foo/a', 'foo/b')).toBe(true);
    expect(read(perms, 'foo', 'foo0')).toBe(false); // starts before the prefix
    expect(read(perms, 'foo/', '\u0000')).toBe(false); // from-key: unbounded
  });

  it('a from-key permission (range end "\\0") is unbounded above', () => {
    const perms = [p(PermType.WRITE, 'bar', '\u0000')];
    expect(write(perms, 'bar')).toBe(true);
    expect(write(perms, 'zzz')).toBe(true);
    expect(write(perms, 'ba')).toBe(false);
    expect(write(perms, 'bar/', '\u0000')).toBe(true);
    expect(write(perms, 'b', '\u0000')).toBe(false);
    expect(read(perms, 'bar')).toBe(false); // write only
  });

  it('READ, WRITE and READWRITE fill the read and write sets', () => {
    const perms = [p(PermType.READ, 'r'), p(PermType.WRITE, 'w'), p(PermType.READWRITE, 'rw')];
    expect([read(perms, 'r'), write(perms, 'r')]).toEqual([true, false]);
    expect([read(perms, 'w'), write(perms, 'w')]).toEqual([false, true]);
    expect([read(perms, 'rw'), write(perms, 'rw')]).toEqual([true, true]);
  });

  it('a range is allowed when several permissions together cover it with no gap', () => {
    const adjacent = [p(PermType.READ, 'a', 'c'), p(PermType.READ, 'c', 'e')];
    expect(read(adjacent, 'a', 'e')).toBe(true);
    expect(read(adjacent, 'b', 'd')).toBe(true);
    const gap = [p(PermType.READ, 'a', 'c'), p(PermType.READ, 'd', 'e')];
    expect(read(gap, 'a', 'e')).toBe(false);
    expect(read(gap, 'a', 'c')).toBe(true);
    const overlapping = [p(PermType.READ, 'a', 'd'), p(PermType.READ, 'b', 'c'), p(PermType.READ, 'c', '\u0000')];
    expect(read(overlapping, 'a', '\u0000')).toBe(true);
  });

  it('no permission allows nothing', () => {
    expect(read([], 'a')).toBe(false);
    expect(read([], 'a', 'b')).toBe(false);
  });

  it('valid permission ranges: a key, then no end, a later end, or "\\0"', () => {
    expect(validPermissionRange('a', '')).toBe(true);
    expect(validPermissionRange('a', 'b')).toBe(true);
    expect(validPermissionRange('a', '\u0000')).toBe(true);
    expect(validPermissionRange('b', 'a')).toBe(false);
    expect(validPermissionRange('a', 'a')).toBe(false);
    expect(validPermissionRange('', '')).toBe(false);
  });
});
