import { isConflict, isNotFound } from '../actuators/kubernetes.js';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import {
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  RbacAuthorizationV1Api,
  type KubernetesListObject,
  type KubernetesObject,
  type RequestContext,
  type V1Job,
  type V1PersistentVolumeClaim,
  type V1Pod,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  evaluationRunNames,
  group,
  prunedModelEvaluationNames,
  version,
  type EvaluationRun,
  type PrunedModelEvaluation,
} from '../api/v1alpha1/index.js';
import { OperatorMetrics } from '../telemetry/operator-metrics.js';
import { labels } from './evaluation-job.js';
import { EventRecorder } from './events.js';
import { ResourceInformer } from './informer.js';
import { defaultLeaderElection, LeaderElector, LeadershipLost } from './leader-election.js';
import { EvaluationReconciler, type Caches, type ReconcilerOptions } from './reconciler.js';
import {
  apiEvaluationReader,
  verdictEndpoint,
  verdictPathPrefix,
  verdictPathTemplate,
} from './verdict-endpoint.js';
import { WorkQueue } from './work-queue.js';

export interface OperatorOptions {
  kc: KubeConfig;
  log: Logger;
  /** Watch one namespace only; all namespaces when absent. */
  namespace?: string;
  /** Port of /healthz, /readyz, /metrics and the verdict endpoint; 0 picks a free one (tests). */
  port: number;
  workers: number;
  leaderElection: { enabled: boolean; namespace: string; leaseName: string; identity?: string };
  reconciler: ReconcilerOptions;
  /** The reconciler's clock; tests shift it to cross schedule intervals without waiting. */
  now?: () => Date;
}

export interface RunningOperator {
  port: number;
  metrics: OperatorMetrics;
  /**
   * Resolves when the operator has stopped; rejects with a `LeadershipLost` as soon as it could
   * not renew its lease in time (its controllers' requests are aborted then, see `fencedBy`).
   */
  done: Promise<void>;
  stop(): Promise<void>;
}

const managedSelector = `${labels.managedBy}=pruneguard`;

/**
 * `pruneguard operator`: serves health, metrics and verdicts at once (every replica, leader or
 * not), and, while it holds the leader lease, watches evaluations, runs, Jobs and pods and
 * reconciles evaluations from a work queue.
 */
export async function startOperator(options: OperatorOptions): Promise<RunningOperator> {
  const { kc, log } = options;
  const metrics = new OperatorMetrics();
  const identity = options.leaderElection.identity ?? `${os.hostname()}-${process.pid}`;
  const stopping = new AbortController();
  // Ready once the caches synced (runController), or at once as a standby replica of an election.
  let ready = false;
  let leading = false;

  const verdicts = verdictEndpoint({ read: apiEvaluationReader(kc), log });
  const server = http.createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (path?.startsWith(verdictPathPrefix)) return verdicts(req, res);
    if (path === '/healthz') return reply(res, 200, 'ok');
    if (path === '/readyz') return ready ? reply(res, 200, 'ok') : reply(res, 503, 'informers not synced');
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => reply(res, 200, text, metrics.registry.contentType),
        (error: Error) => reply(res, 500, error.message),
      );
      return;
    }
    reply(res, 404, 'not found');
  });
  await new Promise<void>((resolve) => server.listen(options.port, resolve));
  const port = (server.address() as { port: number }).port;
  log.info(
    { port, identity, namespace: options.namespace ?? '(all)' },
    `operator serving /healthz /readyz /metrics ${verdictPathTemplate}`,
  );

  const lead = async (leadership: AbortSignal) => {
    leading = true;
    metrics.leader.set(1);
    try {
      await runController(options, metrics, identity, leadership, (synced) => (ready = synced));
    } finally {
      leading = false;
      metrics.leader.set(0);
    }
  };

  const done = (async () => {
    try {
      if (options.leaderElection.enabled) {
        ready = true; // a standby replica is healthy and ready; only the leader reconciles
        const elector = new LeaderElector(
          kc.makeApiClient(CoordinationV1Api),
          {
            ...defaultLeaderElection,
            namespace: options.leaderElection.namespace,
            leaseName: options.leaderElection.leaseName,
            identity,
          },
          log,
        );
        await elector.run(stopping.signal, lead);
        if (!stopping.signal.aborted) throw new Error('the controllers stopped while leading');
      } else {
        await lead(stopping.signal);
      }
    } finally {
      metrics.leader.set(0);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      log.info({ wasLeading: leading }, 'operator stopped');
    }
  })();

  return {
    port,
    metrics,
    done,
    async stop() {
      stopping.abort();
      await done.catch(() => undefined);
    },
  };
}

