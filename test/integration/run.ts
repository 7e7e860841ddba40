/**
 * Runs every integration test file against one real control plane (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, kwok with CPU and GPU fake nodes), then tears it down.
 * The Argo Rollouts controller is not part of it: tests that need it start their own, scoped to
 * their namespace (test/support/argo-rollouts.ts); its binaries are resolved here once.
 * Usage: node --import tsx test/integration/run.ts [file ...]
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { argoRolloutsDir, argoRolloutsEnv } from '../support/argo-rollouts.js';
import { clusterEnv } from '../support/cluster.js';
import { LocalControlPlane } from '../support/controlplane.js';

const here = path.dirname(fileURLToPath(import.meta.url));

function testFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((entry) => {
      const full = path.join(dir, entry);
      if (statSync(full).isDirectory()) return testFiles(full);
      return entry.endsWith('.test.ts') ? [full] : [];
    })
    .sort();
}

const files = process.argv.length > 2 ? process.argv.slice(2) : testFiles(here);
const argoRollouts = await argoRolloutsDir();
const started = Date.now();
const plane = await LocalControlPlane.start({ nodes: { cpuNodes: 2, gpuNodes: 1 } });
console.log(`control plane ready in ${((Date.now() - started) / 1000).toFixed(1)} s at ${plane.server}`);

const code = await new Promise<number>((resolve) => {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-concurrency=1',
      '--test-timeout=300000',
      '--test-reporter=spec',
      ...files,
    ],
    {
      stdio: 'inherit',
      env: {
        ...process.env,
        [clusterEnv.kubeconfig]: plane.kubeconfigPath,
        [clusterEnv.binDir]: plane.binDir,
        [argoRolloutsEnv]: argoRollouts,
      },
    },
  );
  child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
});
await plane.stop();
process.exit(code);
