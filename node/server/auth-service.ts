// The Auth service, as etcd 3.6 serves it (etcdserver/v3_server.go, v3rpc/auth.go): every call
// goes through Raft and is applied by each member's auth store (node/mvcc/auth-store.ts), which
// also makes the root-only checks. Done here, before proposing, is only what needs CPU time or
// randomness an apply may not spend: bcrypt (hash a new password; compare on Authenticate) and
// the simple token's random prefix.

import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { randomInt } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { AuthError } from '../mvcc/auth-errors.js';
import type { Permission, PermType } from '../mvcc/auth-perms.js';
import type { AuthCommand, AuthReply } from '../mvcc/auth-store.js';
import { skeyOf } from '../mvcc/bytes.js';
import { authInfoOf } from './auth-check.js';
import type { ServerContext } from './rpc-context.js';
import { makeHeader, unary } from './rpc-context.js';

/** etcd's --bcrypt-cost default (bcrypt.DefaultCost). */
export const DEFAULT_BCRYPT_COST = 10;
/** Authenticate retries while the auth revision moves under the password check (etcd loops). */
const AUTHENTICATE_ATTEMPTS = 5;

const TOKEN_LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** A simple token's random part (etcd: 16 letters); the applying members add ".<raft index>". */
function genTokenPrefix(): string {
  let s = '';
  for (let i = 0; i < 16; i++) s += TOKEN_LETTERS[randomInt(TOKEN_LETTERS.length)];
  return s;
}

const sk = (b: Uint8Array | undefined | null): string => (b === undefined || b === null || b.length === 0 ? '' : skeyOf(b));

interface PermWire {
  permType: number;
  key: Uint8Array;
  rangeEnd: Uint8Array;
}

type Req = Record<string, unknown> & {
  name?: string;
  password?: string;
  hashedPassword?: string;
  options?: { noPassword?: boolean } | null;
  user?: string;
  role?: string;
  perm?: PermWire | null;
  key?: Uint8Array;
  rangeEnd?: Uint8Array;
};

/** bcrypt reads 72 bytes; Go's refuses a longer password (etcd passes its error on, gRPC Unknown). */
const BCRYPT_MAX_PASSWORD_BYTES = 72;

async function hashPassword(ctx: ServerContext, password: string): Promise<string> {
  if (Buffer.byteLength(password, 'utf8') > BCRYPT_MAX_PASSWORD_BYTES) throw new Error('bcrypt: password length exceeds 72 bytes');
  const hash = await bcrypt.hash(password, ctx.auth?.bcryptCost ?? DEFAULT_BCRYPT_COST);
  return Buffer.from(hash).toString('base64');
}

/** etcd's CheckPassword: the auth revision the password was good at. */
async function checkPassword(ctx: ServerContext, name: string, password: string): Promise<number> {
  const store = ctx.backend.auth.store;
  if (!store.enabled) throw new AuthError('authNotEnabled');
  const u = store.user(name);
  if (!u) throw new AuthError('authFailed');
  if (u.noPassword) throw new AuthError('noPasswordUser');
  const rev = store.revision();
  const ok = await bcrypt.compare(password, Buffer.from(u.password, 'base64').toString());
  if (!ok) throw new AuthError('authFailed');
  return rev;
}

function permOf(p: PermWire | null | undefined): Permission | undefined {
  if (!p) return undefined;
  return { permType: (p.permType ?? 0) as PermType, key: sk(p.key), rangeEnd: sk(p.rangeEnd) };
}

