import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { startOperator } from '../controller/operator.js';
import {
  defaultShardStateLimits,
  shardStateLimitFlags,
  type ShardStateLimits,
} from '../evaluator/shard-state.js';
import { clusterEgressDefaults, egressFlags, egressPolicyFromFlags } from '../security/egress.js';
import { createLogger } from '../telemetry/logger.js';

/**
 * A reconcile mostly waits on the API server (two of a new run's writes pass its RBAC escalation
 * check): 2 workers took 112 s to start 1,000 runs, 8 took 44 s (docs/reliability.md, Scale).
 */
const defaultWorkers = 8;

const help = `usage: pruneguard operator [options]

  --namespace NS                     watch one namespace (default: all)
  --port N                           /healthz, /readyz and /metrics (default 8080)
  --workers N                        concurrent reconciles (default ${defaultWorkers}; docs/reliability.md, Scale)
  --leader-elect                     take part in leader election (default on in the chart)
  --lease-namespace NS               namespace of the Lease (default: $POD_NAMESPACE or pruneguard-system)
  --kubeconfig FILE                  default: in-cluster, else $KUBECONFIG, else ~/.kube/config

What an evaluation may ask for (docs/security.md):
  --evaluator-image IMAGE            image of evaluation pods when an evaluation names none
  --allowed-evaluator-images LIST    other images runtime.image may name: exact, or prefixes ending in * (default: none)
  --allow-custom-service-accounts    let runtime.serviceAccountName and retraining Jobs name a ServiceAccount (default off)
  --retraining-service-account NAME  permission-less ServiceAccount of retraining Jobs (default pruneguard-retraining)
  ${egressFlags.schemes} LIST             schemes of models, data and webhooks (default ${clusterEgressDefaults.schemes.join(',')})
  ${egressFlags.hosts} LIST               host patterns: names, *.suffix, IPs, CIDRs, * (default ${clusterEgressDefaults.hosts.join(',')})
  ${egressFlags.allowLoopback}[=BOOL]      allow loopback addresses (default ${clusterEgressDefaults.allowLoopback})
  ${egressFlags.allowPrivate}[=BOOL]       allow private addresses (default ${clusterEgressDefaults.allowPrivate})
  ${shardStateLimitFlags.maxEncodedBytes} N     largest shard result as written (default ${defaultShardStateLimits.maxEncodedBytes})
  ${shardStateLimitFlags.maxDecodedBytes} N  largest shard result decompressed (default ${defaultShardStateLimits.maxDecodedBytes})
Link-local and cloud metadata addresses are refused whatever the flags say.`;

const switches = ['--allow-custom-service-accounts', egressFlags.allowLoopback, egressFlags.allowPrivate];

/** `--flag` means `--flag=true`, so a switch can also be turned off with `--flag=false`. */
function normalizeSwitches(argv: string[]): string[] {
  return argv.map((arg) => (switches.includes(arg) ? `${arg}=true` : arg));
}

function booleanFlag(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new Error(`${name}: expected true or false, got ${JSON.stringify(value)}`);
}

function positiveInteger(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1)
    throw new Error(`${name}: expected a positive integer, got ${JSON.stringify(value)}`);
  return number;
}

/** Runs until SIGTERM or SIGINT, then stops gracefully: in-flight reconciles finish, the lease is released. */
export async function runOperator(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: normalizeSwitches(argv),
    options: {
      namespace: { type: 'string' },
      port: { type: 'string', default: '8080' },
      workers: { type: 'string' },
      'leader-elect': { type: 'boolean', default: false },
      'lease-namespace': { type: 'string', default: process.env.POD_NAMESPACE ?? 'pruneguard-system' },
      'evaluator-image': {
        type: 'string',
        default: process.env.PRUNEGUARD_EVALUATOR_IMAGE ?? 'ghcr.io/pruneguard/pruneguard:0.1.0',
      },
      'allowed-evaluator-images': { type: 'string', default: '' },
      'allow-custom-service-accounts': { type: 'string' },
      'retraining-service-account': { type: 'string', default: 'pruneguard-retraining' },
      [egressFlags.schemes.slice(2)]: { type: 'string' },
      [egressFlags.hosts.slice(2)]: { type: 'string' },
      [egressFlags.allowLoopback.slice(2)]: { type: 'string' },
      [egressFlags.allowPrivate.slice(2)]: { type: 'string' },
      [shardStateLimitFlags.maxEncodedBytes.slice(2)]: { type: 'string' },
      [shardStateLimitFlags.maxDecodedBytes.slice(2)]: { type: 'string' },
      kubeconfig: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  const flag = (name: string) => values[name.slice(2)] as string | undefined;
  const shardStateLimits: ShardStateLimits = {
    maxEncodedBytes: positiveInteger(
      shardStateLimitFlags.maxEncodedBytes,
      flag(shardStateLimitFlags.maxEncodedBytes),
      defaultShardStateLimits.maxEncodedBytes,
    ),
    maxDecodedBytes: positiveInteger(
      shardStateLimitFlags.maxDecodedBytes,
      flag(shardStateLimitFlags.maxDecodedBytes),
      defaultShardStateLimits.maxDecodedBytes,
    ),
  };
  const egress = egressPolicyFromFlags(
    {
      ...(flag(egressFlags.schemes) !== undefined ? { schemes: flag(egressFlags.schemes)! } : {}),
      ...(flag(egressFlags.hosts) !== undefined ? { hosts: flag(egressFlags.hosts)! } : {}),
      ...(flag(egressFlags.allowLoopback) !== undefined
        ? { allowLoopback: flag(egressFlags.allowLoopback)! }
        : {}),
      ...(flag(egressFlags.allowPrivate) !== undefined
        ? { allowPrivate: flag(egressFlags.allowPrivate)! }
        : {}),
    },
    clusterEgressDefaults,
  );
  const kc = new KubeConfig();
  if (values.kubeconfig) kc.loadFromFile(values.kubeconfig);
  else kc.loadFromDefault();
  const log = createLogger({ name: 'pruneguard-operator' });

  const operator = await startOperator({
    kc,
    log,
    ...(values.namespace ? { namespace: values.namespace } : {}),
    port: Number(values.port),
    workers: positiveInteger('--workers', values.workers, defaultWorkers),
    leaderElection: {
      enabled: values['leader-elect'],
      namespace: values['lease-namespace'],
      leaseName: 'pruneguard-operator',
    },
    reconciler: {
      evaluatorImage: values['evaluator-image'],
      allowedEvaluatorImages: values['allowed-evaluator-images']
        .split(',')
        .map((image) => image.trim())
        .filter((image) => image !== ''),
      allowCustomServiceAccounts: booleanFlag(
        '--allow-custom-service-accounts',
        values['allow-custom-service-accounts'],
        false,
      ),
      retrainingServiceAccount: values['retraining-service-account'],
      egress,
      shardStateLimits,
      resultsGraceMs: 30_000,
      actionConfirmTimeoutMs: 120_000,
    },
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info({ signal }, 'shutting down');
      void operator.stop();
    });
  }
  try {
    await operator.done;
    return 0;
  } catch (error) {
    log.error({ err: error }, 'operator stopped');
    return 1;
  }
}
