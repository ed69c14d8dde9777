// Certificate rotation without restart, with real processes, real files and real clients:
// - a bad new file (unparsable, or a key that is not the certificate's) is refused: the member
//   keeps serving the previous certificate, logs an error and counts a failed reload;
// - leaf rotation: new certificates written the way the kubelet updates a Secret volume; new
//   connections on the client and peer ports present the new serial, while an etcd3 client's open
//   connection and a loop of fresh etcdctl connections see zero failures;
// - CA rollover (docs/operations.md, "Rotating certificates"): trust old+new CA, then leaves from
//   the new CA, then drop the old CA. A client of the old CA is then refused on new connections;
//   a restarted member (every peer stream dialled anew, both ways) rejoins on the new CA alone.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bundle, haveOpenssl, issueLeaf, makeCa, SecretVolume, type KeyPair } from '../testing/openssl-ca.js';
import { servedSerial } from '../testing/tls-probe.js';
import { Cluster, etcdctl, requireTools, waitFor, type RunningMember } from './harness.js';

const tools = requireTools();
const NAMES = ['m1', 'm2', 'm3'];

/** How the server ends a handshake from this client: the TLS alert text, or 'accepted'. */
function handshakeAnswer(port: number, client: KeyPair | undefined): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...(client ? { cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) } : {}) });
    s.setTimeout(5000, () => s.destroy());
    // TLS 1.3: the server judges the client's certificate after the client's Finished, so ask for an answer.
    s.once('secureConnect', () => s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
    s.once('data', () => {
      s.destroy();
      resolve('accepted');
    });
    let err = '';
    s.on('error', (e) => (err = e.message));
    s.once('close', () => resolve(err || 'closed'));
  });
}

/**
 * A bounded request loop on one etcd3 client (one long-lived connection) and fresh etcdctl
 * processes. stop() lets it reach minOk requests first (so the rotation had traffic around it).
 */
class Load {
  private stopRequested = false;
  private get stopped(): boolean {
    return this.stopRequested && this.ok >= this.minOk;
  }
  ok = 0;
  readonly failures: string[] = [];
  private readonly done: Promise<void>;
  constructor(client: Etcd3, ctlArgs: () => string[], endpoints: string, private readonly minOk = 200, maxRequests = 4000) {
    const etcd3Loop = async (): Promise<void> => {
      for (let i = 0; i < maxRequests && !this.stopped; i++) {
        try {
          await client.put(`load/${i % 50}`).value(String(i));
          this.ok++;
        } catch (e) {
          this.failures.push(`etcd3 #${i}: ${String(e)}`);
        }
      }
    };
    const ctlLoop = async (): Promise<void> => {
      for (let i = 0; i < maxRequests / 20 && !this.stopped; i++) {
        const r = await etcdctl(endpoints, [...ctlArgs(), 'put', `ctl/${i % 10}`, String(i)]);
        if (r.code === 0) this.ok++;
        else this.failures.push(`etcdctl #${i}: ${r.stderr.trim()}`);
      }
    };
    this.done = Promise.all([etcd3Loop(), ctlLoop()]).then(() => undefined);
  }
  async stop(): Promise<void> {
    this.stopRequested = true;
    await this.done;
  }
}

