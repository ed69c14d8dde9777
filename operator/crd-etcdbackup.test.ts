// The EtcdBackup CRD as data: structure, printer columns, the status subresource, the chart's copy, the
// schema's patterns equal to the operator's own checks, and the immutability rule evaluated with a CEL
// library (the real apiserver runs it in the e2e suite).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Environment } from '@marcbachmann/cel-js';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { BACKUP_KIND, BACKUP_PLURAL } from './api/etcd-backup.js';
import { BUCKET_PATTERN } from './plan/backup.js';
import { CLUSTER_NAME_PATTERN } from './plan/etcd-backup.js';

const root = resolve(import.meta.dirname, '..');
const CRD_PATH = join(root, 'crds/tsetcd.dev_etcdbackups.yaml');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type J = any;
const crd: J = yaml.load(readFileSync(CRD_PATH, 'utf8'));
const version: J = crd.spec.versions[0];
const spec: J = version.schema.openAPIV3Schema.properties.spec;

describe('EtcdBackup CRD', () => {
  it('is a namespaced v1alpha1 CRD with a status subresource and a structural schema', () => {
    expect(crd.metadata.name).toBe(`${BACKUP_PLURAL}.tsetcd.dev`);
    expect(crd.spec.names).toMatchObject({ kind: BACKUP_KIND, plural: BACKUP_PLURAL, shortNames: ['etcdb'] });
    expect(crd.spec.scope).toBe('Namespaced');
    expect(version.subresources).toEqual({ status: {} });
    const walk = (s: J, p: string): void => {
      expect(s.type, p).toBeDefined();
      expect(s['x-kubernetes-preserve-unknown-fields'], p).toBeUndefined();
      for (const [k, c] of Object.entries<J>(s.properties ?? {})) walk(c, `${p}.${k}`);
      if (s.items) walk(s.items, `${p}[]`);
    };
    walk(version.schema.openAPIV3Schema, '');
    expect(version.additionalPrinterColumns.map((c: J) => c.name)).toEqual(['Cluster', 'Phase', 'Revision', 'Size', 'Location', 'Age']);
  });

  it('requires the cluster and one destination (s3 or pvc), with the patterns the operator checks', () => {
    expect(spec.required).toEqual(['clusterName']);
    const one = spec['x-kubernetes-validations'][1];
    const env = new Environment({ unlistedVariablesAreDyn: true });
    const s3 = { endpoint: 'http://s3:9000', bucket: 'b01', credentialsSecret: { name: 'c' } };
    const pvc = { claimName: 'backups' };
    expect(env.evaluate(one.rule, { self: { clusterName: 'main', s3 } })).toBe(true);
    expect(env.evaluate(one.rule, { self: { clusterName: 'main', pvc } })).toBe(true);
    expect(env.evaluate(one.rule, { self: { clusterName: 'main', s3, pvc } })).toBe(false);
    expect(env.evaluate(one.rule, { self: { clusterName: 'main' } })).toBe(false);
    expect(one.message).toBe('spec takes one destination: s3 or pvc');
    expect(spec.properties.pvc.required).toEqual(['claimName']);
    expect(spec.properties.s3.required).toEqual(['endpoint', 'bucket', 'credentialsSecret']);
    expect(spec.properties.clusterName.pattern).toBe(CLUSTER_NAME_PATTERN.source);
    expect(spec.properties.s3.properties.bucket.pattern).toBe(BUCKET_PATTERN.source);
    expect(version.schema.openAPIV3Schema.properties.status.properties.phase.enum).toEqual(['Pending', 'Running', 'Succeeded', 'Failed']);
  });

  it('refuses any change of spec once created (an EtcdBackup is one backup)', () => {
    const rule = spec['x-kubernetes-validations'][0];
    const env = new Environment({ unlistedVariablesAreDyn: true });
    const a = { clusterName: 'main', s3: { endpoint: 'http://s3:9000', bucket: 'b01', credentialsSecret: { name: 'c' } } };
    expect(env.evaluate(rule.rule, { self: a, oldSelf: structuredClone(a) })).toBe(true);
    expect(env.evaluate(rule.rule, { self: { ...a, clusterName: 'other' }, oldSelf: a })).toBe(false);
    expect(rule.message).toMatch(/immutable/);
  });

  it('the chart ships the same CRD', () => {
    expect(readFileSync(join(root, 'charts/tsetcd-operator/crds/tsetcd.dev_etcdbackups.yaml'), 'utf8')).toBe(readFileSync(CRD_PATH, 'utf8'));
  });
});
