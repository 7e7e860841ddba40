import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, type TestContext } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { LocalControlPlane } from './controlplane.js';

/**
 * The control plane a test file talks to. `test/integration/run.ts` starts one for the whole run
 * and passes it through the environment; a file run on its own starts its own.
 */
export interface TestCluster {
  kubeconfigPath: string;
  kubeConfig(): KubeConfig;
  kubectl(args: string[], input?: string): Promise<CommandResult>;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const clusterEnv = {
  kubeconfig: 'PRUNEGUARD_TEST_KUBECONFIG',
  binDir: 'PRUNEGUARD_CONTROLPLANE_BIN',
} as const;

let shared: Promise<TestCluster> | undefined;

export function testCluster(): Promise<TestCluster> {
  shared ??= connect();
  return shared;
}

async function connect(): Promise<TestCluster> {
  const kubeconfigPath = process.env[clusterEnv.kubeconfig];
  const binDir = process.env[clusterEnv.binDir];
  if (kubeconfigPath && binDir) return clusterAt(kubeconfigPath, binDir);

  const plane = await LocalControlPlane.start({ nodes: { cpuNodes: 2, gpuNodes: 1 } });
  after(() => plane.stop());
  return clusterAt(plane.kubeconfigPath, plane.binDir);
}

export function clusterAt(kubeconfigPath: string, binDir: string): TestCluster {
  return {
    kubeconfigPath,
    kubeConfig() {
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfigPath);
      return kc;
    },
    kubectl(args, input) {
      return runCommand(path.join(binDir, 'kubectl'), ['--kubeconfig', kubeconfigPath, ...args], input);
    },
  };
}

/** A fresh namespace for one test, deleted when the test ends. */
export async function testNamespace(t: TestContext, cluster: TestCluster): Promise<string> {
  const prefix = t.name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 40)
    .replace(/^-|-$/g, '');
  const name = `${prefix || 'test'}-${randomBytes(3).toString('hex')}`;
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name, labels: { 'pruneguard.io/test': 'true' } } } });
  t.after(() => core.deleteNamespace({ name }).then(() => undefined));
  return name;
}

export function runCommand(command: string, args: string[], input?: string): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Polls until `check` returns a value (not undefined), or fails with the last observation. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
  );
}