describe.skipIf(!tools.ok || !haveOpenssl())('TLS certificate rotation without restart (real processes)', () => {
  let dir = '';
  let ca1: KeyPair;
  let ca2: KeyPair;
  let caOther: KeyPair;
  const clientVol = new Map<string, SecretVolume>();
  const peerVol = new Map<string, SecretVolume>();
  let ctlVol: SecretVolume;
  let cluster: Cluster;
  let serial = 0x1000;
  const leaf = (ca: KeyPair, name: string, cn = name): KeyPair => {
    const s = (++serial).toString(16).toUpperCase();
    return issueLeaf(ca, join(dir, 'issued'), `${name}-${s}`, { cn, serial: s });
  };
  const ctlFlags = (): string[] => [`--cacert=${ctlVol.path('ca.crt')}`, `--cert=${ctlVol.path('tls.crt')}`, `--key=${ctlVol.path('tls.key')}`];
  const ctlOf = (pair: KeyPair | undefined, caBundle: string): string[] => {
    const f = join(dir, `ca-${serial}.pem`);
    writeFileSync(f, caBundle);
    // A refused handshake is retried until the command timeout: keep it short.
    return ['--dial-timeout=2s', '--command-timeout=3s', `--cacert=${f}`, ...(pair ? [`--cert=${pair.certFile}`, `--key=${pair.keyFile}`] : [])];
  };
  const reloads = async (m: RunningMember): Promise<{ ok: number; failed: number }> => {
    const text = await (await fetch(`${m.metricsUrl}/metrics`)).text();
    let ok = 0;
    let failed = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith('tsetcd_tls_reloads_total{')) continue;
      const v = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (line.includes('result="success"')) ok += v;
      else failed += v;
    }
    return { ok, failed };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsetcd-tls-rotation-'));
    ca1 = makeCa(dir, 'ca1');
    ca2 = makeCa(dir, 'ca2');
    caOther = makeCa(dir, 'ca-other');
    for (const n of NAMES) {
      clientVol.set(n, new SecretVolume(join(dir, 'client', n)));
      peerVol.set(n, new SecretVolume(join(dir, 'peer', n)));
      clientVol.get(n)!.publishPair(leaf(ca1, n), bundle(ca1));
      peerVol.get(n)!.publishPair(leaf(ca1, n), bundle(ca1));
    }
    ctlVol = new SecretVolume(join(dir, 'etcdctl'));
    ctlVol.publishPair(leaf(ca1, 'etcdctl', 'root'), bundle(ca1, ca2));
    cluster = await Cluster.start({
      size: 3,
      label: 'tls-rotation',
      heartbeatMs: 50,
      electionMs: 500,
      tls: {
        memberFlags: (n) => {
          const c = clientVol.get(n)!;
          const p = peerVol.get(n)!;
          return [
            `--cert-file=${c.path('tls.crt')}`,
            `--key-file=${c.path('tls.key')}`,
            `--trusted-ca-file=${c.path('ca.crt')}`,
            '--client-cert-auth',
            `--peer-cert-file=${p.path('tls.crt')}`,
            `--peer-key-file=${p.path('tls.key')}`,
            `--peer-trusted-ca-file=${p.path('ca.crt')}`,
            '--peer-client-cert-auth',
          ];
        },
        get ctlFlags() {
          return ctlFlags();
        },
      },
    });
  }, 120_000);
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') cluster?.printLogs();
  });
  afterAll(async () => {
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const probeClient = (): { cert: Buffer; key: Buffer; certFile: string; keyFile: string } => ({
    certFile: ctlVol.path('tls.crt'),
    keyFile: ctlVol.path('tls.key'),
    cert: readFileSync(ctlVol.path('tls.crt')),
    key: readFileSync(ctlVol.path('tls.key')),
  });
  const serials = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const m of cluster.members) out.push(await servedSerial('127.0.0.1', m.clientPort, probeClient()), await servedSerial('127.0.0.1', m.peerPort, probeClient()));
    return out;
  };
  const serialOf = (pair: KeyPair): string => new X509Certificate(readFileSync(pair.certFile)).serialNumber;

  it('keeps the previous certificate when the new files are bad, and says so in the log and metrics', async () => {
    const m = cluster.members[0]!;
    const before = await serials();
    const base = await reloads(m);
    const vol = clientVol.get('m1')!;
    const good = { 'tls.crt': readFileSync(vol.path('tls.crt')), 'tls.key': readFileSync(vol.path('tls.key')), 'ca.crt': readFileSync(vol.path('ca.crt')) };
    vol.publish({ ...good, 'tls.crt': 'not a certificate\n' });
    await waitFor('a failed reload (garbage)', async () => ((await reloads(m)).failed > base.failed ? true : undefined), 20_000);
    const other = leaf(ca1, 'mismatch');
    vol.publish({ ...good, 'tls.key': readFileSync(other.keyFile) });
    await waitFor('a failed reload (key mismatch)', async () => ((await reloads(m)).failed > base.failed + 1 ? true : undefined), 20_000);
    expect(await serials()).toEqual(before);
    expect((await etcdctl(cluster.endpoints(), [...ctlFlags(), 'put', 'still', 'serving'])).code).toBe(0);
    expect(readFileSync(m.logFile, 'utf8')).toContain('cannot reload TLS certificate files; keeping the previous ones');
    vol.publish(good);
  });

  it('rotates leaf certificates: new connections see the new serial, running requests see no failure', async () => {
    const client = new Etcd3({ hosts: cluster.members[0]!.clientUrl, credentials: { rootCertificate: Buffer.from(bundle(ca1, ca2)), certChain: readFileSync(ctlVol.path('tls.crt')), privateKey: readFileSync(ctlVol.path('tls.key')) } });
    const load = new Load(client, ctlFlags, cluster.endpoints());
    try {
      const want: string[] = [];
      for (const n of NAMES) {
        const c = leaf(ca1, n);
        const p = leaf(ca1, n);
        clientVol.get(n)!.publishPair(c, bundle(ca1));
        peerVol.get(n)!.publishPair(p, bundle(ca1));
        want.push(serialOf(c), serialOf(p));
      }
      const started = Date.now();
      await waitFor('every listener presents its new certificate', async () => ((await serials()).join() === want.join() ? true : undefined), 30_000);
      console.log(`leaf rotation: every listener served its new certificate ${Date.now() - started} ms after the files changed`);
    } finally {
      await load.stop();
      client.close();
    }
    console.log(`leaf rotation: ${load.ok} requests succeeded during the rotation`);
    expect(load.failures).toEqual([]);
    expect(load.ok).toBeGreaterThan(0);
  }, 120_000);

  it('rolls over to a new CA: both trusted, then new leaves, then the old CA dropped; nothing fails', async () => {
    // The long-lived client keeps its CA1 connection open through the whole rollover.
    const client = new Etcd3({ hosts: cluster.members[0]!.clientUrl, credentials: { rootCertificate: Buffer.from(bundle(ca1, ca2)), certChain: readFileSync(ctlVol.path('tls.crt')), privateKey: readFileSync(ctlVol.path('tls.key')) } });
    await client.put('warm').value('up');
    const oldClient = leaf(ca1, 'old-client', 'root');
    const load = new Load(client, ctlFlags, cluster.endpoints());
    const base = await Promise.all(cluster.members.map(reloads));
    const reloaded = async (times: number): Promise<void> => {
      await waitFor(`${times} reloads per member and listener`, async () => {
        const now = await Promise.all(cluster.members.map(reloads));
        return now.every((r, i) => r.ok >= base[i]!.ok + 2 * times) ? true : undefined;
      }, 30_000);
    };
    const started = Date.now();
    try {
      // 1. Trust both CAs (same leaves).
      for (const n of NAMES) {
        for (const vol of [clientVol.get(n)!, peerVol.get(n)!]) {
          vol.publish({ 'tls.crt': readFileSync(vol.path('tls.crt')), 'tls.key': readFileSync(vol.path('tls.key')), 'ca.crt': bundle(ca1, ca2) });
        }
      }
      await reloaded(1);
      // 2. Leaves from the new CA; clients move to new-CA certificates too.
      for (const n of NAMES) {
        clientVol.get(n)!.publishPair(leaf(ca2, n), bundle(ca1, ca2));
        peerVol.get(n)!.publishPair(leaf(ca2, n), bundle(ca1, ca2));
      }
      ctlVol.publishPair(leaf(ca2, 'etcdctl', 'root'), bundle(ca1, ca2));
      await reloaded(2);
      // 3. Drop the old CA.
      for (const n of NAMES) {
        for (const vol of [clientVol.get(n)!, peerVol.get(n)!]) {
          vol.publish({ 'tls.crt': readFileSync(vol.path('tls.crt')), 'tls.key': readFileSync(vol.path('tls.key')), 'ca.crt': bundle(ca2) });
        }
      }
      await reloaded(3);
      console.log(`CA rollover: three steps on three members took ${Date.now() - started} ms`);
    } finally {
      await load.stop();
    }
    console.log(`CA rollover: ${load.ok} requests succeeded during the rollover`);
    expect(load.failures).toEqual([]);
    // The open CA1 connection still works; a new connection with a CA1 certificate does not.
    await client.put('after-rollover').value('open connection');
    client.close();
    const refusedOld = await etcdctl(cluster.endpoints(), [...ctlOf(oldClient, bundle(ca2)), 'put', 'x', 'y']);
    expect(refusedOld.code).not.toBe(0);
    const refusedOther = await etcdctl(cluster.endpoints(), [...ctlOf(leaf(caOther, 'other', 'root'), bundle(ca2)), 'put', 'x', 'y']);
    expect(refusedOther.code).not.toBe(0);
    const refusedNoCert = await etcdctl(cluster.endpoints(), [...ctlOf(undefined, bundle(ca2)), 'put', 'x', 'y']);
    expect(refusedNoCert.code).not.toBe(0);
    for (const m of cluster.members) {
      // node's TLS server closes a connection whose certificate it cannot verify without a byte of
      // answer (it verifies after the handshake); a missing certificate gets OpenSSL's alert.
      expect(await handshakeAnswer(m.clientPort, oldClient)).toBe('closed');
      expect(await handshakeAnswer(m.clientPort, undefined)).toMatch(/alert certificate required/);
      expect(await handshakeAnswer(m.peerPort, oldClient)).toBe('closed');
      expect(await handshakeAnswer(m.clientPort, probeClient())).toBe('accepted');
    }
    console.log(`refused: old CA: ${refusedOld.stderr.trim()}\nother CA: ${refusedOther.stderr.trim()}\nno certificate: ${refusedNoCert.stderr.trim()}`);
    // A restarted member dials every peer anew (and is dialled anew): new CA only, both ways.
    const m = cluster.members[1]!;
    const restart = Date.now();
    await cluster.kill(m, 'SIGTERM');
    cluster.launch(m, cluster.members.map((x) => `${x.name}=${x.peerUrl}`).join(','), 'existing');
    await cluster.waitHealthy([m], 30_000);
    await cluster.waitLeader(30_000);
    console.log(`CA rollover: ${m.name} restarted and rejoined on the new CA in ${Date.now() - restart} ms`);
    const r = await etcdctl(`127.0.0.1:${m.clientPort}`, [...ctlFlags(), 'get', 'after-rollover', '--consistency=l', '--print-value-only']);
    expect(r.stdout.trim()).toBe('open connection');
  }, 180_000);
});
