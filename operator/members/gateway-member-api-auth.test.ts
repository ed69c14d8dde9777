// The gateway client's token handling against a scripted gateway on loopback (the real members are
// test/integration/operator-auth.test.ts): no login while the cluster's auth is off, one login for
// calls made at once, the Authorization header, a new login and one retry on "invalid auth token",
// and no second retry.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayMemberApi } from './gateway-member-api.js';
import { MemberApiError } from './member-api.js';

interface Gateway {
  authOn: boolean;
  /** Tokens the gateway knows. */
  tokens: Set<string>;
  logins: number;
  /** Every call: path and the Authorization it carried. */
  seen: Array<{ path: string; authorization: string | undefined }>;
}

const STATUS = { header: { cluster_id: '1', member_id: '2' }, leader: '2', raftIndex: '5', raftTerm: '2', version: '3.6.16' };

describe('GatewayMemberApi: auth tokens', () => {
  const gw: Gateway = { authOn: false, tokens: new Set(), logins: 0, seen: [] };
  let server: Server;
  let ep = '';
  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const path = req.url ?? '';
        gw.seen.push({ path, authorization: req.headers.authorization });
        const reply = (code: number, o: unknown): void => {
          res.writeHead(code, { 'content-type': 'application/json' });
          res.end(JSON.stringify(o));
        };
        if (path === '/v3/auth/authenticate') {
          if (!gw.authOn) return reply(400, { code: 9, message: 'etcdserver: authentication is not enabled' });
          const { name, password } = JSON.parse(body) as { name: string; password: string };
          if (name !== 'op' || password !== 'pw') return reply(400, { code: 3, message: 'etcdserver: authentication failed, invalid user ID or password' });
          const token = `tok${++gw.logins}`;
          gw.tokens.add(token);
          return reply(200, { header: {}, token });
        }
        const auth = req.headers.authorization;
        if (gw.authOn && auth === undefined) return reply(400, { code: 3, message: 'etcdserver: user name is empty' });
        if (gw.authOn && !gw.tokens.has(auth!)) return reply(401, { code: 16, message: 'etcdserver: invalid auth token' });
        return reply(200, STATUS);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const a = server.address();
    ep = `http://127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('auth off: no login, no header', async () => {
    const api = new GatewayMemberApi({ requestTimeoutMs: 2000, credentials: { username: 'op', password: 'pw' } });
    gw.seen = [];
    expect((await api.status(ep)).leaderID).toBe('2');
    expect(gw.seen).toEqual([{ path: '/v3/maintenance/status', authorization: undefined }]);
  });

  it('auth on: one login for calls made at once, then the token on every call', async () => {
    gw.authOn = true;
    gw.logins = 0;
    gw.seen = [];
    const api = new GatewayMemberApi({ requestTimeoutMs: 2000, credentials: { username: 'op', password: 'pw' } });
    await Promise.all([api.status(ep), api.status(ep), api.status(ep)]);
    expect(gw.logins).toBe(1);
    await api.status(ep);
    expect(gw.seen.at(-1)).toEqual({ path: '/v3/maintenance/status', authorization: 'tok1' });
    expect(gw.seen.filter((s) => s.path === '/v3/auth/authenticate')).toHaveLength(1);
  });

  it('a token the gateway no longer knows: log in again and retry once; a refusal after that stands', async () => {
    gw.authOn = true;
    gw.logins = 0;
    gw.tokens.clear();
    const api = new GatewayMemberApi({ requestTimeoutMs: 2000, credentials: { username: 'op', password: 'pw' } });
    await api.status(ep); // tok1
    gw.tokens.clear(); // auth disable + enable, or expiry
    gw.seen = [];
    await api.status(ep);
    expect(gw.seen.map((s) => `${s.path} ${s.authorization ?? '-'}`)).toEqual(['/v3/maintenance/status tok1', '/v3/auth/authenticate -', '/v3/maintenance/status tok2']);
    // A gateway that forgets every token at once: one retry only, then the error.
    const forgetful = new GatewayMemberApi({ requestTimeoutMs: 2000, credentials: { username: 'op', password: 'pw' } });
    await forgetful.status(ep);
    const add = gw.tokens.add.bind(gw.tokens);
    gw.tokens.clear();
    gw.tokens.add = () => gw.tokens; // new tokens are not kept
    try {
      const err = await forgetful.status(ep).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MemberApiError);
      expect((err as MemberApiError).message).toBe('etcdserver: invalid auth token');
    } finally {
      gw.tokens.add = add;
    }
  });

  it('a wrong password is Unauthenticated, with etcd text', async () => {
    gw.authOn = true;
    const api = new GatewayMemberApi({ requestTimeoutMs: 2000, credentials: { username: 'op', password: 'nope' } });
    const err = await api.status(ep).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'Unauthenticated', message: 'authenticating as "op": etcdserver: authentication failed, invalid user ID or password' });
  });
});
