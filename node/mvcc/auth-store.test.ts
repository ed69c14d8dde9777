import { describe, expect, it } from 'vitest';
import { AuthError } from './auth-errors.js';
import { checkCommand, checkTxn } from './auth-gate.js';
import { PermType } from './auth-perms.js';
import { AuthStore, isAuthCommand, type AuthCommand, type AuthInfo } from './auth-store.js';

const b = (s: string): Buffer => Buffer.from(s);

function codeOf(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof AuthError) return e.code;
    throw e;
  }
}

/** A store with root (root role), alice (reader of foo/), bob (writer of foo/a); auth on. */
function seeded(): AuthStore {
  const s = new AuthStore();
  const run = (c: AuthCommand): void => void s.apply(c, undefined);
  run({ type: 'userAdd', name: 'root', hashedPassword: 'h', noPassword: false });
  run({ type: 'userGrantRole', user: 'root', role: 'root' });
  run({ type: 'userAdd', name: 'alice', hashedPassword: 'h', noPassword: false });
  run({ type: 'userAdd', name: 'bob', hashedPassword: 'h', noPassword: false });
  run({ type: 'roleAdd', name: 'reader' });
  run({ type: 'roleAdd', name: 'writer' });
  run({ type: 'roleGrantPermission', name: 'reader', perm: { permType: PermType.READ, key: 'foo/', rangeEnd: 'foo0' } });
  run({ type: 'roleGrantPermission', name: 'writer', perm: { permType: PermType.READWRITE, key: 'foo/a', rangeEnd: '' } });
  run({ type: 'userGrantRole', user: 'alice', role: 'reader' });
  run({ type: 'userGrantRole', user: 'bob', role: 'writer' });
  run({ type: 'authEnable' });
  return s;
}

const as = (s: AuthStore, username: string): AuthInfo => ({ username, revision: s.revision() });

