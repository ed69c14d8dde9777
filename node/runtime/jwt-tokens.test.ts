import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { JwtTokens } from './jwt-tokens.js';

function keys(kind: 'rsa' | 'ec'): { publicKeyPem: string; privateKeyPem: string } {
  const k =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
      : generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  return { publicKeyPem: k.publicKey, privateKeyPem: k.privateKey };
}

describe('JWT tokens (etcd server/auth/jwt.go)', () => {
  for (const [method, kind] of [
    ['RS256', 'rsa'],
    ['PS256', 'rsa'],
    ['ES256', 'ec'],
  ] as const) {
    it(`${method}: a signed token gives back its user and revision until it expires`, () => {
      let now = 1_000_000;
      const t = new JwtTokens({ signMethod: method, ...keys(kind), ttlMs: 60_000 }, () => now);
      const token = t.assign('alice', 7);
      expect(t.info(token)).toEqual({ username: 'alice', revision: 7 });
      expect(t.info(`${token}x`)).toBeUndefined();
      expect(t.info('a.b')).toBeUndefined();
      now += 60_000;
      expect(t.info(token)).toBeUndefined();
    });
  }

  it('a token signed with another key, or another method, is refused; verify-only cannot sign', () => {
    const a = new JwtTokens({ signMethod: 'RS256', ...keys('rsa'), ttlMs: 60_000 }, () => 0);
    const b = new JwtTokens({ signMethod: 'RS256', ...keys('rsa'), ttlMs: 60_000 }, () => 0);
    expect(b.info(a.assign('root', 1))).toBeUndefined();
    const k = keys('rsa');
    const rs = new JwtTokens({ signMethod: 'RS256', ...k, ttlMs: 60_000 }, () => 0);
    const ps = new JwtTokens({ signMethod: 'PS256', ...k, ttlMs: 60_000 }, () => 0);
    expect(ps.info(rs.assign('root', 1))).toBeUndefined();
    const verifyOnly = new JwtTokens({ signMethod: 'RS256', publicKeyPem: k.publicKeyPem, ttlMs: 60_000 }, () => 0);
    expect(verifyOnly.info(rs.assign('root', 3))).toEqual({ username: 'root', revision: 3 });
    expect(() => verifyOnly.assign('root', 1)).toThrow(/verify-only/);
    expect(() => new JwtTokens({ signMethod: 'HS999', ...k, ttlMs: 1 }, () => 0)).toThrow(/invalid auth signature method/);
  });
});
