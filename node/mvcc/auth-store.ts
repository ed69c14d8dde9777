// The replicated auth state and etcd's rules for changing it (server/auth/store.go), as a pure
// state machine: every member applies the same auth commands from the Raft log in the same
// order and ends with the same users, roles, enabled flag and auth revision.
//
// What is not here, because it needs a clock, randomness or CPU time no apply may spend:
// bcrypt (the server hashes a password before proposing it, as etcd 3.5+ does, and compares
// one before proposing Authenticate), the random token prefix (chosen by the proposer), and the
// token table with its TTL (node/runtime's simple-tokens.ts, fed by every member's apply).
//
// auth_revision moves exactly as etcd's: it starts at 1; every successful user/role change and
// AuthDisable adds one; AuthEnable, reads and Authenticate leave it alone.

import { AuthError } from './auth-errors.js';
import { mergePerms, rangeAllowed, validPermissionRange, type MergedPerms, type Permission, type PermType } from './auth-perms.js';

export const ROOT = 'root';

/** Who a request runs as: the user, and the auth revision its credentials were checked at. */
export interface AuthInfo {
  readonly username: string;
  readonly revision: number;
}

export interface AuthUser {
  readonly name: string;
  /** base64 of the bcrypt hash; '' for a noPassword user */
  readonly password: string;
  /** sorted, as etcd keeps them (UserGrantRole sorts) */
  readonly roles: readonly string[];
  readonly noPassword: boolean;
}

export interface AuthRole {
  readonly name: string;
  /** sorted by key */
  readonly perms: readonly Permission[];
}

/** Every auth request that goes through Raft. Keys are skeys. */
export type AuthCommand =
  | { type: 'authEnable' }
  | { type: 'authDisable' }
  | { type: 'authStatus' }
  | { type: 'authenticate'; name: string; simpleToken: string }
  | { type: 'userAdd'; name: string; hashedPassword: string; noPassword: boolean }
  | { type: 'userDelete'; name: string }
  | { type: 'userChangePassword'; name: string; hashedPassword: string }
  | { type: 'userGrantRole'; user: string; role: string }
  | { type: 'userRevokeRole'; name: string; role: string }
  | { type: 'userGet'; name: string }
  | { type: 'userList' }
  | { type: 'roleAdd'; name: string }
  | { type: 'roleDelete'; role: string }
  | { type: 'roleGet'; role: string }
  | { type: 'roleList' }
  | { type: 'roleGrantPermission'; name: string; perm: Permission | undefined }
  | { type: 'roleRevokePermission'; role: string; key: string; rangeEnd: string };

/** The string fields each command carries (a decoded log entry is checked against this). */
const COMMAND_FIELDS: { readonly [T in AuthCommand['type']]: readonly string[] } = {
  authEnable: [],
  authDisable: [],
  authStatus: [],
  authenticate: ['name', 'simpleToken'],
  userAdd: ['name', 'hashedPassword'],
  userDelete: ['name'],
  userChangePassword: ['name', 'hashedPassword'],
  userGrantRole: ['user', 'role'],
  userRevokeRole: ['name', 'role'],
  userGet: ['name'],
  userList: [],
  roleAdd: ['name'],
  roleDelete: ['role'],
  roleGet: ['role'],
  roleList: [],
  roleGrantPermission: ['name'],
  roleRevokePermission: ['role', 'key', 'rangeEnd'],
};

/** True if `v` (JSON from a log entry) is an auth command every member can apply. */
export function isAuthCommand(v: unknown): v is AuthCommand {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Record<string, unknown>;
  const type = c['type'];
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(COMMAND_FIELDS, type)) return false;
  if (!COMMAND_FIELDS[type as AuthCommand['type']].every((f) => typeof c[f] === 'string')) return false;
  if (type === 'userAdd' && typeof c['noPassword'] !== 'boolean') return false;
  if (type === 'roleGrantPermission' && c['perm'] !== undefined) {
    const p = c['perm'] as Record<string, unknown> | null;
    // Any int32, as etcd stores whatever enum value the request carried (mergePerms ignores unknown ones).
    const t = typeof p === 'object' && p !== null ? p['permType'] : undefined;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < -0x80000000 || t > 0x7fffffff || typeof p!['key'] !== 'string' || typeof p!['rangeEnd'] !== 'string') return false;
  }
  return true;
}

