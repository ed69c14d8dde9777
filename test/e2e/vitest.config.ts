// The end-to-end suite against a real kube-apiserver (the local control plane of
// hack/control-plane, or any cluster given by E2E_KUBECONFIG). Run it with `make e2e`.
// Separate from the main vitest run: it needs root, the Kubernetes binaries and minutes.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
    sequence: { concurrent: false },
    reporters: ['default'],
  },
});
