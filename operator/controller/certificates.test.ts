// Certificates signed by the operator, checked by others: openssl verifies the chain and reads the
// names; a real TLS handshake with mutual authentication succeeds for a pod's DNS name and the client
// Service name, and a client certificate from another CA is refused. observeCert reads back what
// planCertificates needs.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../api/defaults.js';
import { effectiveTls, planCertificates, type CertRequest } from '../plan/tls.js';
import { haveOpenssl, OPENSSL } from '../../test/testing/openssl-ca.js';
import { caCertOf, issue, observeCert } from './certificates.js';

const ref = { name: 'demo', namespace: 'db', uid: 'u1' };
const NOW = Date.UTC(2026, 11, 1);

async function issueAll(): Promise<Map<string, { cert: string; key: string }>> {
  const spec = effectiveTls(ref, resolveSpec({}), false);
  const none = { ca: null, server: null, peer: null, operator: null };
  const plan = planCertificates(ref, spec, none, NOW);
  expect(plan.issue.map((r) => `${r.role}:${r.reason}`)).toEqual(['ca:missing', 'server:missing', 'peer:missing', 'operator:missing']);
  const out = new Map<string, { cert: string; key: string }>();
  const ca = await issue(plan.issue[0]!, null, Date.now());
  out.set('ca', ca);
  for (const r of plan.issue.slice(1) as CertRequest[]) out.set(r.role, await issue(r, ca, Date.now()));
  return out;
}

function handshake(server: { cert: string; key: string }, ca: string, client: { cert: string; key: string } | undefined, servername: string): Promise<string> {
  return new Promise((resolve) => {
    const srv = tls.createServer({ cert: server.cert, key: server.key, ca, requestCert: true, rejectUnauthorized: true }, (s) => s.end('ok'));
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      const c = tls.connect({ host: '127.0.0.1', port, servername, ca, ...(client ?? {}) });
      let got = '';
      let err = '';
      c.on('data', (d: Buffer) => (got += d.toString()));
      c.on('error', (e) => (err = e.message));
      c.on('close', () => {
        srv.close();
        resolve(got || err || 'closed');
      });
    });
  });
}

describe('operator-issued certificates', () => {
  it('verify with openssl, carry the member names, and authenticate both ways', async () => {
    const certs = await issueAll();
    const ca = certs.get('ca')!;
    const server = certs.get('server')!;
    const op = certs.get('operator')!;
    if (haveOpenssl()) {
      const dir = mkdtempSync(join(tmpdir(), 'tsetcd-op-certs-'));
      try {
        writeFileSync(join(dir, 'ca.pem'), ca.cert);
        writeFileSync(join(dir, 'server.pem'), server.cert);
        writeFileSync(join(dir, 'op.pem'), op.cert);
        const verify = execFileSync(OPENSSL, ['verify', '-CAfile', join(dir, 'ca.pem'), join(dir, 'server.pem'), join(dir, 'op.pem')], { encoding: 'utf8' });
        expect(verify).toContain('server.pem: OK');
        expect(verify).toContain('op.pem: OK');
        const text = execFileSync(OPENSSL, ['x509', '-in', join(dir, 'server.pem'), '-noout', '-text'], { encoding: 'utf8' });
        expect(text).toContain('DNS:*.demo-peer.db.svc');
        expect(text).toContain('DNS:demo-client.db.svc');
        expect(text).toContain('IP Address:127.0.0.1');
        expect(text).toContain('TLS Web Server Authentication, TLS Web Client Authentication');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    expect(await handshake(server, ca.cert, op, 'demo-1.demo-peer.db.svc')).toBe('ok');
    expect(await handshake(server, ca.cert, op, 'demo-client.db.svc')).toBe('ok');
    expect(await handshake(server, ca.cert, op, 'other.example')).toMatch(/altnames|Hostname/);
    // A client certificate of another CA is refused by the member side.
    const other = await issueAll();
    expect(await handshake(server, ca.cert, other.get('operator')!, 'demo-client.db.svc')).not.toBe('ok');
  });

  it('reads back what the planner needs: validity, names, the signing CA', async () => {
    const certs = await issueAll();
    const caCert = caCertOf({ 'tls.crt': Buffer.from(certs.get('ca')!.cert) });
    const secret = (r: string) => ({ 'tls.crt': Buffer.from(certs.get(r)!.cert), 'tls.key': Buffer.from(certs.get(r)!.key) });
    const obs = {
      ca: observeCert(secret('ca'), caCert, 'ca'),
      server: observeCert(secret('server'), caCert, 'server'),
      peer: observeCert(secret('peer'), caCert, 'peer'),
      operator: observeCert(secret('operator'), caCert, 'operator'),
    };
    expect(obs.ca?.signedByCa).toBe(true);
    expect(obs.server?.signedByCa).toBe(true);
    const spec = effectiveTls(ref, resolveSpec({}), false);
    const now = Date.now();
    expect(planCertificates(ref, spec, obs, now).issue).toEqual([]);
    // Signed by another CA: reissued.
    const foreign = caCertOf({ 'tls.crt': Buffer.from((await issueAll()).get('ca')!.cert) });
    expect(observeCert(secret('server'), foreign, 'server')?.signedByCa).toBe(false);
    expect(new X509Certificate(certs.get('operator')!.cert).subject).toBe('O=tsetcd-operator'); // no CN: etcd's gateway refuses one with auth on
  });
});