/** What an applied auth command answers (the server adds the header). */
export type AuthResult =
  | { type: 'none' }
  | { type: 'status'; enabled: boolean; authRevision: number }
  | { type: 'authenticated'; username: string; revision: number; simpleToken: string }
  | { type: 'roles'; roles: string[] }
  | { type: 'users'; users: string[] }
  | { type: 'perms'; perms: Permission[] };

/** What the proposer of an auth entry gets back: the result, and the token for Authenticate. */
export type AuthReply = AuthResult & { token?: string };

/** The permission etcd reports for the root role: read and write over every key. */
const ROOT_PERM: Permission = { permType: 2, key: '', rangeEnd: '\u0000' };

export interface AuthStateJSON {
  enabled: boolean;
  revision: number;
  users: Array<{ name: string; password: string; roles: string[]; noPassword: boolean }>;
  /** keys base64 */
  roles: Array<{ name: string; perms: Array<{ permType: number; key: string; rangeEnd: string }> }>;
}

const b64 = (s: string): string => Buffer.from(s, 'latin1').toString('base64');
const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('latin1');

/** etcd's set of requests that need the root role when auth is on (apply_auth.go). */
const ADMIN_ONLY: ReadonlySet<AuthCommand['type']> = new Set([
  'authEnable',
  'authDisable',
  'authStatus',
  'userAdd',
  'userDelete',
  'userChangePassword',
  'userGrantRole',
  'userRevokeRole',
  'roleAdd',
  'roleGrantPermission',
  'roleRevokePermission',
  'roleDelete',
  'userList',
  'roleList',
]);

export class AuthStore {
  private on = false;
  private rev = 1;
  private users = new Map<string, AuthUser>();
  private roles = new Map<string, AuthRole>();
  /** username -> merged permissions; dropped on every change (etcd rebuilds its cache alike). */
  private permCache = new Map<string, MergedPerms>();

  get enabled(): boolean {
    return this.on;
  }

  revision(): number {
    return this.rev;
  }

  user(name: string): AuthUser | undefined {
    return this.users.get(name);
  }

  hasRole(user: string, role: string): boolean {
    return this.users.get(user)?.roles.includes(role) ?? false;
  }

  // ------------------------------------------------------------------ checks

  /** etcd's IsAdminPermitted. */
  checkAdmin(ai: AuthInfo | undefined): AuthError | undefined {
    if (!this.on) return undefined;
    if (!ai || ai.username === '') return new AuthError('userEmpty');
    const u = this.users.get(ai.username);
    if (!u) return new AuthError('userNotFound');
    return u.roles.includes(ROOT) ? undefined : new AuthError('permissionDenied');
  }

  /**
   * etcd's isOpPermitted: read or write over [key, rangeEnd) (skeys; rangeEnd '' = one key,
   * '\0' = from key on). A request checked at an older auth revision than the store's fails
   * with ErrAuthOldRevision: the permissions it was checked against may be gone.
   */
  checkRange(ai: AuthInfo | undefined, write: boolean, key: string, rangeEnd: string): AuthError | undefined {
    if (!this.on) return undefined;
    if (!ai || ai.revision === 0) return new AuthError('userEmpty');
    if (ai.revision < this.rev) return new AuthError('authOldRevision');
    const u = this.users.get(ai.username);
    if (!u) return new AuthError('permissionDenied');
    if (u.roles.includes(ROOT)) return undefined;
    return rangeAllowed(this.permsOf(u), write, key, rangeEnd) ? undefined : new AuthError('permissionDenied');
  }

  private permsOf(u: AuthUser): MergedPerms {
    let p = this.permCache.get(u.name);
    if (!p) {
      const all: Permission[] = [];
      for (const r of u.roles) for (const perm of this.roles.get(r)?.perms ?? []) all.push(perm);
      p = mergePerms(all);
      this.permCache.set(u.name, p);
    }
    return p;
  }

  // ------------------------------------------------------------------ apply