describe('auth store (etcd server/auth/store.go rules)', () => {
  it('auth_revision starts at 1 and moves only on successful changes and AuthDisable', () => {
    const s = new AuthStore();
    expect(s.revision()).toBe(1);
    s.apply({ type: 'userAdd', name: 'root', hashedPassword: 'h', noPassword: false }, undefined);
    expect(s.revision()).toBe(2);
    expect(codeOf(() => s.apply({ type: 'userAdd', name: 'root', hashedPassword: 'h', noPassword: false }, undefined))).toBe('userAlreadyExist');
    expect(codeOf(() => s.apply({ type: 'authEnable' }, undefined))).toBe('rootRoleNotExist');
    s.apply({ type: 'userGrantRole', user: 'root', role: 'root' }, undefined); // the root role needs no record
    s.apply({ type: 'userGrantRole', user: 'root', role: 'root' }, undefined); // already granted: no bump
    expect(s.revision()).toBe(3);
    s.apply({ type: 'authEnable' }, undefined);
    expect(s.enabled).toBe(true);
    expect(s.revision()).toBe(3); // enable does not bump
    s.apply({ type: 'authDisable' }, { username: 'root', revision: 3 });
    expect(s.revision()).toBe(4);
    s.apply({ type: 'authDisable' }, undefined); // already off: nothing
    expect(s.revision()).toBe(4);
  });

  it('a permission type etcd does not know is stored, as etcd stores it, and grants nothing (found by the wire fuzzer)', () => {
    const s = seeded();
    const cmd: unknown = JSON.parse(JSON.stringify({ type: 'roleGrantPermission', name: 'reader', perm: { permType: 9, key: 'bar/', rangeEnd: 'bar0' } }));
    expect(isAuthCommand(cmd)).toBe(true);
    s.apply(cmd as AuthCommand, as(s, 'root'));
    const alice = as(s, 'alice');
    expect(s.checkRange(alice, false, 'bar/x', '')?.code).toBe('permissionDenied');
    expect(s.checkRange(alice, true, 'bar/x', '')?.code).toBe('permissionDenied');
    expect(s.checkRange(alice, false, 'foo/x', '')).toBeUndefined();
  });

  it('AuthEnable needs the root user, with the root role', () => {
    const s = new AuthStore();
    expect(codeOf(() => s.apply({ type: 'authEnable' }, undefined))).toBe('rootUserNotExist');
  });

  it('the root user and role are protected while auth is on', () => {
    const s = seeded();
    const root = as(s, 'root');
    expect(codeOf(() => s.apply({ type: 'userDelete', name: 'root' }, root))).toBe('invalidAuthMgmt');
    expect(codeOf(() => s.apply({ type: 'roleDelete', role: 'root' }, root))).toBe('invalidAuthMgmt');
    expect(codeOf(() => s.apply({ type: 'userRevokeRole', name: 'root', role: 'root' }, root))).toBe('invalidAuthMgmt');
    // The root role is granted without a record (as etcd); once added, it reports every key.
    expect(codeOf(() => s.apply({ type: 'roleGet', role: 'root' }, root))).toBe('roleNotFound');
    s.apply({ type: 'roleAdd', name: 'root' }, root);
    expect(s.apply({ type: 'roleGet', role: 'root' }, as(s, 'root'))).toEqual({ type: 'perms', perms: [{ permType: PermType.READWRITE, key: '', rangeEnd: '\u0000' }] });
  });

  it('admin-only requests need root; UserGet and RoleGet allow oneself and one’s roles', () => {
    const s = seeded();
    expect(codeOf(() => s.apply({ type: 'userList' }, undefined))).toBe('userEmpty');
    expect(codeOf(() => s.apply({ type: 'userList' }, as(s, 'ghost')))).toBe('userNotFound');
    expect(codeOf(() => s.apply({ type: 'userList' }, as(s, 'alice')))).toBe('permissionDenied');
    expect(s.apply({ type: 'userList' }, as(s, 'root'))).toEqual({ type: 'users', users: ['alice', 'bob', 'root'] });
    expect(s.apply({ type: 'userGet', name: 'alice' }, as(s, 'alice'))).toEqual({ type: 'roles', roles: ['reader'] });
    expect(codeOf(() => s.apply({ type: 'userGet', name: 'bob' }, as(s, 'alice')))).toBe('permissionDenied');
    expect(codeOf(() => s.apply({ type: 'roleGet', role: 'reader' }, as(s, 'alice')))).toBe('ok');
    expect(codeOf(() => s.apply({ type: 'roleGet', role: 'writer' }, as(s, 'alice')))).toBe('permissionDenied');
  });

  it('permission checks: root everywhere, users by role, stale revisions and empty users refused', () => {
    const s = seeded();
    expect(s.checkRange(as(s, 'root'), true, 'anything', '\u0000')).toBeUndefined();
    expect(s.checkRange(as(s, 'alice'), false, 'foo/x', '')).toBeUndefined();
    expect(s.checkRange(as(s, 'alice'), true, 'foo/x', '')?.code).toBe('permissionDenied');
    expect(s.checkRange(undefined, false, 'foo/x', '')?.code).toBe('userEmpty');
    const stale = as(s, 'alice');
    s.apply({ type: 'roleRevokePermission', role: 'reader', key: 'foo/', rangeEnd: 'foo0' }, as(s, 'root'));
    expect(s.checkRange(stale, false, 'foo/x', '')?.code).toBe('authOldRevision');
    expect(s.checkRange(as(s, 'alice'), false, 'foo/x', '')?.code).toBe('permissionDenied');
    expect(codeOf(() => s.apply({ type: 'roleRevokePermission', role: 'reader', key: 'foo/', rangeEnd: 'foo0' }, as(s, 'root')))).toBe('permissionNotGranted');
  });

  it('role delete drops the role from its users; grant-permission updates in place', () => {
    const s = seeded();
    const root = as(s, 'root');
    s.apply({ type: 'roleGrantPermission', name: 'writer', perm: { permType: PermType.READ, key: 'foo/a', rangeEnd: '' } }, root);
    expect(s.apply({ type: 'roleGet', role: 'writer' }, as(s, 'root'))).toEqual({ type: 'perms', perms: [{ permType: PermType.READ, key: 'foo/a', rangeEnd: '' }] });
    s.apply({ type: 'roleDelete', role: 'writer' }, as(s, 'root'));
    expect(s.apply({ type: 'userGet', name: 'bob' }, as(s, 'root'))).toEqual({ type: 'roles', roles: [] });
    expect(codeOf(() => s.apply({ type: 'roleGrantPermission', name: 'reader', perm: undefined }, as(s, 'root')))).toBe('permissionNotGiven');
    expect(codeOf(() => s.apply({ type: 'roleGrantPermission', name: 'reader', perm: { permType: 0, key: 'b', rangeEnd: 'a' } }, as(s, 'root')))).toBe('invalidAuthMgmt');
  });

  it('Authenticate: auth on, a known user with a password', () => {
    const s = seeded();
    s.apply({ type: 'userAdd', name: 'svc', hashedPassword: '', noPassword: true }, as(s, 'root'));
    expect(codeOf(() => s.apply({ type: 'authenticate', name: 'svc', simpleToken: 'x' }, undefined))).toBe('authFailed');
    expect(codeOf(() => s.apply({ type: 'authenticate', name: 'ghost', simpleToken: 'x' }, undefined))).toBe('authFailed');
    expect(s.apply({ type: 'authenticate', name: 'alice', simpleToken: 'x' }, undefined)).toEqual({ type: 'authenticated', username: 'alice', revision: s.revision(), simpleToken: 'x' });
  });

  it('a snapshot round trip keeps users, roles, flag and revision (keys as bytes)', () => {
    const s = seeded();
    s.apply({ type: 'roleGrantPermission', name: 'reader', perm: { permType: PermType.READ, key: '\u00ff\u0000k', rangeEnd: '\u0000' } }, as(s, 'root'));
    const j = JSON.parse(JSON.stringify(s.toJSON())) as ReturnType<AuthStore['toJSON']>;
    const t = new AuthStore();
    t.restore(j);
    expect(t.toJSON()).toEqual(s.toJSON());
    expect(t.enabled).toBe(true);
    expect(t.checkRange(as(t, 'alice'), false, '\u00ff\u0000kz', '')).toBeUndefined();
    t.restore(undefined);
    expect([t.enabled, t.revision()]).toEqual([false, 1]);
  });

  it('decoded log entries are checked before apply', () => {
    expect(isAuthCommand({ type: 'userAdd', name: 'a', hashedPassword: 'h', noPassword: false })).toBe(true);
    expect(isAuthCommand({ type: 'userAdd', name: 'a' })).toBe(false);
    expect(isAuthCommand({ type: 'nope' })).toBe(false);
    expect(isAuthCommand({ type: 'roleGrantPermission', name: 'r', perm: { permType: 'READ', key: 'a', rangeEnd: '' } })).toBe(false);
    expect(isAuthCommand({ type: 'roleGrantPermission', name: 'r', perm: { permType: 1.5, key: 'a', rangeEnd: '' } })).toBe(false);
    expect(isAuthCommand(null)).toBe(false);
  });
});

