/**
 * Runs every integration test file against one real control plane (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, kwok with CPU and GPU fake nodes), then tears it down.
 * The Argo Rollouts controller is not part of it: tests that need it start their own, scoped to
 * their namespace (test/support/argo-rollouts.ts); its binaries are resolved here once.
 * Then the files under node/ run against a second control plane with a real node (kubelet,
 * containerd, kube-proxy; test/support/real-node.ts) and the pruneguard image, and last the files
 * under node/standalone/, one at a time, each starting (and checking the teardown of) its own.
 * Where a real node cannot run, the node files skip with the reason, or fail with it in CI.
 * Usage: node --import tsx test/integration/run.ts [file ...]
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { argoRolloutsDir, argoRolloutsEnv } from '../support/argo-rollouts.js';
import { clusterEnv } from '../support/cluster.js';
import { LocalControlPlane } from '../support/controlplane.js';
import { realNodeEnv, startRealNodeCluster } from '../support/real-node-cluster.js';
import { realNodeUnavailable } from '../support/real-node.js';

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

const files = (process.argv.length > 2 ? process.argv.slice(2) : testFiles(here)).map((f) => path.resolve(f));
const nodeDir = path.join(here, 'node') + path.sep;
const standaloneDir = path.join(nodeDir, 'standalone') + path.sep;
const kwokFiles = files.filter((f) => !f.startsWith(nodeDir));
const nodeFiles = files.filter((f) => f.startsWith(nodeDir) && !f.startsWith(standaloneDir));
const standaloneFiles = files.filter((f) => f.startsWith(standaloneDir));
const codes: number[] = [];

if (kwokFiles.length > 0) {
  const argoRollouts = await argoRolloutsDir();
  const started = Date.now();
  const plane = await LocalControlPlane.start({ nodes: { cpuNodes: 2, gpuNodes: 1 } });
  console.log(`control plane ready in ${seconds(started)} at ${plane.server}`);
  codes.push(
    await runTests(kwokFiles, {
      [clusterEnv.kubeconfig]: plane.kubeconfigPath,
      [clusterEnv.binDir]: plane.binDir,
      [argoRolloutsEnv]: argoRollouts,
    }),
  );
  await plane.stop();
}

if (nodeFiles.length > 0) {
  const unavailable = realNodeUnavailable();
  if (unavailable) {
    // Each file then skips with the reason, or fails with it in CI.
    console.log(`\n*** no real node on this machine: ${unavailable} ***\n`);
    codes.push(await runTests(nodeFiles, {}));
  } else {
    const started = Date.now();
    const ground = await startRealNodeCluster();
    console.log(`control plane and real node ready in ${seconds(started)} at ${ground.plane.server}`);
    try {
      codes.push(
        await runTests(nodeFiles, {
          [clusterEnv.kubeconfig]: ground.plane.kubeconfigPath,
          [clusterEnv.binDir]: ground.plane.binDir,
          [realNodeEnv.image]: ground.image,
        }),
      );
    } finally {
      await ground.stop();
    }
  }
}

for (const file of standaloneFiles) codes.push(await runTests([file], {}));
process.exit(codes.find((c) => c !== 0) ?? 0);

function runTests(testFiles: string[], env: Record<string, string>): Promise<number> {
  return new Promise<number>((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        '--test-concurrency=1',
        '--test-timeout=300000',
        '--test-reporter=spec',
        ...testFiles,
      ],
      { stdio: 'inherit', env: { ...process.env, ...env } },
    );
    child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
  });
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}