  /** Applies one auth command as `ai` (etcd's authApplierV3 then authStore). Throws AuthError. */
  apply(cmd: AuthCommand, ai: AuthInfo | undefined): AuthResult {
    if (ADMIN_ONLY.has(cmd.type)) {
      const denied = this.checkAdmin(ai);
      if (denied) throw denied;
    }
    switch (cmd.type) {
      case 'authEnable':
        return this.authEnable();
      case 'authDisable':
        if (this.on) {
          this.on = false;
          this.commit();
        }
        return { type: 'none' };
      case 'authStatus':
        return { type: 'status', enabled: this.on, authRevision: this.rev };
      case 'authenticate':
        return this.authenticate(cmd.name, cmd.simpleToken);
      case 'userAdd':
        return this.userAdd(cmd.name, cmd.hashedPassword, cmd.noPassword);
      case 'userDelete':
        return this.userDelete(cmd.name);
      case 'userChangePassword': {
        const u = this.mustUser(cmd.name);
        this.users.set(u.name, { ...u, password: u.noPassword ? '' : cmd.hashedPassword });
        return this.commit();
      }
      case 'userGrantRole':
        return this.userGrantRole(cmd.user, cmd.role);
      case 'userRevokeRole':
        return this.userRevokeRole(cmd.name, cmd.role);
      case 'userGet': {
        // Any user may read itself; others need root.
        const denied = this.checkAdmin(ai);
        if (denied && cmd.name !== ai?.username) throw denied;
        return { type: 'roles', roles: [...this.mustUser(cmd.name).roles] };
      }
      case 'userList':
        return { type: 'users', users: [...this.users.keys()].sort(byBytes) };
      case 'roleAdd':
        return this.roleAdd(cmd.name);
      case 'roleDelete':
        return this.roleDelete(cmd.role);
      case 'roleGet': {
        // A user may read the roles it has; others need root.
        const denied = this.checkAdmin(ai);
        if (denied && !(ai && this.hasRole(ai.username, cmd.role))) throw denied;
        const role = this.roles.get(cmd.role);
        if (!role) throw new AuthError('roleNotFound');
        return { type: 'perms', perms: role.name === ROOT ? [ROOT_PERM] : [...role.perms] };
      }
      case 'roleList':
        return { type: 'roles', roles: [...this.roles.keys()].sort(byBytes) };
      case 'roleGrantPermission':
        return this.roleGrantPermission(cmd.name, cmd.perm);
      case 'roleRevokePermission':
        return this.roleRevokePermission(cmd.role, cmd.key, cmd.rangeEnd);
      default: {
        const never: never = cmd;
        throw new Error(`unknown auth command ${JSON.stringify(never)}`);
      }
    }
  }

  private commit(): AuthResult {
    this.rev++;
    this.permCache.clear();
    return { type: 'none' };
  }

  private mustUser(name: string): AuthUser {
    const u = this.users.get(name);
    if (!u) throw new AuthError('userNotFound');
    return u;
  }

  private authEnable(): AuthResult {
    if (this.on) return { type: 'none' };
    const root = this.users.get(ROOT);
    if (!root) throw new AuthError('rootUserNotExist');
    if (!root.roles.includes(ROOT)) throw new AuthError('rootRoleNotExist');
    this.on = true;
    this.permCache.clear();
    return { type: 'none' };
  }

  private authenticate(name: string, simpleToken: string): AuthResult {
    if (!this.on) throw new AuthError('authNotEnabled');
    const u = this.users.get(name);
    if (!u || u.noPassword) throw new AuthError('authFailed');
    return { type: 'authenticated', username: name, revision: this.rev, simpleToken };
  }

  private userAdd(name: string, hashedPassword: string, noPassword: boolean): AuthResult {
    if (name === '') throw new AuthError('userEmpty');
    if (this.users.has(name)) throw new AuthError('userAlreadyExist');
    this.users.set(name, { name, password: noPassword ? '' : hashedPassword, roles: [], noPassword });
    return this.commit();
  }

  private userDelete(name: string): AuthResult {
    if (this.on && name === ROOT) throw new AuthError('invalidAuthMgmt');
    this.mustUser(name);
    this.users.delete(name);
    return this.commit();
  }

  private userGrantRole(user: string, role: string): AuthResult {
    const u = this.mustUser(user);
    // The root role needs no record to be granted (etcd).
    if (role !== ROOT && !this.roles.has(role)) throw new AuthError('roleNotFound');
    if (u.roles.includes(role)) return { type: 'none' }; // ignored, no revision bump
    this.users.set(user, { ...u, roles: [...u.roles, role].sort(byBytes) });
    return this.commit();
  }

