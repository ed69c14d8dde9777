// The reloader on real files (openssl-made): a changed, valid set is adopted and handed to the
// subscribers; an unparsable certificate or a key of another certificate is refused, counted,
// and the previous set stays in use. check() is called directly: no timers in the assertions.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveOpenssl, issueLeaf, makeCa, SecretVolume, type KeyPair } from '../../test/testing/openssl-ca.js';
import { silentLogger } from '../log.js';
import { tlsReloadMetrics } from './metrics.js';
import { certSerial, TlsFileReloader, type TlsMaterial } from './tls-file-reloader.js';

describe.skipIf(!haveOpenssl())('TlsFileReloader', () => {
  let dir = '';
  let ca: KeyPair;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsetcd-reloader-'));
    ca = makeCa(dir, 'ca');
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('adopts a valid change, refuses bad files and keeps the previous set', async () => {
    const vol = new SecretVolume(join(dir, 'vol'));
    const first = issueLeaf(ca, dir, 'a', { cn: 'a', serial: 'A1' });
    vol.publishPair(first, readFileSync(ca.certFile, 'utf8'));
    const registry = new Registry();
    const metrics = tlsReloadMetrics(registry);
    const r = await TlsFileReloader.open({
      name: 'client',
      files: { certFile: vol.path('tls.crt'), keyFile: vol.path('tls.key'), trustedCaFile: vol.path('ca.crt') },
      logger: silentLogger,
      metrics,
    });
    const seen: TlsMaterial[] = [];
    const unsubscribe = r.subscribe((m) => seen.push(m));
    try {
      expect(certSerial(r.current().cert)).toBe('A1');
      expect(await r.check()).toBe(false); // nothing changed

      const good = { 'tls.crt': readFileSync(first.certFile), 'tls.key': readFileSync(first.keyFile), 'ca.crt': readFileSync(ca.certFile) };
      vol.publish({ ...good, 'tls.crt': 'garbage\n' });
      expect(await r.check()).toBe(false);
      expect(await r.check()).toBe(false); // the same bad set is reported once
      const other = issueLeaf(ca, dir, 'b', { cn: 'b', serial: 'B2' });
      vol.publish({ ...good, 'tls.key': readFileSync(other.keyFile) });
      expect(await r.check()).toBe(false);
      expect(certSerial(r.current().cert)).toBe('A1');
      expect(seen).toEqual([]);

      vol.publishPair(other, readFileSync(ca.certFile, 'utf8'));
      expect(await r.check()).toBe(true);
      expect(certSerial(r.current().cert)).toBe('B2');
      expect(seen.map((m) => certSerial(m.cert))).toEqual(['B2']);

      const text = await registry.metrics();
      expect(text).toContain('tsetcd_tls_reloads_total{name="client",result="failure"} 2');
      expect(text).toContain('tsetcd_tls_reloads_total{name="client",result="success"} 1');
      expect(text).toMatch(/tsetcd_tls_certificate_not_after_timestamp_seconds\{name="client"\} \d+/);
    } finally {
      unsubscribe();
    }
  });
});
