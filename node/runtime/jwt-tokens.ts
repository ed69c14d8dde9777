// etcd's JWT tokens (server/auth/jwt.go), `--auth-token jwt,pub-key=...,priv-key=...,
// sign-method=RS256,ttl=5m`: the token is a signed JWT with the claims {username, revision,
// exp}; checking it needs no table, only the public key, so every member (and a member that
// restarted) accepts the tokens any member signed. The revision is the one in the token: after
// an auth change, a token from before fails with "revision of auth store is old" (clients log
// in again).

import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/** etcd's sign methods (golang-jwt): RSA PKCS#1 v1.5, RSA-PSS, ECDSA. */
const METHODS: Readonly<Record<string, { readonly hash: string; readonly pss?: boolean; readonly ec?: boolean }>> = {
  RS256: { hash: 'sha256' },
  RS384: { hash: 'sha384' },
  RS512: { hash: 'sha512' },
  PS256: { hash: 'sha256', pss: true },
  PS384: { hash: 'sha384', pss: true },
  PS512: { hash: 'sha512', pss: true },
  ES256: { hash: 'sha256', ec: true },
  ES384: { hash: 'sha384', ec: true },
  ES512: { hash: 'sha512', ec: true },
};

export interface JwtOptions {
  readonly signMethod: string;
  readonly publicKeyPem: string;
  /** Without it the member only verifies (etcd's verify-only mode). */
  readonly privateKeyPem?: string;
  readonly ttlMs: number;
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

export class JwtTokens {
  private readonly pub: KeyObject;
  private readonly priv: KeyObject | undefined;
  private readonly method: { readonly hash: string; readonly pss?: boolean; readonly ec?: boolean };

  constructor(
    private readonly opts: JwtOptions,
    private readonly nowMs: () => number,
  ) {
    const m = METHODS[opts.signMethod];
    if (!m) throw new Error(`auth: invalid auth signature method ${opts.signMethod}`);
    this.method = m;
    this.pub = createPublicKey(opts.publicKeyPem);
    this.priv = opts.privateKeyPem ? createPrivateKey(opts.privateKeyPem) : undefined;
  }

  private keyOpts(key: KeyObject): Parameters<typeof sign>[2] {
    const m = this.method;
    if (m.ec) return { key, dsaEncoding: 'ieee-p1363' };
    if (m.pss) return { key, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: -1 /* digest length */ };
    return key;
  }

  assign(username: string, revision: number): string {
    if (!this.priv) throw new Error('auth: token signing attempted with verify-only key');
    const head = b64url(JSON.stringify({ alg: this.opts.signMethod, typ: 'JWT' }));
    const exp = Math.floor((this.nowMs() + this.opts.ttlMs) / 1000);
    const body = b64url(JSON.stringify({ exp, revision, username }));
    const sig = sign(this.method.hash, Buffer.from(`${head}.${body}`), this.keyOpts(this.priv) as KeyObject);
    return `${head}.${body}.${b64url(sig)}`;
  }

  /** The user and revision of a well-signed, unexpired token; undefined otherwise. */
  info(token: string): { username: string; revision: number } | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [head, body, sig] = parts as [string, string, string];
    try {
      const h = JSON.parse(Buffer.from(head, 'base64url').toString()) as { alg?: unknown };
      if (h.alg !== this.opts.signMethod) return undefined;
      if (!verify(this.method.hash, Buffer.from(`${head}.${body}`), this.keyOpts(this.pub) as KeyObject, Buffer.from(sig, 'base64url'))) return undefined;
      const c = JSON.parse(Buffer.from(body, 'base64url').toString()) as { username?: unknown; revision?: unknown; exp?: unknown };
      if (typeof c.username !== 'string' || typeof c.revision !== 'number') return undefined;
      if (typeof c.exp === 'number' && c.exp * 1000 <= this.nowMs()) return undefined;
      return { username: c.username, revision: c.revision };
    } catch {
      return undefined;
    }
  }
}
