// Peer TLS: with certificates (--peer-cert-file/--peer-key-file/--peer-trusted-ca-file and
// --peer-client-cert-auth), members talk over TLS and verify each other against the CA; a
// peer without a client certificate is refused. Certificates are made with openssl in a temp dir.
import { execFileSync } from 'node:child_process';
import { connect as tlsConnect } from 'node:tls';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message, NodeId } from '../raft/types.js';
import { silentLogger } from '../log.js';
import { TcpTransport, type PeerTlsOptions } from './tcp-transport.js';
import type { TransportHandler } from './types.js';

const OPENSSL = '/usr/bin/openssl';

class Collect implements TransportHandler {
  got: Message[] = [];
  receive(m: Message): void {
    this.got.push(m);
  }
  reportUnreachable(): void {}
  reportSnapshot(): void {}
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const msg = (from: NodeId, to: NodeId): Message => ({ type: 'heartbeat', from, to, term: 1, logTerm: 0, index: 0, commit: 0, reject: false, rejectHint: 0, entries: [] });

describe.skipIf(!existsSync(OPENSSL))('tcp transport over TLS', () => {
  let dir = '';
  let tls: PeerTlsOptions;
  const open: TcpTransport[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsetcd-peer-tls-'));
    const run = (...args: string[]) => execFileSync(OPENSSL, args, { cwd: dir, stdio: 'pipe' });
    run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=tsetcd-test-ca');
    writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
    run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'peer.key', '-out', 'peer.csr', '-subj', '/CN=127.0.0.1');
    run('x509', '-req', '-in', 'peer.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'peer.pem', '-days', '1', '-extfile', 'ext.cnf');
    tls = { cert: readFileSync(join(dir, 'peer.pem')), key: readFileSync(join(dir, 'peer.key')), ca: readFileSync(join(dir, 'ca.pem')), requestCert: true };
  });
  afterAll(async () => {
    await Promise.all(open.map((t) => t.stop()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('exchanges messages over mutual TLS and refuses a peer without a client certificate', async () => {
    const ha = new Collect();
    const hb = new Collect();
    const a = new TcpTransport({ id: 1n, clusterId: 7n, listenUrls: ['https://127.0.0.1:0'], handler: ha, logger: silentLogger, tls });
    const b = new TcpTransport({ id: 2n, clusterId: 7n, listenUrls: ['https://127.0.0.1:0'], handler: hb, logger: silentLogger, tls });
    open.push(a, b);
    await a.start();
    await b.start();
    a.setPeer(2n, [`https://127.0.0.1:${b.address()!.port}`]);
    b.setPeer(1n, [`https://127.0.0.1:${a.address()!.port}`]);
    await until(() => a.isActive(2n) && b.isActive(1n), 'TLS streams');
    a.send([msg(1n, 2n)]);
    b.send([msg(2n, 1n)]);
    await until(() => ha.got.length === 1 && hb.got.length === 1, 'delivery over TLS');

    // A client that presents no certificate is refused by --peer-client-cert-auth.
    const refused = await new Promise<string>((resolve) => {
      const sock = tlsConnect({ host: '127.0.0.1', port: b.address()!.port, ca: tls.ca, rejectUnauthorized: true });
      sock.on('secureConnect', () => sock.write('x'));
      sock.on('error', (e) => resolve(`error: ${e.message}`));
      sock.on('close', () => resolve('closed'));
    });
    expect(refused).toMatch(/error|closed/);
    expect(hb.got).toHaveLength(1);
  });
});
