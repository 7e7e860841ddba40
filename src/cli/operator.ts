import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { startOperator } from '../controller/operator.js';
import { createLogger } from '../telemetry/logger.js';

const help = `usage: pruneguard operator [options]

  --namespace NS               watch one namespace (default: all)
  --port N                     /healthz, /readyz and /metrics (default 8080)
  --workers N                  concurrent reconciles (default 2)
  --leader-elect               take part in leader election (default on in the chart)
  --lease-namespace NS         namespace of the Lease (default: $POD_NAMESPACE or pruneguard-system)
  --evaluator-image IMAGE      image of evaluation pods when an evaluation names none
  --evaluator-service-account  ServiceAccount created per namespace for evaluation pods (pruneguard-evaluator)
  --evaluator-cluster-role     ClusterRole it is bound to (pruneguard-evaluator)
  --kubeconfig FILE            default: in-cluster, else $KUBECONFIG, else ~/.kube/config`;

/** Runs until SIGTERM or SIGINT, then stops gracefully: in-flight reconciles finish, the lease is released. */
export async function runOperator(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      namespace: { type: 'string' },
      port: { type: 'string', default: '8080' },
      workers: { type: 'string', default: '2' },
      'leader-elect': { type: 'boolean', default: false },
      'lease-namespace': { type: 'string', default: process.env.POD_NAMESPACE ?? 'pruneguard-system' },
      'evaluator-image': {
        type: 'string',
        default: process.env.PRUNEGUARD_EVALUATOR_IMAGE ?? 'ghcr.io/pruneguard/pruneguard:0.1.0',
      },
      'evaluator-service-account': { type: 'string', default: 'pruneguard-evaluator' },
      'evaluator-cluster-role': { type: 'string', default: 'pruneguard-evaluator' },
      kubeconfig: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  const kc = new KubeConfig();
  if (values.kubeconfig) kc.loadFromFile(values.kubeconfig);
  else kc.loadFromDefault();
  const log = createLogger({ name: 'pruneguard-operator' });

  const operator = await startOperator({
    kc,
    log,
    ...(values.namespace ? { namespace: values.namespace } : {}),
    port: Number(values.port),
    workers: Number(values.workers),
    leaderElection: {
      enabled: values['leader-elect'],
      namespace: values['lease-namespace'],
      leaseName: 'pruneguard-operator',
    },
    reconciler: {
      evaluatorImage: values['evaluator-image'],
      evaluatorServiceAccount: values['evaluator-service-account'],
      evaluatorClusterRole: values['evaluator-cluster-role'],
      resultsGraceMs: 30_000,
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