async function runController(
  options: OperatorOptions,
  metrics: OperatorMetrics,
  identity: string,
  stop: AbortSignal,
  setReady: (ready: boolean) => void,
): Promise<void> {
  const { log, namespace } = options;
  const kc = fencedBy(options.kc, stop);
  const objects = kc.makeApiClient(CustomObjectsApi);
  const batch = kc.makeApiClient(BatchV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const queue = new WorkQueue();

  const enqueueOwner = (object: { metadata?: { namespace?: string; labels?: Record<string, string> } }) => {
    const evaluation = object.metadata?.labels?.[labels.evaluation];
    if (evaluation) queue.add(`${object.metadata!.namespace}/${evaluation}`);
  };
  const enqueueEvaluation = (object: PrunedModelEvaluation) =>
    queue.add(`${object.metadata.namespace}/${object.metadata.name}`);

  const customPath = (plural: string) =>
    namespace
      ? `/apis/${group}/${version}/namespaces/${namespace}/${plural}`
      : `/apis/${group}/${version}/${plural}`;
  const listCustom = (plural: string) => async () =>
    (await (namespace
      ? objects.listNamespacedCustomObject({ group, version, namespace, plural })
      : objects.listClusterCustomObject({
          group,
          version,
          plural,
        }))) as KubernetesListObject<KubernetesObject>;

  const caches: Caches = {
    evaluations: new ResourceInformer<PrunedModelEvaluation>(
      kc,
      customPath(prunedModelEvaluationNames.plural),
      listCustom(prunedModelEvaluationNames.plural),
      { onChange: enqueueEvaluation, onDelete: enqueueEvaluation },
      log,
    ),
    runs: new ResourceInformer<EvaluationRun>(
      kc,
      customPath(evaluationRunNames.plural),
      listCustom(evaluationRunNames.plural),
      { onChange: enqueueOwner, onDelete: enqueueOwner },
      log,
    ),
    jobs: new ResourceInformer<V1Job>(
      kc,
      namespace ? `/apis/batch/v1/namespaces/${namespace}/jobs` : '/apis/batch/v1/jobs',
      () =>
        namespace
          ? batch.listNamespacedJob({ namespace, labelSelector: managedSelector })
          : batch.listJobForAllNamespaces({ labelSelector: managedSelector }),
      { onChange: enqueueOwner, onDelete: enqueueOwner },
      log,
      managedSelector,
    ),
    pods: new ResourceInformer<V1Pod>(
      kc,
      namespace ? `/api/v1/namespaces/${namespace}/pods` : '/api/v1/pods',
      () =>
        namespace
          ? core.listNamespacedPod({ namespace, labelSelector: managedSelector })
          : core.listPodForAllNamespaces({ labelSelector: managedSelector }),
      { onChange: enqueueOwner, onDelete: enqueueOwner },
      log,
      managedSelector,
    ),
    // For pvc:// sources' pruneguard.io/data-version annotations (data-versions.ts): a read per
    // source and check would cost the API server four requests per evaluation a minute.
    claims: new ResourceInformer<V1PersistentVolumeClaim>(
      kc,
      namespace ? `/api/v1/namespaces/${namespace}/persistentvolumeclaims` : '/api/v1/persistentvolumeclaims',
      () =>
        namespace
          ? core.listNamespacedPersistentVolumeClaim({ namespace })
          : core.listPersistentVolumeClaimForAllNamespaces(),
      { onChange: () => undefined, onDelete: () => undefined },
      log,
    ),
  };

  const reconciler = new EvaluationReconciler(
    { kc, objects, batch, core, rbac },
    caches,
    new EventRecorder(core, identity, log),
    metrics,
    options.reconciler,
    log,
    options.now,
  );

  const informers = Object.values(caches) as ResourceInformer<object>[];
  try {
    // Dependents first, so the first reconcile of each evaluation sees its runs and Jobs.
    for (const informer of [caches.claims, caches.pods, caches.jobs, caches.runs, caches.evaluations])
      if (!(await informer.start(stop))) return; // stopped before the caches synced
    setReady(true);
    log.info('caches synced; reconciling');

    const worker = async () => {
      for (;;) {
        const key = await queue.get();
        if (key === undefined) return;
        metrics.queueDepth.set(queue.length);
        const end = metrics.reconcileDuration.startTimer();
        try {
          const result = await reconciler.reconcile(key);
          queue.forget(key);
          if (result.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
          end({ result: 'success' });
        } catch (error) {
          const retryInMs = queue.addRateLimited(key);
          const [ns, name] = key.split('/');
          if (isConflict(error) || isNotFound(error)) {
            // A write decided on a copy that changed meanwhile (or went away): the next reconcile
            // reads the current one. Routine with optimistic concurrency, so not an error.
            log.debug({ namespace: ns, name, err: error, retryInMs }, 'stale copy; reconciling again');
            end({ result: 'conflict' });
          } else {
            log.error({ namespace: ns, name, err: error, retryInMs }, 'reconcile failed');
            end({ result: 'error' });
          }
        } finally {
          queue.done(key);
        }
      }
    };
    const workers = Array.from({ length: options.workers }, worker);
    await new Promise<void>((resolve) => {
      if (stop.aborted) return resolve();
      stop.addEventListener('abort', () => resolve(), { once: true });
    });
    queue.shutDown();
    await Promise.all(workers);
  } finally {
    setReady(false);
    await Promise.all(informers.map((i) => i.stop()));
  }
}

/**
 * The controllers' access to the API: once leadership is lost, every request they have in flight
 * or start afterwards is aborted, as if the process had exited there (as client-go's controllers
 * do), so nothing decided as leader lands after a successor has taken over. A clean stop aborts
 * nothing: in-flight reconciles finish. Actuators build their clients from this KubeConfig too.
 */
function fencedBy(kc: KubeConfig, leadership: AbortSignal): KubeConfig {
  const lost = new AbortController();
  const onAbort = () => {
    if (leadership.reason instanceof LeadershipLost) lost.abort(leadership.reason);
  };
  if (leadership.aborted) onAbort();
  else leadership.addEventListener('abort', onAbort, { once: true });
  return new FencedKubeConfig(kc, lost.signal);
}

class FencedKubeConfig extends KubeConfig {
  private readonly connections = new ReusedConnections();

  constructor(
    source: KubeConfig,
    private readonly fence: AbortSignal,
  ) {
    super();
    Object.assign(this, source);
  }

  // Every generated API client authenticates each request through its KubeConfig. A request
  // option that sets a signal of its own (a middleware, applied after this) would replace the
  // fence; the controllers set none.
  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const agent = context.getAgent();
    if (agent) context.setAgent(this.connections.agentLike(agent));
    context.setSignal(this.fence);
  }
}

/**
 * client-node gives every request an agent of its own (`KubeConfig.createAgent`), so each one
 * opened a TCP connection and a TLS session, parsing the CA again, and nothing was reused: at
 * 1,000 evaluations that doubled a reconcile's median time (bench/scale.bench.ts).
 * This hands out one keep-alive agent per distinct TLS identity instead (CA, client certificate,
 * server name: re-read by client-node on every request, so a rotated certificate gets a fresh
 * agent), as client-go shares one transport per rest.Config. Idle connections are closed after
 * 30 s, before the API server's own idle timeout (90 s) could race a request onto a closing one.
 * Agents for proxies (`proxyUrl`) are left as client-node made them.
 */
class ReusedConnections {
  private current?: { identity: string; agent: https.Agent };

  agentLike(fresh: http.Agent | https.Agent): http.Agent | https.Agent {
    if (fresh.constructor !== https.Agent) return fresh;
    const options = (fresh as https.Agent & { options: https.AgentOptions }).options;
    const identity = JSON.stringify(
      [
        options.ca,
        options.cert,
        options.key,
        options.pfx,
        options.rejectUnauthorized,
        options.servername,
      ].map((value) => (Buffer.isBuffer(value) ? value.toString('base64') : value)),
    );
    // A replaced agent is not destroyed: its requests in flight finish, its idle connections time out.
    if (this.current?.identity !== identity) {
      this.current = { identity, agent: new https.Agent({ ...options, keepAlive: true, timeout: 30_000 }) };
    }
    return this.current.agent;
  }
}

function reply(
  res: http.ServerResponse,
  status: number,
  body: string,
  contentType = 'text/plain; charset=utf-8',
): void {
  res.writeHead(status, { 'content-type': contentType });
  res.end(body);
}
