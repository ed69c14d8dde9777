// Brings the local control plane up once for the whole e2e run and tears it down after.
// - E2E_KUBECONFIG set: use that cluster as it is (e.g. kind, see hack/kind-up.sh).
// - Binaries missing: skip with the reason printed, unless CI is set, where that fails.
// - E2E_KEEP=1 leaves the control plane running after the run (for debugging).
// - CP_NODE=kubelet adds the real kubelet node (hack/control-plane/kubelet; `make e2e-kubelet`),
//   which test/e2e/kubelet.e2e.ts needs; without it that file is skipped.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { repoRoot } from './harness.js';

declare module 'vitest' {
  export interface ProvidedContext {
    e2eKubeconfig: string;
    e2eSkip: string;
    e2eLocal: boolean;
    /** The kubelet node's name (CP_NODE=kubelet), or '' when the control plane has none. */
    e2eKubeletNode: string;
  }
}

function skipReason(): string {
  const version = readFileSync(join(repoRoot, 'hack/control-plane/k8s/VERSION'), 'utf8').trim();
  const bin = join(repoRoot, '.cache/k8s', version);
  for (const b of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
    if (!existsSync(join(bin, b))) return `${join(bin, b)} is missing: run hack/control-plane/build.sh (or make e2e)`;
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'the local control plane needs root (network namespaces for Pods)';
  if (!existsSync(join(repoRoot, 'bin/tsetcd'))) return 'bin/tsetcd is missing: run make build';
  if (process.env.CP_NODE === 'kubelet') {
    if (!existsSync(join(bin, 'kubelet'))) return `${join(bin, 'kubelet')} is missing: run hack/control-plane/build.sh kubelet (or make e2e-kubelet)`;
    if (!existsSync(join(repoRoot, '.cache/images/tsetcd.docker.tar'))) return '.cache/images/tsetcd.docker.tar is missing: run make images (or make e2e-kubelet)';
  }
  return '';
}

export default function setup(project: TestProject): () => void {
  const external = process.env.E2E_KUBECONFIG;
  if (external !== undefined && external !== '') {
    project.provide('e2eKubeconfig', external);
    project.provide('e2eSkip', '');
    project.provide('e2eLocal', false);
    project.provide('e2eKubeletNode', '');
    return () => {};
  }
  const reason = skipReason();
  if (reason !== '') {
    if (process.env.CI) throw new Error(`e2e cannot run in CI: ${reason}`);
    console.log(`[e2e] SKIPPED: ${reason}`);
    project.provide('e2eKubeconfig', '');
    project.provide('e2eSkip', reason);
    project.provide('e2eLocal', true);
    project.provide('e2eKubeletNode', '');
    return () => {};
  }
  const run = (script: string): void => {
    execFileSync('bash', [join(repoRoot, 'hack/control-plane', script)], { stdio: 'inherit', env: { ...process.env, CP_BUILD: '0' } });
  };
  const started = Date.now();
  run('down.sh');
  run('up.sh');
  const storage = readFileSync(join(repoRoot, '.data/cp/etcd-servers'), 'utf8').trim();
  console.log(`[e2e] control plane up in ${((Date.now() - started) / 1000).toFixed(1)} s; storage: ${process.env.CP_STORAGE ?? 'etcd'} at ${storage}`);
  project.provide('e2eKubeconfig', join(repoRoot, '.data/cp/kubeconfig'));
  project.provide('e2eSkip', '');
  project.provide('e2eLocal', true);
  project.provide('e2eKubeletNode', process.env.CP_NODE === 'kubelet' ? (process.env.CP_KUBELET_NODE ?? 'kubelet-1') : '');
  return () => {
    if (process.env.E2E_KEEP === '1') {
      console.log('[e2e] E2E_KEEP=1: control plane left running (make control-plane-down stops it)');
      return;
    }
    run('down.sh');
  };
}