describe('apply-time checks of writes (etcd authApplierV3)', () => {
  const keys = new Map<bigint, string[]>([[7n, ['foo/a', 'other']]]);
  const leaseKeys = (id: bigint): string[] | undefined => keys.get(id);

  it('put, delete, prev_kv, leases and compaction', () => {
    const s = seeded();
    const bob = as(s, 'bob');
    const put = (key: string, extra: object = {}): string | undefined => checkCommand(s, bob, { type: 'put', req: { key: b(key), value: b('v'), ...extra } }, leaseKeys)?.code;
    expect(put('foo/a')).toBeUndefined();
    expect(put('foo/b')).toBe('permissionDenied');
    expect(put('foo/a', { prevKv: true })).toBeUndefined();
    expect(put('foo/a', { lease: 7n })).toBe('permissionDenied'); // the lease holds a key bob cannot write
    expect(checkCommand(s, bob, { type: 'leaseRevoke', req: { ID: 7n } }, leaseKeys)?.code).toBe('permissionDenied');
    expect(checkCommand(s, bob, { type: 'leaseGrant', req: { TTL: 5, ID: 0n } }, leaseKeys)).toBeUndefined();
    expect(checkCommand(s, bob, { type: 'compaction', req: { revision: 1 } }, leaseKeys)?.code).toBe('permissionDenied');
    expect(checkCommand(s, as(s, 'root'), { type: 'compaction', req: { revision: 1 } }, leaseKeys)).toBeUndefined();
    expect(checkCommand(s, as(s, 'alice'), { type: 'deleteRange', req: { key: b('foo/a') } }, leaseKeys)?.code).toBe('permissionDenied');
    expect(checkCommand(s, bob, { type: 'deleteRange', req: { key: b('foo/a'), rangeEnd: b('foo/b') } }, leaseKeys)?.code).toBe('permissionDenied');
    expect(checkCommand(s, bob, { type: 'deleteRange', req: { key: b('foo/a') } }, leaseKeys)).toBeUndefined();
  });

  it('a txn is checked on every compare and every op of both branches, nested too', () => {
    const s = seeded();
    const alice = as(s, 'alice');
    const cmp = { result: 0 as const, target: 3 as const, key: b('foo/a'), value: b('1') };
    expect(checkTxn(s, alice, { compare: [cmp], success: [{ requestRange: { key: b('foo/a') } }], failure: [] })).toBeUndefined();
    expect(checkTxn(s, alice, { compare: [cmp], success: [], failure: [{ requestPut: { key: b('foo/a') } }] })?.code).toBe('permissionDenied');
    expect(checkTxn(s, alice, { compare: [{ ...cmp, key: b('bar') }] })?.code).toBe('permissionDenied');
    const nested = { success: [{ requestTxn: { success: [{ requestDeleteRange: { key: b('foo/x') } }] } }] };
    expect(checkTxn(s, alice, nested)?.code).toBe('permissionDenied');
    expect(checkTxn(s, alice, { success: [{ requestTxn: { failure: [{ requestRange: { key: b('foo/'), rangeEnd: b('foo0') } }] } }] })).toBeUndefined();
  });

  it('with auth off, nothing is checked', () => {
    const s = new AuthStore();
    expect(checkCommand(s, undefined, { type: 'put', req: { key: b('x'), value: b('v') } }, leaseKeys)).toBeUndefined();
  });
});
