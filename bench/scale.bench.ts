/**
 * Scale: how the operator copes with many evaluations at once.
 *
 *   node --import tsx bench/scale.bench.ts [--count 1000] [--namespaces 10] [--workers N]
 *
 * The local control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler; no
 * nodes, so evaluation pods are created and stay Pending: a run's Job existing is the milestone)
 * and the operator as it ships: the compiled `dist/src/cli/main.js operator` (`make build`) in a
 * process of its own, as its ServiceAccount, through a proxy that counts its requests
 * (test/support/counting-proxy.ts). The bench creates `--count` evaluations spread over
 * `--namespaces` namespaces, with a daily schedule (no second run starts while it measures), and
 * reports:
 * - the time from the first create until every evaluation has a run and that run a Job (seen by
 *   the bench's own watches, no polling);
 * - reconcile p50 and p99, from the operator's own histogram
 *   (pruneguard_reconcile_duration_seconds, scraped from its /metrics);
 * - the operator's API requests per evaluation, counted until it has been quiet for
 *   `quietMs`, and its requests in the idle minute after that (watches count once, when opened);
 * - the operator process's peak resident memory (VmHWM in /proc/<pid>/status);
 * - the time from deleting every evaluation until the last is gone (finalizers removed).
 */
import { access, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Job,
} from '@kubernetes/client-node';
import { evaluationRunNames, group, prunedModelEvaluationNames, version } from '../src/api/v1alpha1/index.js';
import { labels } from '../src/controller/evaluation-job.js';
import { ResourceInformer } from '../src/controller/informer.js';
import { createLogger } from '../src/telemetry/logger.js';
import { clusterAt, eventually } from '../test/support/cluster.js';
import { freePorts, LocalControlPlane, spawnTied, tail, terminate } from '../test/support/controlplane.js';
import { CountingProxy, requestKind, type CountedRequest } from '../test/support/counting-proxy.js';
import { installPruneguard, operatorKubeConfig } from '../test/support/operator.js';
import { penguinsEvaluation } from '../test/integration/controller/fixtures.js';
import { printTable } from './table.js';

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--${name}: expected a positive integer`);
  return value;
}

const count = argument('count', 1000);
const namespaceCount = argument('namespaces', 10);
const workers = process.argv.includes('--workers') ? argument('workers', 0) : undefined;
/** The operator counts as done with the sync once it has sent nothing for this long. */
const quietMs = 5_000;
const idleMs = 60_000;
/** Creates (and deletes) the bench keeps in flight, as `kubectl apply` of many files would. */
const inFlight = 16;
const targets = { syncedMs: 60_000, p99Ms: 250, rssMiB: 300, idleRequests: 0 };

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entrypoint = path.join(repoRoot, 'dist/src/cli/main.js');

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `task` over `items`, `limit` at a time. */
async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await task(items[next++]!);
    }),
  );
}

/** A Prometheus histogram's cumulative buckets, summed over its label sets. */
function histogram(text: string, name: string): { le: number; count: number }[] {
  const totals = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    const le = /le="([^"]+)"/.exec(line)![1]!;
    const bound = le === '+Inf' ? Infinity : Number(le);
    totals.set(bound, (totals.get(bound) ?? 0) + Number(line.split(' ').at(-1)));
  }
  return [...totals].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

/** histogram_quantile(): linear within the bucket the quantile falls in. */
function quantile(buckets: { le: number; count: number }[], q: number): number {
  const total = buckets.at(-1)?.count ?? 0;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const { le, count } of buckets) {
    if (count >= rank) {
      if (le === Infinity) return lower;
      return lower + ((le - lower) * (rank - below)) / Math.max(count - below, 1);
    }
    lower = le;
    below = count;
  }
  return lower;
}

/** Share of observations at or under `bound` (a bucket boundary, so exact). */
function shareAtMost(buckets: { le: number; count: number }[], bound: number): number {
  const total = buckets.at(-1)?.count ?? 0;
  return (buckets.find((b) => b.le === bound)?.count ?? 0) / Math.max(total, 1);
}

async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** CPU seconds (user + system) a process has used so far. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}
const clockTicks = 100;

/** The control plane's processes: those running in its work directory. */
async function controlPlanePids(workDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => '');
    if (cwd === workDir) pids.push(Number(entry));
  }
  return pids;
}

/** The operator's requests by `verb resource`, most frequent first, with their latency through the proxy. */
function breakdown(requests: readonly CountedRequest[], per: number): string[] {
  const byKind = new Map<string, number[]>();
  for (const r of requests) byKind.set(requestKind(r), [...(byKind.get(requestKind(r)) ?? []), r.ms ?? NaN]);
  const rank = (sorted: number[], q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
  return [...byKind]
    .sort((a, b) => b[1].length - a[1].length)
    .map(([kind, latencies]) => {
      const sorted = latencies.filter((l) => !Number.isNaN(l)).sort((a, b) => a - b);
      const timing = sorted.length
        ? `  p50 ${rank(sorted, 0.5).toFixed(0).padStart(4)} ms  p99 ${rank(sorted, 0.99).toFixed(0).padStart(5)} ms`
        : '';
      const n = latencies.length;
      return `  ${String(n).padStart(6)}  ${(n / per).toFixed(2).padStart(5)}/PME${timing}  ${kind}`;
    });
}

async function main(): Promise<void> {
  await access(entrypoint).catch(() => {
    throw new Error(`${entrypoint} is missing: run \`make build\` (npx tsc -p tsconfig.json) first`);
  });
  const benchStarted = Date.now();
  // kube-controller-manager for the Job controller (pods), namespaces and garbage collection; no
  // nodes: evaluation pods stay Pending, as they would waiting for a busy GPU pool.
  const plane = await LocalControlPlane.start({ controllers: true });
  const cluster = clusterAt(plane.kubeconfigPath, plane.binDir);
  const kc = cluster.kubeConfig();
  const objects = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const proxy = await CountingProxy.start(plane);
  const log = createLogger({ name: 'bench-watch', level: 'warn', destination: 2 });
  const informers: ResourceInformer<KubernetesObject>[] = [];
  let operator: ReturnType<typeof spawnTied> | undefined;
  const operatorLog = path.join(plane.workDir, 'operator.log');
  try {
    await installPruneguard(cluster);
    const namespaces = Array.from({ length: namespaceCount }, (_, i) => `scale-${i}`);
    for (const name of namespaces) await core.createNamespace({ body: { metadata: { name } } });
    // Pods need the namespace's default ServiceAccount (kube-controller-manager makes it).
    await eventually('default ServiceAccounts', async () => {
      const accounts = await core.listServiceAccountForAllNamespaces({
        fieldSelector: 'metadata.name=default',
      });
      const ready = new Set(accounts.items.map((a) => a.metadata?.namespace));
      return namespaces.every((n) => ready.has(n)) ? true : undefined;
    });

    // What the bench watches: runs and Jobs (the milestone) and evaluations (deletion).
    const withRun = new Set<string>();
    const withJob = new Set<string>();
    const present = new Set<string>();
    let synced: (at: number) => void = () => undefined;
    let allGone: (at: number) => void = () => undefined;
    const evaluationKey = (o: KubernetesObject) =>
      `${o.metadata!.namespace}/${o.metadata!.labels?.[labels.evaluation] ?? ''}`;
    const check = () => {
      const at = performance.now();
      if (withRun.size >= count && withJob.size >= count) synced(at);
    };
    informers.push(
      new ResourceInformer<KubernetesObject>(
        kc,
        `/apis/${group}/${version}/${evaluationRunNames.plural}`,
        () =>
          objects.listClusterCustomObject({ group, version, plural: evaluationRunNames.plural }) as Promise<
            KubernetesListObject<KubernetesObject>
          >,
        { onChange: (o) => (withRun.add(evaluationKey(o)), check()), onDelete: () => undefined },
        log,
      ),
      new ResourceInformer<KubernetesObject>(
        kc,
        '/apis/batch/v1/jobs',
        () => batch.listJobForAllNamespaces({ labelSelector: `${labels.managedBy}=pruneguard` }),
        { onChange: (o: V1Job) => (withJob.add(evaluationKey(o)), check()), onDelete: () => undefined },
        log,
        `${labels.managedBy}=pruneguard`,
      ),
      new ResourceInformer<KubernetesObject>(
        kc,
        `/apis/${group}/${version}/${prunedModelEvaluationNames.plural}`,
        () =>
          objects.listClusterCustomObject({
            group,
            version,
            plural: prunedModelEvaluationNames.plural,
          }) as Promise<KubernetesListObject<KubernetesObject>>,
        {
          onChange: (o) => present.add(`${o.metadata!.namespace}/${o.metadata!.name}`),
          onDelete: (o) => {
            present.delete(`${o.metadata!.namespace}/${o.metadata!.name}`);
            if (present.size === 0) allGone(performance.now());
          },
        },
        log,
      ),
    );
    for (const informer of informers) await informer.start();

    // The operator as it ships, as its ServiceAccount, through the counting proxy.
    const kubeconfig = path.join(plane.workDir, 'operator.kubeconfig');
    await writeFile(kubeconfig, proxy.kubeConfig(await operatorKubeConfig(cluster)).exportConfig());
    const [port] = await freePorts(1);
    operator = spawnTied(
      process.execPath,
      [
        entrypoint,
        'operator',
        `--kubeconfig=${kubeconfig}`,
        `--port=${port}`,
        ...(workers ? [`--workers=${workers}`] : []),
      ],
      { cwd: repoRoot, logFile: operatorLog },
    );
    const pid = operator.pid!;
    const metricsUrl = `http://127.0.0.1:${port}/metrics`;
    await eventually(
      'the operator to be ready',
      async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? true : undefined),
      60_000,
      200,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${await tail(operatorLog)}`);
    });
    // /readyz answers before the caches sync when leader election is off: wait for the four watches.
    await eventually(
      "the operator's watches",
      async () => (proxy.requests.filter((r) => r.watch).length >= 4 ? true : undefined),
      60_000,
      100,
    );
    const startupRequests = proxy.requests.length;
    const setupMs = Date.now() - benchStarted;

    /** Resolves once the operator has sent no request for `quietMs`; the time of its last one. */
    const quiet = async (since: number) => {
      for (;;) {
        await sleep(1000);
        const last = proxy.requests.at(-1)?.at ?? since;
        if (performance.now() - last >= quietMs) return Math.max(last, since);
      }
    };

    // Sync: every evaluation gets a run and a Job.
    const evaluations = Array.from({ length: count }, (_, i) => ({
      namespace: namespaces[i % namespaceCount]!,
      name: `scale-${String(i).padStart(5, '0')}`,
    }));
    const syncedAt = new Promise<number>((resolve) => (synced = resolve));
    const planePids = await controlPlanePids(plane.workDir);
    const cpu = async () => ({
      operator: await cpuSeconds(pid),
      plane: (await Promise.all(planePids.map(cpuSeconds))).reduce((a, b) => a + b, 0),
    });
    const cpuBefore = await cpu();
    const createStarted = performance.now();
    await pool(evaluations, inFlight, ({ namespace, name }) =>
      objects.createNamespacedCustomObject({
        group,
        version,
        namespace,
        plural: prunedModelEvaluationNames.plural,
        body: penguinsEvaluation(name, { schedule: { interval: '24h' } }),
      }),
    );
    const createdMs = performance.now() - createStarted;
    const syncedMs = (await syncedAt) - createStarted;
    const settledAt = await quiet(createStarted);
    const syncRequests = proxy.between(createStarted, settledAt + 1);
    const cpuAfter = await cpu();
    const metrics = await (await fetch(metricsUrl)).text();
    const reconciles = histogram(metrics, 'pruneguard_reconcile_duration_seconds');
    const reconcileCount = reconciles.at(-1)?.count ?? 0;
    const conflicts = Number(
      /pruneguard_reconcile_duration_seconds_count\{result="conflict"\} (\d+)/.exec(metrics)?.[1] ?? 0,
    );

    // Idle: nothing changes for a minute.
    const idleStarted = performance.now();
    await sleep(idleMs);
    const idleRequests = proxy.between(idleStarted);

    // Delete: every evaluation, until the last finalizer is removed.
    const goneAt = new Promise<number>((resolve) => (allGone = resolve));
    const deleteStarted = performance.now();
    for (const namespace of namespaces)
      await objects.deleteCollectionNamespacedCustomObject({
        group,
        version,
        namespace,
        plural: prunedModelEvaluationNames.plural,
      });
    const deletedMs = (await goneAt) - deleteStarted;
    const deleteRequests = proxy.between(deleteStarted);
    const rssMiB = await peakRssMiB(pid);

    const p50 = quantile(reconciles, 0.5) * 1000;
    const p99 = quantile(reconciles, 0.99) * 1000;
    const within = shareAtMost(reconciles, targets.p99Ms / 1000);
    const idlePerMinute = (idleRequests.length * 60_000) / idleMs;
    const verdict = (met: boolean) => (met ? 'met' : 'missed');
    const rows: [string, string, string, string][] = [
      [
        `every PME has a run and a Job (${count} PMEs, ${namespaceCount} namespaces)`,
        seconds(syncedMs),
        `< ${seconds(targets.syncedMs)}`,
        verdict(syncedMs < targets.syncedMs),
      ],
      ['reconcile p50 (pruneguard_reconcile_duration_seconds)', `${p50.toFixed(0)} ms`, '', ''],
      [
        `reconcile p99 (${(within * 100).toFixed(1)}% at or under ${targets.p99Ms} ms)`,
        `${p99.toFixed(0)} ms`,
        `< ${targets.p99Ms} ms`,
        verdict(within >= 0.99),
      ],
      [
        `API requests per PME during the sync (${syncRequests.length} in all)`,
        (syncRequests.length / count).toFixed(2),
        '',
        '',
      ],
      [
        'API requests per idle minute, all synced',
        String(idlePerMinute),
        String(targets.idleRequests),
        verdict(idlePerMinute <= targets.idleRequests),
      ],
      [
        'operator peak RSS (VmHWM)',
        `${rssMiB.toFixed(0)} MiB`,
        `< ${targets.rssMiB} MB`,
        verdict(rssMiB * 1.048576 < targets.rssMiB),
      ],
      [
        `delete every PME until the last is gone (${(deleteRequests.length / count).toFixed(2)} requests per PME)`,
        seconds(deletedMs),
        '',
        '',
      ],
    ];
    console.log(
      `setup: control plane, ${namespaceCount} namespaces and the operator in ${seconds(setupMs)}; ` +
        `operator dist/src/cli/main.js (pid ${pid}, ${workers ?? 'default'} workers), ${startupRequests} requests to start; ` +
        `${count} PMEs created in ${seconds(createdMs)} (${inFlight} in flight); ${reconcileCount} reconciles (${conflicts} ended in a 409); ` +
        `sync counted until the operator was quiet for ${seconds(quietMs)} (${seconds(settledAt - createStarted)} after the first create); ` +
        `CPU used meanwhile: operator ${seconds((cpuAfter.operator - cpuBefore.operator) * 1000)}, ` +
        `control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) ${seconds((cpuAfter.plane - cpuBefore.plane) * 1000)}`,
    );
    const header = ['figure', 'value', 'target', 'result'];
    printTable(header, rows);
    console.log(`operator requests during the sync, by kind:\n${breakdown(syncRequests, count).join('\n')}`);
    if (idleRequests.length > 0)
      console.log(`operator requests while idle:\n${breakdown(idleRequests, 1).join('\n')}`);
    console.log(`whole bench ${seconds(Date.now() - benchStarted)}`);
  } finally {
    await Promise.all(informers.map((i) => i.stop().catch(() => undefined)));
    if (operator) await terminate(operator);
    await proxy.close();
    await plane.stop();
  }
}

await main();
