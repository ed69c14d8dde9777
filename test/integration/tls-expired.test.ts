// Expired certificates are refused, by tsetcd as by etcd 3.6, in the same run: one member of each
// with client and peer TLS and mutual authentication, all certificates from one CA, and
// - etcdctl with an expired client certificate: refused (the same last line from both);
// - a raw TLS client with an expired certificate, on the client port and on the peer port (what
//   a member with an expired peer certificate sends when it dials): nothing is served; etcd ends
//   the handshake with a certificate_expired alert, tsetcd (node) closes the connection without
//   an alert — the one difference, at the TLS layer only;
// - the same clients with a valid certificate of the same CA: served (the control; on the peer
//   port, etcd answers /version and tsetcd an 'info' hello frame).
// The certificates are made with the operator's own signer (operator/controller/certificates.ts)
// on a clock set back: the expired one was valid for a day, two days ago.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issue, type PemPair } from '../../operator/controller/certificates.js';
import { ETCD, printLog, start, stopProc, waitHealthy, type Proc } from './etcd36.js';
import { etcdctl, freePorts, haveEtcd36, requireTools, TSETCD_BIN } from './harness.js';

const tools = requireTools();
const d = tools.ok && haveEtcd36(['etcd'], 'the expired certificate tests') ? describe.sequential : describe.skip;

const DAY_MS = 24 * 3600 * 1000;
const LOOPBACK = ['IP:127.0.0.1', 'DNS:localhost'];

interface Files {
  cert: string;
  key: string;
}

/** What a TLS client saw: the alert that ended the handshake, or the server's first answer. */
function tlsOutcome(port: number, ca: string, pair: PemPair, request: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, ca, cert: pair.cert, key: pair.key, servername: 'localhost' });
    let settled = false;
    const done = (what: string): void => {
      if (settled) return;
      settled = true;
      s.destroy();
      resolve(what);
    };
    // TLS 1.3: the server judges the client's certificate after the client's Finished, so the
    // refusal arrives as an alert on the first read.
    s.once('secureConnect', () => s.write(request));
    s.once('data', (b: Buffer) => done(typeof request === 'string' ? `answered: ${b.toString('latin1').split('\r\n')[0] ?? ''}` : 'answered'));
    s.once('error', (e: NodeJS.ErrnoException) => done(`refused: ${e.code ?? e.message}`));
    s.once('close', () => done('closed without an answer'));
    s.setTimeout(10_000, () => done('no answer'));
  });
}

