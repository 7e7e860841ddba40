/**
 * The genuine Argo Rollouts controller (`rollouts-controller`) and its kubectl plugin
 * (`kubectl-argo-rollouts`), built from github.com/argoproj/argo-rollouts by
 * `hack/argo-rollouts/build.sh`, run against the test control plane.
 *
 * Tests start it on demand, one controller per test, scoped to that test's namespace
 * (`--namespaced`): a test that stands in for Argo itself (writes a Rollout's status by hand, or
 * checks the exact patch pruneguard sends) keeps its Rollouts untouched, and no test inherits
 * another's controller state. Starting one takes a few seconds; the one control plane of
 * `test/integration/run.ts` does not run it for every file.
 *
 * Install the Argo CRDs first (`installCrds` does, with those of this same build): the controller
 * waits for its informers on Rollouts, AnalysisRuns and Experiments before it works.
 * Leader election is off; its metrics and healthz servers (it binds them on 0.0.0.0, which is
 * not configurable) get free ports; its log is `argo-rollouts-<namespace>.log` in the control
 * plane's folder. It dies with the test process, like the control plane's own children.
 */
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runCommand, type CommandResult, type TestCluster } from './cluster.js';
import { freePorts, spawnTied, tail, terminate } from './controlplane.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Set by `test/integration/run.ts`, so test files need not ask the build script again. */
export const argoRolloutsEnv = 'PRUNEGUARD_ARGO_ROLLOUTS_BIN';

let built: Promise<string> | undefined;

/** The cache folder holding `rollouts-controller`, `kubectl-argo-rollouts` and `crds/`. */
export function argoRolloutsDir(): Promise<string> {
  const fromEnv = process.env[argoRolloutsEnv];
  if (fromEnv) return Promise.resolve(fromEnv);
  built ??= promisify(execFile)('bash', [path.join(repoRoot, 'hack/argo-rollouts/build.sh')], {
    maxBuffer: 16 * 1024 * 1024,
  }).then(({ stdout }) => stdout.trim().split('\n').at(-1)!);
  return built;
}

/** Argo Rollouts' CRDs (manifests/crds/ of the module the controller is built from). */
export async function argoRolloutsCrdDir(): Promise<string> {
  return path.join(await argoRolloutsDir(), 'crds');
}

/** The part of an argoproj.io/v1alpha1 Rollout's status the tests read. */
export interface RolloutStatus {
  phase?: string;
  message?: string;
  abort?: boolean;
  currentStepIndex?: number;
  currentPodHash?: string;
  stableRS?: string;
  pauseConditions?: { reason: string; startTime?: string }[];
  controllerPause?: boolean;
  canary?: { currentStepAnalysisRunStatus?: { name?: string; status?: string } };
  replicas?: number;
  updatedReplicas?: number;
  availableReplicas?: number;
}

export interface ArgoRolloutsController {
  readonly namespace: string;
  readonly logFile: string;
  /** `kubectl argo rollouts ARGS` in the controller's namespace, with the harness kubeconfig. */
  kubectlArgoRollouts(args: string[]): Promise<CommandResult>;
  /** The last lines of the controller's log, for failure messages. */
  logTail(lines?: number): Promise<string>;
  stop(): Promise<void>;
}

export async function startArgoRollouts(
  cluster: TestCluster,
  namespace: string,
): Promise<ArgoRolloutsController> {
  const dir = await argoRolloutsDir();
  const workDir = path.dirname(cluster.kubeconfigPath);
  const logFile = path.join(workDir, `argo-rollouts-${namespace}.log`);
  const [metricsPort, healthzPort] = await freePorts(2);
  // A controller started again in the same namespace appends to the same log: read only its own lines.
  const logStart = (await stat(logFile).catch(() => undefined))?.size ?? 0;
  const child = spawnTied(
    path.join(dir, 'rollouts-controller'),
    [
      `--kubeconfig=${cluster.kubeconfigPath}`,
      `--namespace=${namespace}`,
      '--namespaced',
      '--leader-elect=false',
      `--metricsport=${metricsPort}`,
      `--healthzPort=${healthzPort}`,
      '--logformat=text',
    ],
    // Where it looks for its own ConfigMap (argo-rollouts-config) and notification settings.
    { cwd: workDir, logFile, env: { ...process.env, POD_NAMESPACE: namespace } },
  );
  const controller: ArgoRolloutsController = {
    namespace,
    logFile,
    kubectlArgoRollouts: (args) =>
      runCommand(path.join(dir, 'kubectl-argo-rollouts'), [
        '--kubeconfig',
        cluster.kubeconfigPath,
        '--namespace',
        namespace,
        ...args,
      ]),
    logTail: (lines) => tail(logFile, lines),
    stop: () => terminate(child),
  };

  // Logged once its informer caches have synced and its workers run.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `rollouts-controller exited (${child.exitCode ?? child.signalCode}):\n${await tail(logFile)}`,
      );
    }
    const log = await readFile(logFile).catch(() => Buffer.alloc(0));
    if (log.subarray(logStart).toString().includes('Started controller')) return controller;
    if (Date.now() > deadline) {
      await controller.stop();
      throw new Error(`rollouts-controller not started after 60 s:\n${await tail(logFile)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