  private userRevokeRole(name: string, role: string): AuthResult {
    if (this.on && name === ROOT && role === ROOT) throw new AuthError('invalidAuthMgmt');
    const u = this.mustUser(name);
    const roles = u.roles.filter((r) => r !== role);
    if (roles.length === u.roles.length) throw new AuthError('roleNotGranted');
    this.users.set(name, { ...u, roles });
    return this.commit();
  }

  private roleAdd(name: string): AuthResult {
    if (name === '') throw new AuthError('roleEmpty');
    if (this.roles.has(name)) throw new AuthError('roleAlreadyExist');
    this.roles.set(name, { name, perms: [] });
    return this.commit();
  }

  private roleDelete(role: string): AuthResult {
    if (this.on && role === ROOT) throw new AuthError('invalidAuthMgmt');
    if (!this.roles.has(role)) throw new AuthError('roleNotFound');
    this.roles.delete(role);
    for (const u of this.users.values()) {
      if (u.roles.includes(role)) this.users.set(u.name, { ...u, roles: u.roles.filter((r) => r !== role) });
    }
    return this.commit();
  }

  private roleGrantPermission(name: string, perm: Permission | undefined): AuthResult {
    if (!perm) throw new AuthError('permissionNotGiven');
    if (!validPermissionRange(perm.key, perm.rangeEnd)) throw new AuthError('invalidAuthMgmt');
    const role = this.roles.get(name);
    if (!role) throw new AuthError('roleNotFound');
    const perms = role.perms.slice();
    // etcd finds the first permission whose key is >= the new key, and updates it in place
    // only if it has the same key and range end; otherwise it appends and re-sorts.
    const idx = perms.findIndex((p) => p.key >= perm.key);
    const at = idx >= 0 ? perms[idx] : undefined;
    if (at && at.key === perm.key && at.rangeEnd === perm.rangeEnd) {
      perms[idx] = { ...at, permType: perm.permType };
    } else {
      perms.push({ permType: perm.permType, key: perm.key, rangeEnd: perm.rangeEnd });
      stableSortByKey(perms);
    }
    this.roles.set(name, { name, perms });
    return this.commit();
  }

  private roleRevokePermission(roleName: string, key: string, rangeEnd: string): AuthResult {
    const role = this.roles.get(roleName);
    if (!role) throw new AuthError('roleNotFound');
    const perms = role.perms.filter((p) => p.key !== key || p.rangeEnd !== rangeEnd);
    if (perms.length === role.perms.length) throw new AuthError('permissionNotGranted');
    this.roles.set(roleName, { name: roleName, perms });
    return this.commit();
  }

  // ------------------------------------------------------------------ snapshot

  toJSON(): AuthStateJSON {
    const names = (m: Map<string, unknown>): string[] => [...m.keys()].sort(byBytes);
    return {
      enabled: this.on,
      revision: this.rev,
      users: names(this.users).map((n) => {
        const u = this.users.get(n) as AuthUser;
        return { name: u.name, password: u.password, roles: [...u.roles], noPassword: u.noPassword };
      }),
      roles: names(this.roles).map((n) => {
        const r = this.roles.get(n) as AuthRole;
        return { name: r.name, perms: r.perms.map((p) => ({ permType: p.permType, key: b64(p.key), rangeEnd: b64(p.rangeEnd) })) };
      }),
    };
  }

  /** Replaces the whole state (a snapshot's); undefined: the initial state (older snapshots). */
  restore(j: AuthStateJSON | undefined): void {
    this.on = j?.enabled ?? false;
    this.rev = j?.revision ?? 1;
    this.users = new Map((j?.users ?? []).map((u) => [u.name, { name: u.name, password: u.password, roles: [...u.roles], noPassword: u.noPassword }]));
    this.roles = new Map(
      (j?.roles ?? []).map((r) => [
        r.name,
        { name: r.name, perms: r.perms.map((p) => ({ permType: p.permType as PermType, key: unb64(p.key), rangeEnd: unb64(p.rangeEnd) })) },
      ]),
    );
    this.permCache.clear();
  }
}

/** Names and keys sort as bytes, as bbolt keeps them. */
function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Go's sort.Sort is not stable, but keys of one role differ or the grant updated in place. */
function stableSortByKey(perms: Permission[]): void {
  perms.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