/** The AuthCommand each call proposes (after any bcrypt work). */
async function commandOf(ctx: ServerContext, method: string, r: Req): Promise<AuthCommand> {
  const name = r.name ?? '';
  switch (method) {
    case 'AuthEnable':
      return { type: 'authEnable' };
    case 'AuthDisable':
      return { type: 'authDisable' };
    case 'AuthStatus':
      return { type: 'authStatus' };
    case 'UserAdd': {
      const noPassword = r.options?.noPassword === true;
      return { type: 'userAdd', name, noPassword, hashedPassword: noPassword ? '' : await hashPassword(ctx, r.password ?? '') };
    }
    case 'UserDelete':
      return { type: 'userDelete', name };
    case 'UserChangePassword':
      return { type: 'userChangePassword', name, hashedPassword: await hashPassword(ctx, r.password ?? '') };
    case 'UserGrantRole':
      return { type: 'userGrantRole', user: r.user ?? '', role: r.role ?? '' };
    case 'UserRevokeRole':
      return { type: 'userRevokeRole', name, role: r.role ?? '' };
    case 'UserGet':
      return { type: 'userGet', name };
    case 'UserList':
      return { type: 'userList' };
    case 'RoleAdd':
      return { type: 'roleAdd', name };
    case 'RoleDelete':
      return { type: 'roleDelete', role: r.role ?? '' };
    case 'RoleGet':
      return { type: 'roleGet', role: r.role ?? '' };
    case 'RoleList':
      return { type: 'roleList' };
    case 'RoleGrantPermission':
      return { type: 'roleGrantPermission', name, perm: permOf(r.perm) };
    case 'RoleRevokePermission':
      return { type: 'roleRevokePermission', role: r.role ?? '', key: sk(r.key), rangeEnd: sk(r.rangeEnd) };
    default:
      throw new Error(`unknown auth method ${method}`);
  }
}

/** The response message for an applied auth command. */
function responseOf(ctx: ServerContext, reply: AuthReply): Record<string, unknown> {
  const header = makeHeader(ctx);
  switch (reply.type) {
    case 'none':
      return { header };
    case 'status':
      return { header, enabled: reply.enabled, authRevision: reply.authRevision };
    case 'authenticated':
      return { header, token: reply.token ?? '' };
    case 'roles':
      return { header, roles: reply.roles };
    case 'users':
      return { header, users: reply.users };
    case 'perms':
      return {
        header,
        perm: reply.perms.map((p) => ({ permType: p.permType, key: Buffer.from(p.key, 'latin1'), rangeEnd: Buffer.from(p.rangeEnd, 'latin1') })),
      };
  }
}

/** etcd's Authenticate: a linearizable barrier, then the password, then a token through Raft. */
export async function authenticate(ctx: ServerContext, r: Req): Promise<Record<string, unknown>> {
  const name = r.name ?? '';
  // A lagging member must not judge the password by an auth store that has not yet seen the user.
  await ctx.backend.auth.barrier();
  for (let attempt = 1; ; attempt++) {
    const checkedAt = await checkPassword(ctx, name, r.password ?? '');
    const reply = await ctx.backend.auth.request({ type: 'authenticate', name, simpleToken: genTokenPrefix() }, undefined);
    // The password was checked at one auth revision and the token made at another: it may
    // have changed in between (etcd retries until they agree).
    if (checkedAt === ctx.backend.auth.store.revision() || attempt >= AUTHENTICATE_ATTEMPTS) return responseOf(ctx, reply);
  }
}

const METHODS = [
  'AuthEnable',
  'AuthDisable',
  'AuthStatus',
  'UserAdd',
  'UserGet',
  'UserList',
  'UserDelete',
  'UserChangePassword',
  'UserGrantRole',
  'UserRevokeRole',
  'RoleAdd',
  'RoleGet',
  'RoleList',
  'RoleDelete',
  'RoleGrantPermission',
  'RoleRevokePermission',
] as const;

export function authService(ctx: ServerContext): UntypedServiceImplementation {
  const S = 'etcdserverpb.Auth';
  const impl: UntypedServiceImplementation = {
    Authenticate: unary<Req, unknown>(ctx, S, 'Authenticate', () => false, (req) => authenticate(ctx, req)),
  };
  for (const m of METHODS) {
    impl[m] = unary<Req, unknown>(ctx, S, m, () => false, async (req, call) => {
      const ai = authInfoOf(ctx, call);
      const cmd = await commandOf(ctx, m, req);
      return responseOf(ctx, await ctx.backend.auth.request(cmd, ai));
    });
  }
  return impl;
}
