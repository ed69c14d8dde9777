// The member's side of auth: applying auth entries to the replicated auth store and keeping
// the member-local token table in step (a token is made by every member when its Authenticate
// entry applies; a deleted user, a changed password or AuthDisable drops tokens, as etcd's
// tokenProvider does), and the apply-time check of writes made as a user.

import { AuthError } from '../mvcc/auth-errors.js';
import { checkCommand } from '../mvcc/auth-gate.js';
import { ROOT, type AuthCommand, type AuthInfo, type AuthReply, type AuthResult } from '../mvcc/auth-store.js';
import type * as mvcc from '../mvcc/types.js';
import { JwtTokens, type JwtOptions } from './jwt-tokens.js';
import { SimpleTokens } from './simple-tokens.js';
import type { StateMachine } from './state-machine.js';


/** Internal writes (lease expiry) run as root, like etcd's AuthStore.WithRoot. */
export const INTERNAL_ROOT: AuthInfo = { username: ROOT, revision: Number.MAX_SAFE_INTEGER };

export class MemberAuth {
  readonly tokens: SimpleTokens;
  /** Set with --auth-token jwt,...: tokens are signed JWTs instead of simple ones. */
  private readonly jwt: JwtTokens | undefined;

  constructor(
    private readonly sm: StateMachine,
    nowMs: () => number,
    tokenTtlMs?: number,
    jwt?: JwtOptions,
  ) {
    this.tokens = new SimpleTokens(nowMs, tokenTtlMs);
    this.jwt = jwt ? new JwtTokens(jwt, nowMs) : undefined;
  }

  /** ApplyResult-shaped: { ok, response } or { ok: false, error }. */
  apply(cmd: AuthCommand, ai: AuthInfo | undefined, index: number): { ok: true; response: AuthReply } | { ok: false; error: AuthError } {
    let res: AuthResult;
    try {
      res = this.sm.auth.apply(cmd, ai);
    } catch (err) {
      if (err instanceof AuthError) return { ok: false, error: err };
      throw err;
    }
    switch (cmd.type) {
      case 'userDelete':
      case 'userChangePassword':
        this.tokens.invalidateUser(cmd.name);
        break;
      case 'authDisable':
        this.tokens.clear();
        break;
      default:
        break;
    }
    if (res.type === 'authenticated') {
      const token = this.jwt ? this.jwt.assign(res.username, res.revision) : this.tokens.assign(res.simpleToken, index, res.username);
      return { ok: true, response: { ...res, token } };
    }
    return { ok: true, response: res };
  }

  /** The apply-time permission check of a write; undefined: apply it. */
  checkWrite(cmd: mvcc.Command, ai: AuthInfo | undefined): AuthError | undefined {
    if (!this.sm.auth.enabled) return undefined;
    return checkCommand(this.sm.auth, ai, cmd, this.sm.leaseKeys);
  }

  /**
   * The credentials a token stands for, or undefined (unknown, expired, bad signature, auth
   * off). A simple token carries the current auth revision; a JWT the one it was signed at.
   */
  tokenInfo(token: string): AuthInfo | undefined {
    if (!this.sm.auth.enabled) return undefined;
    if (this.jwt) return this.jwt.info(token);
    const username = this.tokens.username(token);
    return username === undefined ? undefined : { username, revision: this.sm.auth.revision() };
  }
}
