import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { startOperator, type RunningOperator } from '../../src/controller/operator.js';
import type { ReconcilerOptions } from '../../src/controller/reconciler.js';
import { defaultShardStateLimits } from '../../src/evaluator/shard-state.js';
import { clusterEgressDefaults } from '../../src/security/egress.js';
import { createLogger } from '../../src/telemetry/logger.js';
import type { TestCluster } from './cluster.js';
import { installCrds } from './crds.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** What the tests' operators are told, unless a test says otherwise. */
export const testReconcilerOptions: ReconcilerOptions = {
  evaluatorImage: 'ghcr.io/pruneguard/pruneguard:test',
  allowedEvaluatorImages: [],
  allowCustomServiceAccounts: false,
  retrainingServiceAccount: 'pruneguard-retraining',
  egress: clusterEgressDefaults,
  shardStateLimits: defaultShardStateLimits,
  resultsGraceMs: 10_000,
  actionConfirmTimeoutMs: 60_000,
};

export const installDir = path.join(repoRoot, 'manifests/install');

/** CRDs and the operator's RBAC exactly as users install them. */
export async function installPruneguard(cluster: TestCluster): Promise<void> {
  await installCrds(cluster);
  const applied = await cluster.kubectl(['apply', '--server-side', '-f', path.join(installDir, 'rbac.yaml')]);
  if (applied.code !== 0) throw new Error(`kubectl apply rbac.yaml failed: ${applied.stderr}`);
}

/** A kubeconfig that authenticates as the operator's ServiceAccount, so tests exercise its ClusterRole. */
export async function operatorKubeConfig(cluster: TestCluster): Promise<KubeConfig> {
  const admin = cluster.kubeConfig();
  const token = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name: 'pruneguard-operator',
    namespace: 'pruneguard-system',
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const server = admin.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'local', server: server.server, caFile: server.caFile }],
    users: [{ name: 'pruneguard-operator', token: token.status!.token }],
    contexts: [{ name: 'operator', cluster: 'local', user: 'pruneguard-operator' }],
    currentContext: 'operator',
  });
  return kc;
}

export interface TestOperatorOptions {
  namespace?: string;
  /** Overrides of the operator's configuration (its flags in a real install). */
  reconciler?: Partial<ReconcilerOptions>;
  now?: () => Date;
  leaderElection?: { leaseName: string; identity: string };
  /** Where the operator logs (default: stderr at PRUNEGUARD_LOG_LEVEL, else warn). */
  log?: Logger;
}

export async function startTestOperator(
  cluster: TestCluster,
  options: TestOperatorOptions = {},
): Promise<RunningOperator> {
  return startOperator({
    kc: await operatorKubeConfig(cluster),
    log:
      options.log ??
      createLogger({
        name: 'pruneguard-operator',
        level: process.env.PRUNEGUARD_LOG_LEVEL ?? 'warn',
        destination: 2,
      }),
    ...(options.namespace ? { namespace: options.namespace } : {}),
    port: 0,
    workers: 2,
    leaderElection: options.leaderElection
      ? { enabled: true, namespace: 'pruneguard-system', ...options.leaderElection }
      : { enabled: false, namespace: 'pruneguard-system', leaseName: 'unused' },
    reconciler: { ...testReconcilerOptions, ...options.reconciler },
    ...(options.now ? { now: options.now } : {}),
  });
}
