// The CRD as data: structure, printer columns, subresources, defaults, and its CEL rules evaluated with a
// CEL library (@marcbachmann/cel-js) plus a stand-in for Kubernetes' quantity() library. The real
// apiserver runs the same rules in the e2e suite (test/e2e/); this catches mistakes before that.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Environment } from '@marcbachmann/cel-js';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { parseQuantity } from './api/quantity.js';
import { ODD_REPLICAS_MESSAGE } from './api/validate.js';
import { COMPACTION_RETENTION_MESSAGE, compactionRetentionValid } from './api/compaction.js';
import { VERSION_PATTERN } from './api/versions.js';
import { CERT_MANAGER_LIFETIME_MESSAGE, CERTIFICATE_LIFETIME_MESSAGE, resolveTlsSpec, tlsProblems } from './api/tls.js';
import { parseConfig } from '../node/config.js';

const root = resolve(import.meta.dirname, '..');
const CRD_PATH = join(root, 'crds/tsetcd.dev_etcdclusters.yaml');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type J = any;
const crd: J = yaml.load(readFileSync(CRD_PATH, 'utf8'));
const version: J = crd.spec.versions[0];
const schema: J = version.schema.openAPIV3Schema;

class Quantity {
  constructor(readonly value: number) {}
}
const env = new Environment({ unlistedVariablesAreDyn: true })
  .registerType('Quantity', { ctor: Quantity, fields: {} })
  .registerFunction('quantity(string): Quantity', (s: string) => {
    const v = parseQuantity(s);
    if (v === null) throw new Error(`quantities must match the regular expression: ${s}`);
    return new Quantity(v);
  })
  .registerFunction('Quantity.compareTo(Quantity): int', (a: Quantity, b: Quantity) => BigInt(Math.sign(a.value - b.value)));

/** CEL sees integers as int64. */
function toCel(v: unknown): unknown {
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (Array.isArray(v)) return v.map(toCel);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toCel(x)]));
  return v;
}

/** Applies schema defaults the way the apiserver does before validation. */
function applyDefaults(s: J, v: J): J {
  if (v === undefined && s.default !== undefined) v = structuredClone(s.default);
  if (s.type === 'object' && v !== undefined && v !== null && s.properties) {
    for (const [k, ps] of Object.entries<J>(s.properties)) {
      const d = applyDefaults(ps, v[k]);
      if (d !== undefined) v[k] = d;
    }
  }
  if (s.type === 'array' && Array.isArray(v) && s.items) v = v.map((x: J) => applyDefaults(s.items, x));
  return v;
}

interface Violation {
  path: string;
  message: string;
}

/** Runs every x-kubernetes-validations rule that applies to the object (transition rules only with an old one). */
function validate(s: J, v: J, old: J, path = ''): Violation[] {
  if (v === undefined || v === null) return [];
  const out: Violation[] = [];
  for (const rule of s['x-kubernetes-validations'] ?? []) {
    const transition = /\boldSelf\b/.test(rule.rule);
    if (transition && old === undefined) continue;
    let ok: unknown;
    try {
      ok = env.evaluate(rule.rule, { self: toCel(v), oldSelf: toCel(old) });
    } catch (err: unknown) {
      ok = false;
      void err;
    }
    if (ok !== true) out.push({ path, message: rule.message });
  }
  if (s.type === 'object' && s.properties) {
    for (const [k, ps] of Object.entries<J>(s.properties)) out.push(...validate(ps, v[k], old?.[k], `${path}.${k}`));
  }
  return out;
}

function admit(spec: J, oldSpec?: J): Violation[] {
  const specSchema = schema.properties.spec;
  const v = applyDefaults(specSchema, structuredClone(spec));
  const o = oldSpec === undefined ? undefined : applyDefaults(specSchema, structuredClone(oldSpec));
  return validate(specSchema, v, o, 'spec');
}