d('expired certificates: refused by tsetcd as by etcd 3.6', () => {
  let dir = '';
  let ca: PemPair;
  let caFile = '';
  let valid: PemPair;
  let expired: PemPair;
  const files: Record<string, Files> = {};
  const procs: Proc[] = [];
  const servers: Array<{ name: string; client: number; peer: number }> = [];

  const write = (name: string, p: PemPair): Files => {
    const f = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
    writeFileSync(f.cert, p.cert);
    writeFileSync(f.key, p.key);
    return f;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsetcd-tls-expired-'));
    const now = Date.now();
    const leaf = (commonName: string, server: boolean, nowMs: number, lifetimeMs: number): Promise<PemPair> =>
      issue({ role: server ? 'server' : 'operator', secretName: commonName, commonName, sans: LOOPBACK, server, lifetimeMs, reason: 'missing' }, ca, nowMs);
    ca = await issue({ role: 'ca', secretName: 'ca', commonName: 'expiry test CA', sans: [], server: false, lifetimeMs: 10 * DAY_MS, reason: 'missing' }, null, now - 5 * DAY_MS);
    caFile = join(dir, 'ca.crt');
    writeFileSync(caFile, ca.cert);
    files.member = write('member', await leaf('member', true, now, DAY_MS));
    valid = await leaf('client', true, now, DAY_MS);
    expired = await leaf('client-expired', true, now - 2 * DAY_MS, DAY_MS);
    files.valid = write('valid', valid);
    files.expired = write('expired', expired);

    for (const [name, bin] of [['etcd36', ETCD], ['tsetcd', TSETCD_BIN]] as const) {
      const [client, peer, metrics] = (await freePorts(3)) as [number, number, number];
      const m = files.member!;
      const p = start(
        name,
        bin,
        [
          `--name=${name}`,
          `--data-dir=${join(dir, name)}`,
          `--listen-client-urls=https://127.0.0.1:${client}`,
          `--advertise-client-urls=https://127.0.0.1:${client}`,
          `--listen-peer-urls=https://127.0.0.1:${peer}`,
          `--initial-advertise-peer-urls=https://127.0.0.1:${peer}`,
          `--initial-cluster=${name}=https://127.0.0.1:${peer}`,
          `--listen-metrics-urls=http://127.0.0.1:${metrics}`,
          `--cert-file=${m.cert}`, `--key-file=${m.key}`, `--trusted-ca-file=${caFile}`, '--client-cert-auth',
          `--peer-cert-file=${m.cert}`, `--peer-key-file=${m.key}`, `--peer-trusted-ca-file=${caFile}`, '--peer-client-cert-auth',
        ],
        join(dir, `${name}.log`),
        `http://127.0.0.1:${metrics}`,
      );
      procs.push(p);
      servers.push({ name, client, peer });
    }
    for (const p of procs) await waitHealthy(p, 30_000);
  }, 120_000);

  afterAll(async () => {
    for (const p of procs) await stopProc(p);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const onBoth = async (f: (s: { name: string; client: number; peer: number }) => Promise<string>): Promise<Record<string, string>> => {
    const out: Record<string, string> = {};
    for (const s of servers) out[s.name] = await f(s);
    console.log(JSON.stringify(out));
    return out;
  };
  const lastLine = (text: string): string => text.trim().split('\n').at(-1)?.replace(/127\.0\.0\.1:[0-9]+/g, 'EP') ?? '';

  it('etcdctl with an expired client certificate is refused, with a valid one served', async () => {
    const ctl = (s: { client: number }, f: Files, args: string[]) =>
      etcdctl(`https://127.0.0.1:${s.client}`, ['--dial-timeout=2s', '--command-timeout=3s', `--cacert=${caFile}`, `--cert=${f.cert}`, `--key=${f.key}`, ...args]);
    const good = await onBoth(async (s) => {
      const r = await ctl(s, files.valid!, ['put', 'k', 'v']);
      return `${r.code} ${lastLine(r.stdout + r.stderr)}`;
    });
    expect(good).toEqual({ etcd36: '0 OK', tsetcd: '0 OK' });
    const bad = await onBoth(async (s) => {
      const r = await ctl(s, files.expired!, ['get', 'k']);
      return `${r.code} ${lastLine(r.stderr)}`;
    });
    expect(bad['tsetcd']).not.toMatch(/^0 /);
    expect(bad['tsetcd']).toBe(bad['etcd36']);
  }, 60_000);

  it('a raw TLS client with an expired certificate is refused on the client port', async () => {
    const http = 'GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n';
    const good = await onBoth((s) => tlsOutcome(s.client, ca.cert, valid, http));
    expect(good).toEqual({ etcd36: 'answered: HTTP/1.1 200 OK', tsetcd: 'answered: HTTP/1.1 200 OK' });
    const bad = await onBoth((s) => tlsOutcome(s.client, ca.cert, expired, http));
    // Both refuse and serve nothing. The alert differs: etcd sends certificate_expired; node
    // closes the connection without an alert (it checks the chain after the handshake).
    expect(bad['etcd36']).toBe('refused: ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED');
    expect(['closed without an answer', 'refused: ECONNRESET']).toContain(bad['tsetcd']);
  }, 60_000);

  it('an expired peer certificate is refused on the peer port', async () => {
    // Each peer port in its own protocol: etcd's answers HTTP (/version), tsetcd's an 'info' hello
    // frame (node/transport/frames.ts: u32 LE length, u8 type 1, JSON) with an info or reject frame.
    const hello = Buffer.from(JSON.stringify({ clusterId: 0, from: 0, to: 0, kind: 'info' }));
    const frame = Buffer.concat([Buffer.alloc(5), hello]);
    frame.writeUInt32LE(hello.byteLength + 1, 0);
    frame.writeUInt8(1, 4);
    const probe = (name: string): string | Buffer => (name === 'tsetcd' ? frame : 'GET /version HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const good = await onBoth((s) => tlsOutcome(s.peer, ca.cert, valid, probe(s.name)));
    expect(good['etcd36']).toBe('answered: HTTP/1.1 200 OK');
    expect(good['tsetcd']).toBe('answered');
    const bad = await onBoth((s) => tlsOutcome(s.peer, ca.cert, expired, probe(s.name)));
    // etcd (Go) ends the handshake with a certificate_expired alert; tsetcd (node) closes the
    // connection without one (node verifies the chain after the handshake and destroys the socket).
    expect(bad['etcd36']).toBe('refused: ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED');
    expect(['closed without an answer', 'refused: ECONNRESET']).toContain(bad['tsetcd']);
    for (const p of procs) if (p.proc.exitCode !== null) printLog(p);
  }, 60_000);
});
