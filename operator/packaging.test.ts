// The chart and the alert rules: promtool check/test rules, helm lint/template (when .cache/bin/helm
// exists: `bash hack/ensure-helm.sh` builds it), least-privilege RBAC, monitors.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const CHART = join(root, 'charts/tsetcd-operator');
const FILES = join(CHART, 'files');
const PROMTOOL = '/usr/bin/promtool';
const HELM = join(root, '.cache/bin/helm');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type J = any;

function run(cmd: string, args: string[], cwd = root): { code: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe.skipIf(!existsSync(PROMTOOL))('alert rules (promtool)', () => {
  it('pass promtool check rules', () => {
    const r = run(PROMTOOL, ['check', 'rules', 'alerts.rules.yaml'], FILES);
    expect(r.out).toMatch(/SUCCESS: 13 rules found/);
    expect(r.code).toBe(0);
  });
  it('pass the promtool unit tests (no leader, leader changes, fsync, quorum margin, skipped entries, stuck operation)', () => {
    const r = run(PROMTOOL, ['test', 'rules', 'alerts.test.yaml'], FILES);
    expect(r.out).toMatch(/SUCCESS/);
    expect(r.code).toBe(0);
  });
});

function template(...set: string[]): J[] {
  const r = run(HELM, ['template', 't', CHART, '--namespace', 'ops', '--include-crds', ...set.flatMap((s) => ['--set', s])]);
  expect(r.code, r.out).toBe(0);
  return (yaml.loadAll(r.out) as J[]).filter((d) => d !== null && d !== undefined);
}

// Under CI a missing helm fails these tests instead of skipping them.
describe.skipIf(!existsSync(HELM) && !process.env['CI'])('helm chart', () => {
  it('passes helm lint', () => {
    const r = run(HELM, [
      'lint',
      CHART,
      '--set',
      'monitoring.serviceMonitor.enabled=true,monitoring.podMonitor.enabled=true,monitoring.prometheusRule.enabled=true,' +
        'monitoring.etcdMixin.dashboard.enabled=true,monitoring.etcdMixin.prometheusRule.enabled=true',
    ]);
    expect(r.out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(r.code).toBe(0);
  });

  it('renders the CRDs, a Deployment, a ServiceAccount with RBAC and a metrics Service; monitors off by default', () => {
    const docs = template();
    const kinds = docs.map((d) => d.kind).sort();
    expect(kinds).toEqual(['ClusterRole', 'ClusterRole', 'ClusterRoleBinding', 'ClusterRoleBinding', 'CustomResourceDefinition', 'CustomResourceDefinition', 'Deployment', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
    expect(docs.filter((d) => d.kind === 'CustomResourceDefinition').map((d) => d.metadata.name).sort()).toEqual(['etcdbackups.tsetcd.dev', 'etcdclusters.tsetcd.dev']);
    const dep = docs.find((d) => d.kind === 'Deployment');
    expect(dep.spec.replicas).toBe(2);
    const c = dep.spec.template.spec.containers[0];
    expect(c.args).toContain('--leader-elect=true');
    expect(c.args).toContain('--metrics-addr=0.0.0.0:8080');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(dep.spec.template.spec.serviceAccountName).toBe('t-tsetcd-operator');
    const svc = docs.find((d) => d.kind === 'Service');
    expect(svc.spec.ports[0]).toMatchObject({ name: 'metrics', port: 8080 });
  });

  it('grants exactly the verbs the controller uses, and never a wildcard', () => {
    const docs = template();
    const roles = docs.filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role');
    for (const r of roles) {
      for (const rule of r.rules) {
        expect(rule.verbs).not.toContain('*');
        expect(rule.resources).not.toContain('*');
        expect(rule.apiGroups).not.toContain('*');
      }
    }
    const main = roles.find((r) => r.metadata.name === 't-tsetcd-operator');
    const verbs = (group: string, res: string): string[] =>
      main.rules.filter((x: J) => x.apiGroups.includes(group) && x.resources.includes(res)).flatMap((x: J) => x.verbs).sort();
    expect(verbs('tsetcd.dev', 'etcdclusters')).toEqual(['get', 'list', 'patch', 'watch']); // patch: the volume finalizer
    expect(verbs('tsetcd.dev', 'etcdclusters/status')).toEqual(['update']);
    expect(verbs('tsetcd.dev', 'etcdbackups')).toEqual(['get', 'list', 'watch']);
    expect(verbs('tsetcd.dev', 'etcdbackups/status')).toEqual(['update']);
    expect(verbs('apps', 'statefulsets')).toEqual(['create', 'delete', 'get', 'list', 'patch', 'watch']); // delete: the finalizer stops members first
    expect(verbs('', 'pods')).toEqual(['create', 'delete', 'get', 'list', 'patch', 'watch']); // create, patch: the backup and restore source pods of a PVC destination (server-side apply)
    expect(verbs('', 'persistentvolumeclaims')).toEqual(['delete', 'get', 'list', 'patch']); // get: a PVC destination's claim
    expect(verbs('', 'secrets')).toEqual(['create', 'get', 'patch']); // the certificate Secrets it issues and reads by name; no list/watch
    expect(verbs('cert-manager.io', 'certificates')).toEqual(['create', 'patch']); // applied in mode cert-manager, never read
    expect(verbs('', 'configmaps')).toEqual(['create', 'patch']);
    const le = roles.find((r) => r.kind === 'Role');
    expect(le.metadata.namespace).toBe('ops');
    expect(le.rules.flatMap((x: J) => x.resources)).toEqual(['leases', 'leases']);
  });

  it('binds namespaced permissions per watched namespace when given a list', () => {
    const docs = template('watchNamespaces={a,b}');
    const rbs = docs.filter((d) => d.kind === 'RoleBinding' && d.roleRef.kind === 'ClusterRole');
    expect(rbs.map((d) => d.metadata.namespace).sort()).toEqual(['a', 'b']);
    expect(docs.filter((d) => d.kind === 'ClusterRoleBinding').map((d) => d.roleRef.name)).toEqual(['t-tsetcd-operator-cluster']);
    const dep = docs.find((d) => d.kind === 'Deployment');
    expect(dep.spec.template.spec.containers[0].args).toContain('--namespaces=a,b');
  });

  it('optionally renders a ServiceMonitor, a PodMonitor for members and the PrometheusRule with the alerts', () => {
    const docs = template('monitoring.serviceMonitor.enabled=true', 'monitoring.podMonitor.enabled=true', 'monitoring.prometheusRule.enabled=true');
    expect(docs.find((d) => d.kind === 'ServiceMonitor').spec.endpoints[0].port).toBe('metrics');
    expect(docs.find((d) => d.kind === 'PodMonitor').spec.selector.matchLabels['app.kubernetes.io/name']).toBe('tsetcd');
    const rule = docs.find((d) => d.kind === 'PrometheusRule');
    const alerts = rule.spec.groups.flatMap((g: J) => g.rules.map((r: J) => r.alert));
    expect(alerts).toEqual([
      'TsetcdNoLeader',
      'TsetcdMemberNoLeader',
      'TsetcdFrequentLeaderChanges',
      'TsetcdHighFsyncLatency',
      'TsetcdQuorumMarginZero',
      'TsetcdQuorumLost',
      'TsetcdApplySkippedEntries',
      'TsetcdMembershipOperationStuck',
      'TsetcdOperatorReconcileErrors',
      'TsetcdBackupTooOld',
      'TsetcdBackupFailing',
      'TsetcdEtcdBackupTooOld',
      'TsetcdEtcdBackupFailing',
    ]);
    // Prometheus templates survive helm untouched.
    expect(rule.spec.groups[0].rules[0].annotations.summary).toContain('{{ $labels.namespace }}');
  });

  it("optionally ships etcd's mixin: the dashboard for Grafana's sidecar and the alerts, selecting the PodMonitor's job", () => {
    expect(template().filter((d) => d.kind === 'ConfigMap' || d.kind === 'PrometheusRule')).toEqual([]);
    const docs = template('monitoring.podMonitor.enabled=true', 'monitoring.etcdMixin.dashboard.enabled=true', 'monitoring.etcdMixin.prometheusRule.enabled=true');
    const cm = docs.find((d) => d.kind === 'ConfigMap');
    expect(cm.metadata.labels.grafana_dashboard).toBe('1');
    expect(cm.metadata.namespace).toBe('ops');
    const dashboard = JSON.parse(cm.data['etcd.json']);
    expect(dashboard.title).toBe('etcd');
    expect(cm.data['etcd.json']).toBe(readFileSync(join(FILES, 'etcd-mixin/etcd.json'), 'utf8').trimEnd()); // Grafana's {{instance}} legends survive helm
    const rule = docs.find((d) => d.kind === 'PrometheusRule');
    expect(rule.metadata.name).toBe('t-tsetcd-operator-etcd-mixin');
    const rules = rule.spec.groups.flatMap((g: J) => g.rules);
    expect(rules).toHaveLength(15);
    expect(rules.map((r: J) => r.alert)).toContain('etcdInsufficientMembers');
    for (const r of rules) {
      expect(r.expr).not.toContain('.*etcd.*');
      if (r.expr.includes('job=')) expect(r.expr).toContain('job="ops/t-tsetcd-operator-members"');
    }
    expect(docs.find((d) => d.kind === 'PodMonitor').spec.podTargetLabels).toEqual(['app.kubernetes.io/instance']);
    // Without the PodMonitor, the mixin's own selector; an explicit one wins.
    const plain = template('monitoring.etcdMixin.prometheusRule.enabled=true').find((d) => d.kind === 'PrometheusRule');
    expect(plain.spec.groups[0].rules[0].expr).toContain('up{job=~".*etcd.*"}');
    const own = template('monitoring.etcdMixin.prometheusRule.enabled=true', 'monitoring.etcdMixin.selector=cluster="a"').find((d) => d.kind === 'PrometheusRule');
    expect(own.spec.groups[0].rules[0].expr).toContain('up{cluster="a"}');
  });
});