describe('EtcdCluster CRD', () => {
  it('is a namespaced v1alpha1 CRD with short name etcdc and a structural schema', () => {
    expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
    expect(crd.metadata.name).toBe('etcdclusters.tsetcd.dev');
    expect(crd.spec.names.shortNames).toEqual(['etcdc']);
    expect(crd.spec.scope).toBe('Namespaced');
    expect(version.name).toBe('v1alpha1');
    // structural: every property has a type, no x-kubernetes-preserve-unknown-fields anywhere
    const walk = (s: J, p: string): void => {
      expect(s.type, p).toBeDefined();
      expect(s['x-kubernetes-preserve-unknown-fields'], p).toBeUndefined();
      for (const [k, c] of Object.entries<J>(s.properties ?? {})) walk(c, `${p}.${k}`);
      if (s.items) walk(s.items, `${p}[]`);
      if (typeof s.additionalProperties === 'object') walk(s.additionalProperties, `${p}{}`);
    };
    walk(schema, '');
  });

  it('every default passes its own rules as written (the apiserver validates a default without defaulting inside it)', () => {
    const bad: string[] = [];
    const walk = (s: J, p: string): void => {
      if (s.default !== undefined) for (const v of validate(s, s.default, undefined, p)) bad.push(`${v.path}: ${v.message}`);
      for (const [k, c] of Object.entries<J>(s.properties ?? {})) walk(c, `${p}.${k}`);
      if (s.items) walk(s.items, `${p}[]`);
    };
    walk(schema, '');
    expect(bad).toEqual([]);
  });

  it('has status and scale subresources wired to spec/status replicas and the selector', () => {
    expect(version.subresources.status).toEqual({});
    expect(version.subresources.scale).toEqual({ specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' });
  });

  it('prints replicas, ready, leader, available, cluster version and age', () => {
    expect(version.additionalPrinterColumns.map((c: J) => [c.name, c.jsonPath])).toEqual([
      ['Replicas', '.spec.replicas'],
      ['Ready', '.status.readyReplicas'],
      ['Leader', '.status.leader'],
      ['Available', '.status.conditions[?(@.type=="Available")].status'],
      ['Version', '.status.clusterVersion'],
      ['Age', '.metadata.creationTimestamp'],
    ]);
  });

  it('defaults an empty spec to 3 members with Guaranteed resources and required anti-affinity', () => {
    const v = applyDefaults(schema.properties.spec, {});
    expect(v.replicas).toBe(3);
    expect(v.resources.requests).toEqual(v.resources.limits);
    expect(v.placement.antiAffinity).toBe('required');
    expect(v.storage).toEqual({ size: '8Gi', retentionPolicy: 'Retain' });
    expect([v.heartbeatIntervalMs, v.electionTimeoutMs]).toEqual([100, 1000]);
    expect(admit({})).toEqual([]);
  });

  it('defaults TLS to on (no mode: operator-issued) with a 2160h lifetime, and checks the mode rules', () => {
    const v = applyDefaults(schema.properties.spec, {});
    expect(v.tls).toEqual({ certificateLifetime: '2160h' });
    expect(resolveTlsSpec(v.tls).mode).toBeNull(); // the operator decides: operator for a new cluster
    expect(admit({ tls: { mode: 'disabled' } })).toEqual([]);
    expect(admit({ tls: { clientSecretName: 'c', peerSecretName: 'p' } })).toEqual([]);
    expect(admit({ tls: { mode: 'secrets', clientSecretName: 'c' } })).toEqual([]);
    expect(admit({ tls: { certManager: { issuerRef: { name: 'ca' } } } })).toEqual([]);
    expect(admit({ tls: { mode: 'cert-manager', certManager: { issuerRef: { name: 'ca' } } } })).toEqual([]);
    expect(admit({ tls: { certificateLifetime: '1h30m' } })).toEqual([]);
    const msgs = (spec: J): string[] => admit(spec).map((x) => x.message);
    expect(msgs({ tls: { mode: 'disabled', clientSecretName: 'c' } })).toEqual(['tls.clientSecretName and tls.peerSecretName need tls.mode secrets (or no mode)']);
    expect(msgs({ tls: { mode: 'secrets' } })).toEqual(['tls.mode secrets needs tls.clientSecretName or tls.peerSecretName']);
    expect(msgs({ tls: { mode: 'cert-manager' } })).toEqual(['tls.certManager.issuerRef goes with tls.mode cert-manager (and only with it)']);
    expect(msgs({ tls: { mode: 'operator', certManager: { issuerRef: { name: 'ca' } } } })).toEqual(['tls.certManager.issuerRef goes with tls.mode cert-manager (and only with it)']);
    expect(msgs({ tls: { certificateLifetime: '90d' } })).toEqual([CERTIFICATE_LIFETIME_MESSAGE]);
    expect(schema.properties.spec.properties.tls.properties.mode.enum).toEqual(['operator', 'secrets', 'cert-manager', 'disabled']);
    // The operator's own check agrees on each, and adds the 3m minimum CEL does not see.
    expect(tlsProblems({ mode: 'secrets' }).map((p) => p.message)).toEqual(['tls.mode secrets needs tls.clientSecretName or tls.peerSecretName']);
    expect(tlsProblems({ mode: 'cert-manager' })).toHaveLength(1);
    expect(tlsProblems({ certificateLifetime: '2m' }).map((p) => p.message)).toEqual([CERTIFICATE_LIFETIME_MESSAGE]);
    expect(tlsProblems({ certManager: { issuerRef: { name: 'ca' } } })).toEqual([]);
  });

  it('with cert-manager, a lifetime of at least 1h: cert-manager refuses a shorter Certificate duration', () => {
    const cm = { certManager: { issuerRef: { name: 'ca' } } };
    const msgs = (spec: J): string[] => admit(spec).map((x) => x.message);
    for (const ok of ['1h', '60m', '3600s', '1h30m', '2160h']) {
      expect(msgs({ tls: { ...cm, certificateLifetime: ok } }), ok).toEqual([]);
      expect(tlsProblems({ ...cm, certificateLifetime: ok }), ok).toEqual([]);
    }
    for (const short of ['59m', '59m59s', '3m', '30m']) {
      expect(msgs({ tls: { ...cm, certificateLifetime: short } }), short).toEqual([CERT_MANAGER_LIFETIME_MESSAGE]);
      expect(msgs({ tls: { mode: 'cert-manager', ...cm, certificateLifetime: short } }), short).toEqual([CERT_MANAGER_LIFETIME_MESSAGE]);
      expect(tlsProblems({ ...cm, certificateLifetime: short }).map((p) => p.message), short).toEqual([CERT_MANAGER_LIFETIME_MESSAGE]);
    }
    // Other modes keep the 3m minimum; a malformed lifetime gets only the format message.
    expect(msgs({ tls: { certificateLifetime: '3m' } })).toEqual([]);
    expect(msgs({ tls: { ...cm, certificateLifetime: '90d' } })).toEqual([CERTIFICATE_LIFETIME_MESSAGE]);
    expect(tlsProblems({ ...cm, certificateLifetime: '2m' }).map((p) => p.message)).toEqual([CERTIFICATE_LIFETIME_MESSAGE]);
  });

  it('rejects even sizes with a message saying why odd sizes matter; bounds 1..9 by schema', () => {
    for (const r of [1, 3, 5, 7, 9]) expect(admit({ replicas: r })).toEqual([]);
    for (const r of [2, 4, 6, 8]) expect(admit({ replicas: r })).toEqual([{ path: 'spec.replicas', message: ODD_REPLICAS_MESSAGE }]);
    expect(schema.properties.spec.properties.replicas).toMatchObject({ minimum: 1, maximum: 9 });
  });

  it('requires requests == limits for cpu and memory, comparing quantities', () => {
    const res = (rc: string, rm: string, lc: string, lm: string) => ({ resources: { requests: { cpu: rc, memory: rm }, limits: { cpu: lc, memory: lm } } });
    expect(admit(res('2', '4Gi', '2', '4Gi'))).toEqual([]);
    expect(admit(res('1', '1Gi', '1000m', '1024Mi'))).toEqual([]);
    const bad = admit(res('1', '1Gi', '2', '1Gi'));
    expect(bad).toHaveLength(1);
    expect(bad[0]?.message).toMatch(/requests must equal resources.limits.*Guaranteed QoS/);
    expect(admit(res('1', '1Gi', '1', '2Gi'))).toHaveLength(1);
  });

  it('requires electionTimeoutMs >= 5 x heartbeatIntervalMs', () => {
    expect(admit({ heartbeatIntervalMs: 100, electionTimeoutMs: 500 })).toEqual([]);
    expect(admit({ heartbeatIntervalMs: 100, electionTimeoutMs: 499 })[0]?.message).toMatch(/at least 5 x heartbeatIntervalMs/);
    expect(admit({ heartbeatIntervalMs: 300 })[0]?.message).toMatch(/at least 5 x/);
  });

  it('forbids shrinking storage.size on update (transition rule), allows growth and creation at any size', () => {
    expect(admit({ storage: { size: '1Gi' } })).toEqual([]);
    expect(admit({ storage: { size: '16Gi' } }, { storage: { size: '8Gi' } })).toEqual([]);
    expect(admit({ storage: { size: '4Gi' } }, { storage: { size: '8Gi' } })).toEqual([{ path: 'spec.storage.size', message: 'storage.size cannot shrink: persistent volumes only grow' }]);
  });

  it('defaults compaction to periodic 1h and rejects retentions the member would refuse, with a clear message', () => {
    const v = applyDefaults(schema.properties.spec, {});
    expect(v.compaction).toEqual({ mode: 'periodic', retention: '1h' });
    for (const retention of ['1', '0', '30m', '1h30m', '1.5h', '500ms']) expect(admit({ compaction: { mode: 'periodic', retention } }), retention).toEqual([]);
    for (const retention of ['10000', '0']) expect(admit({ compaction: { mode: 'revision', retention } }), retention).toEqual([]);
    expect(admit({ compaction: { retention: '30m' } })).toEqual([]); // mode defaults to periodic
    const bad: Array<[string, string]> = [['periodic', 'soon'], ['periodic', '1d'], ['periodic', '-1'], ['periodic', ''], ['revision', '1h'], ['revision', '1.5']];
    for (const [mode, retention] of bad) {
      expect(admit({ compaction: { mode, retention } }), `${mode} ${retention}`).toEqual([{ path: 'spec.compaction', message: COMPACTION_RETENTION_MESSAGE }]);
    }
    expect(schema.properties.spec.properties.compaction.properties.mode.enum).toEqual(['periodic', 'revision']);
  });

  it("the CEL rule's patterns and the operator's (and the member's parser) agree", () => {
    const samples = ['1', '0', '24', '30m', '1h30m', '1.5h', '500ms', '10s', 'soon', '1d', '-1', '', '1h ', 'h', '10000', '1.5', '5m5'];
    for (const mode of ['periodic', 'revision'] as const) {
      for (const retention of samples) {
        const cel = admit({ compaction: { mode, retention } }).length === 0;
        expect(compactionRetentionValid(mode, retention), `${mode} "${retention}"`).toBe(cel);
        let member = true;
        try {
          parseConfig([`--auto-compaction-mode=${mode}`, `--auto-compaction-retention=${retention}`], {});
        } catch {
          member = false;
        }
        // The member trims the value; the CRD does not accept surrounding spaces at all.
        if (retention.trim() === retention) expect(member, `member ${mode} "${retention}"`).toBe(cel);
      }
    }
  });

  it('defragmentation: no schedule by default; thresholds and timeout defaulted and bounded; status fields declared', () => {
    const spec = schema.properties.spec.properties;
    expect(applyDefaults(schema.properties.spec, {}).defragmentation).toBeUndefined();
    const v = applyDefaults(schema.properties.spec, { defragmentation: { schedule: '0 3 * * *' } });
    expect(v.defragmentation).toEqual({ schedule: '0 3 * * *', minFreePercent: 50, minDbSize: '100Mi', timeoutSeconds: 120 });
    expect(spec.defragmentation.properties.minFreePercent).toMatchObject({ minimum: 0, maximum: 100 });
    expect(spec.defragmentation.properties.timeoutSeconds).toMatchObject({ minimum: 1, maximum: 3600 });
    expect(new RegExp(spec.defragmentation.properties.minDbSize.pattern).test('100Mi')).toBe(true);
    expect(new RegExp(spec.defragmentation.properties.minDbSize.pattern).test('lots')).toBe(false);
    const st = schema.properties.status.properties;
    expect(Object.keys(st.defragmentation.properties)).toEqual(['lastScheduleTime', 'run', 'lastRun']);
    expect(Object.keys(st.members.items.properties)).toEqual(expect.arrayContaining(['dbSizeInUse', 'lastDefragTime', 'lastDefragReclaimedBytes']));
    expect(admit({ defragmentation: { schedule: '@daily', minFreePercent: 0, minDbSize: '0' } })).toEqual([]);
  });

  it('version: a major.minor.patch version, defaulted to the one the release speaks', () => {
    const v = schema.properties.spec.properties.version;
    expect(v.default).toBe('3.5.17');
    const re = new RegExp(v.pattern);
    for (const ok of ['3.5.17', '3.6.0', '10.20.30']) expect(re.test(ok), ok).toBe(true);
    for (const bad of ['latest', '3.5', 'v3.5.17', '3.5.17-rc.1']) expect(re.test(bad), bad).toBe(false);
    expect(v.pattern).toBe(VERSION_PATTERN.source.replace(/[()]/g, '')); // the operator's check, without its groups
  });

  it('the example (3 members on dedicated nodes) is valid', () => {
    const ex: J = yaml.load(readFileSync(join(root, 'crds/examples/etcdcluster-dedicated.yaml'), 'utf8'));
    expect(ex.apiVersion).toBe('tsetcd.dev/v1alpha1');
    expect(ex.kind).toBe('EtcdCluster');
    expect(ex.spec.replicas).toBe(3);
    expect(ex.spec.placement.dedicated.nodeSelector).toEqual({ dedicated: 'etcd' });
    expect(ex.spec.placement.dedicated.tolerations[0]).toEqual({ key: 'dedicated', operator: 'Equal', value: 'etcd', effect: 'NoSchedule' });
    expect(admit(ex.spec)).toEqual([]);
  });

  it('bootstrap.fromBackup: s3 or pvc with key, or an EtcdBackup by name, never both nor half', () => {
    const s3 = { endpoint: 'http://s3:9000', bucket: 'b01', credentialsSecret: { name: 'c' } };
    const pvc = { claimName: 'backups' };
    const from = (f: J): Violation[] => admit({ bootstrap: { fromBackup: f } });
    expect(from({ s3, key: 'k.db' })).toEqual([]);
    expect(from({ pvc, key: 'k.db' })).toEqual([]);
    expect(from({ backupName: 'nightly' })).toEqual([]);
    const msg = 'fromBackup takes either s3 or pvc, with key, or backupName (an EtcdBackup), not both';
    expect(from({ backupName: 'nightly', key: 'k.db' }).map((v) => v.message)).toEqual([msg]);
    expect(from({ backupName: 'nightly', pvc }).map((v) => v.message)).toEqual([msg]);
    expect(from({ s3, pvc, key: 'k.db' }).map((v) => v.message)).toEqual([msg]);
    expect(from({ key: 'k.db' }).map((v) => v.message)).toEqual([msg]);
    // The resolved object is kept in status (not pruned by the apiserver).
    expect(Object.keys(schema.properties.status.properties.restore.properties)).toEqual(expect.arrayContaining(['s3', 'pvc', 'key', 'sourceURL']));
  });

  it('backup: one destination, s3 or pvc', () => {
    const s3 = { endpoint: 'http://s3:9000', bucket: 'b01', credentialsSecret: { name: 'c' } };
    expect(admit({ backup: { schedule: '0 * * * *', pvc: { claimName: 'backups', prefix: 'p/' } } })).toEqual([]);
    expect(admit({ backup: { schedule: '0 * * * *', s3, pvc: { claimName: 'backups' } } }).map((v) => v.message)).toEqual(['backup takes one destination: s3 or pvc']);
  });

  it('the chart ships the same CRD', () => {
    expect(readFileSync(join(root, 'charts/tsetcd-operator/crds/tsetcd.dev_etcdclusters.yaml'), 'utf8')).toBe(readFileSync(CRD_PATH, 'utf8'));
  });
});
