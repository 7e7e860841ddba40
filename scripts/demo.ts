/**
 * `make demo`: the whole loop on a local control plane, on a real node where this machine can run
 * one (root, containerd, runc, CNI plugins: `realNodeUnavailable`), else on kwok nodes with the
 * emulated kubelet, after one line saying why.
 * 1. starts a real control plane (etcd, kube-apiserver, controller-manager, scheduler) from the
 *    cached binaries, and either a real node (containerd, kubelet, kube-proxy; the pruneguard image
 *    from `make image` imported) beside a kwok GPU node, or kwok with CPU and GPU fake nodes;
 * 2. installs pruneguard as users do: on the real node `helm install` of charts/pruneguard with its
 *    default values and that image (the operator in-cluster: two replicas, leader election); else
 *    the CRDs and RBAC with kubectl apply;
 * 3. creates a namespace with the penguins models and data on two PersistentVolumeClaims, and a
 *    stable/canary Deployment pair (on the real node: the pruneguard image idling, "restricted");
 * 4. on the real node shows the operator's pods and leader, and evaluation pods run in real
 *    containers; else runs the operator in-process (as its own ServiceAccount) and the emulated
 *    kubelet that runs evaluation pods' real command (see README, "Test environment");
 * 5. applies manifests/examples/penguins-cpu-deployment.yaml and prints kubectl's view once the
 *    first run is graded;
 * 6. starts the genuine Argo Rollouts controller (`make argo-rollouts`) in the namespace, creates
 *    a canary Rollout held at its first pause, applies manifests/examples/penguins-rollout.yaml
 *    (pruned-30: Pass) and shows the Rollout before and after the Pass advanced it; then switches
 *    the candidate to pruned-95 (Critical) and shows the Rollout aborted, its canary scaled to 0.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoordinationV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { Action } from '../src/api/v1alpha1/index.js';
import {
  argoRolloutsCrdDir,
  startArgoRollouts,
  type ArgoRolloutsController,
} from '../test/support/argo-rollouts.js';
import {
  helmBinary,
  idleContainer,
  installChart,
  operatorRelease,
  restrictedLabels,
} from '../test/support/chart.js';
import { clusterAt, eventually, type TestCluster } from '../test/support/cluster.js';
import { LocalControlPlane } from '../test/support/controlplane.js';
import { installCrds } from '../test/support/crds.js';
import { machineChanges, machineState } from '../test/support/machine-state.js';
import { installPruneguard, startTestOperator } from '../test/support/operator.js';
import { PodRunner } from '../test/support/pod-runner.js';
import { startRealNodeCluster } from '../test/support/real-node-cluster.js';
import { realNodeOwner, realNodeUnavailable } from '../test/support/real-node.js';
import { CanaryRollout } from '../test/support/rollouts.js';
import {
  createClaims,
  createDeploymentPair,
  fixtureClaimsRoot,
  Objects,
  replicasOf,
} from '../test/integration/controller/fixtures.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const namespace = 'ml';
const example = path.join(repoRoot, 'manifests/examples/penguins-cpu-deployment.yaml');
const rolloutExample = path.join(repoRoot, 'manifests/examples/penguins-rollout.yaml');
const rolloutName = 'penguins-rollout';
const rolloutEvaluation = 'penguins-p30';

function step(title: string): void {
  console.log(`\n==> ${title}`);
}

/** Where the demo runs: what differs between the real node and the emulated kubelet. */
interface Ground {
  cluster: TestCluster;
  /** Which nodes workload pods land on, in the demo's words. */
  nodes: string;
  /** Merged over the workloads' containers (the Deployment pair, the Rollout). */
  workload: Record<string, unknown>;
  realNode: boolean;
  /** Step 2: pruneguard installed as users install it. */
  install(): Promise<void>;
  /** Step 4: the operator running, and whatever runs evaluation pods. */
  runOperator(): Promise<void>;
  stop(): Promise<void>;
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const pvcRoot = await fixtureClaimsRoot('pruneguard-demo-pv-');
// On 'exit': Ctrl-C ends the demo through the harness's signal handlers, which call process.exit.
process.on('exit', () => rmSync(pvcRoot, { recursive: true, force: true }));
const unavailable =
  process.env.PRUNEGUARD_DEMO_NODE === 'emulated'
    ? 'PRUNEGUARD_DEMO_NODE=emulated'
    : (realNodeUnavailable() ??
      (realNodeOwner() !== undefined
        ? `process ${realNodeOwner()} is running this machine's real node (one per machine)`
        : undefined));
if (unavailable)
  console.log(
    `no real node: ${unavailable}; falling back to the emulated kubelet (kwok nodes, operator in-process)`,
  );
const ground = unavailable ? await emulatedGround() : await realNodeGround();
const { cluster } = ground;
let argo: ArgoRolloutsController | undefined;

/** The argument as a shell needs it written, so that an echoed command can be pasted. */
const shellWord = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`);

async function kubectl(...args: string[]): Promise<string> {
  console.log(`$ kubectl ${args.map(shellWord).join(' ')}`);
  const result = await cluster.kubectl(args);
  process.stdout.write(result.stdout);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/** `kubectl argo rollouts get rollout`, through the plugin `make argo-rollouts` built. */
async function argoGet(controller: ArgoRolloutsController): Promise<void> {
  const args = ['get', 'rollout', rolloutName, '--no-color'];
  console.log(`$ kubectl argo rollouts ${args.map(shellWord).join(' ')} -n ${namespace}`);
  const result = await controller.kubectlArgoRollouts(args);
  process.stdout.write(result.code === 0 ? result.stdout : `(not readable: ${result.stderr.trim()})\n`);
}

try {
  await kubectl('get', 'nodes', '-L', 'nvidia.com/gpu.present');

  await ground.install();
  await kubectl('api-resources', '--api-group=pruneguard.io');

  step(
    `namespace ${namespace}: models and data on claims "models" and "data", a stable/canary Deployment pair`,
  );
  await kubectl('create', 'namespace', namespace);
  const kc = cluster.kubeConfig();
  if (ground.realNode)
    await kubectl(
      'label',
      'namespace',
      namespace,
      ...Object.entries(restrictedLabels).map(([k, v]) => `${k}=${v}`),
    );
  await createClaims(kc, namespace, pvcRoot, ['models', 'data']);
  await createDeploymentPair(kc, namespace, 3, 1, 'penguins-classifier', ground.workload);
  if (ground.realNode)
    await kubectl(
      'wait',
      '--for=condition=Available',
      'deployments',
      '--all',
      '-n',
      namespace,
      '--timeout=120s',
    );
  await kubectl('get', 'pvc,deployments', '-n', namespace);

  await ground.runOperator();

  step('applying the example evaluation');
  await kubectl('apply', '-n', namespace, '-f', example);
  const objects = new Objects(kc, namespace);
  const graded = await eventually(
    'the first graded run',
    async () => {
      const evaluation = await objects.evaluation('penguins-p70');
      return evaluation.status?.lastRun?.completedAt ? evaluation : undefined;
    },
    300_000,
    1000,
  );

  step(`first run graded: ${graded.status?.verdict}`);
  await kubectl('get', 'pme', '-n', namespace);
  await kubectl('get', 'pmerun', '-n', namespace);
  if (ground.realNode)
    await kubectl(
      'get',
      'pods',
      '-n',
      namespace,
      '-l',
      'pruneguard.io/evaluation=penguins-p70',
      '-o',
      'wide',
    );
  await kubectl('get', 'pme', 'penguins-p70', '-n', namespace, '-o', 'wide');
  console.log(`explanation: ${graded.status?.explanation}`);
  const replicas = await replicasOf(kc, namespace, 'penguins-classifier');
  console.log(
    `Deployment pair after the verdict: stable ${replicas.stable}, canary ${replicas.canary} (was 3 and 1)`,
  );
  await kubectl('describe', 'pme', 'penguins-p70', '-n', namespace);

  step(`the genuine Argo Rollouts controller (make argo-rollouts), watching namespace ${namespace}`);
  argo = await startArgoRollouts(cluster, namespace);
  const rollout = new CanaryRollout(kc, argo, {
    name: rolloutName,
    steps: [{ setWeight: 25 }, { pause: {} }, { setWeight: 50 }, { pause: {} }],
    container: ground.workload,
  });
  await rollout.create();
  const canaryHash = (await rollout.rollToIndefinitePause('2')).currentPodHash!;
  await rollout.waitForReplicas(canaryHash, 1);
  step(
    `canary Rollout ${rolloutName} on ${ground.nodes}: revision 1 rolled out, revision 2 held by the controller at its first pause (25%)`,
  );
  await kubectl('get', 'rollout', rolloutName, '-n', namespace);
  await argoGet(argo);

  /** The `type` action of run `run`, once it is Done; a Skipped one ends the demo with its reason. */
  const actionOf = async (run: number, type: Action['type']) => {
    const action = await eventually(
      `the ${type} of ${rolloutEvaluation} run ${run} to end`,
      async () => {
        const evaluation = await objects.evaluation(rolloutEvaluation);
        const found = evaluation.status?.actions?.find(
          (a) => a.type === type && a.run === `${rolloutEvaluation}-${String(run).padStart(5, '0')}`,
        );
        return found?.state === 'Done' || found?.state === 'Skipped' ? found : undefined;
      },
      300_000,
      1000,
    );
    if (action.state !== 'Done') throw new Error(`${type} of run ${run} ${action.state}: ${action.detail}`);
    return action;
  };
  step(
    `applying ${path.relative(repoRoot, rolloutExample)} (candidate pruned-30, target Rollout ${rolloutName})`,
  );
  await kubectl('apply', '-n', namespace, '-f', rolloutExample);
  const advanced = await actionOf(1, 'Advance');
  const passed = await objects.evaluation(rolloutEvaluation);
  step(`first run graded: ${passed.status?.verdict}; Advance ${advanced.state}: ${advanced.detail}`);
  await kubectl('get', 'pme', rolloutEvaluation, '-n', namespace);
  await rollout.waitFor('the canary to stop at its next pause', (s) => (s.pauseConditions?.length ?? 0) > 0);
  await rollout.waitForReplicas(canaryHash, 2);
  await kubectl('get', 'rollout', rolloutName, '-n', namespace);
  await argoGet(argo);

  step('switching the candidate to pruned-95 (a spec change starts a new run)');
  await kubectl(
    'patch',
    'pme',
    rolloutEvaluation,
    '-n',
    namespace,
    '--type=merge',
    '-p',
    '{"spec":{"candidate":{"uri":"pvc://models/penguins/pruned-95.onnx"}}}',
  );
  const rolledBack = await actionOf(2, 'Rollback');
  const critical = await objects.evaluation(rolloutEvaluation);
  step(`second run graded: ${critical.status?.verdict}; Rollback ${rolledBack.state}: ${rolledBack.detail}`);
  console.log(`explanation: ${critical.status?.explanation}`);
  await eventually('the canary ReplicaSet to have no pods', async () => {
    const canary = await rollout.replicaSet(canaryHash);
    return canary.spec?.replicas === 0 && (canary.status?.replicas ?? 0) === 0 ? canary : undefined;
  });
  await kubectl('get', 'pme', rolloutEvaluation, '-n', namespace);
  await kubectl('get', 'rollout', rolloutName, '-n', namespace);
  await kubectl('get', 'replicasets', '-n', namespace, '-l', `app=${rolloutName}`);
  await argoGet(argo);
  await kubectl(
    'get',
    'pme',
    rolloutEvaluation,
    '-n',
    namespace,
    '-o',
    'jsonpath={range .status.actions[*]}{.run}{"  "}{.type}{"  "}{.state}{"  "}{.detail}{"\\n"}{end}',
  );
} finally {
  await argo?.stop();
  await ground.stop();
}

/** Today's demo: kwok nodes, the operator in this process, evaluation pods run by the pod runner. */
async function emulatedGround(): Promise<Ground> {
  step('starting a local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)');
  const started = Date.now();
  const plane = await LocalControlPlane.start({ nodes: { cpuNodes: 2, gpuNodes: 1 } });
  console.log(`ready in ${seconds(started)} at ${plane.server}`);
  const cluster = clusterAt(plane.kubeconfigPath, plane.binDir);
  let pods: PodRunner | undefined;
  let operator: Awaited<ReturnType<typeof startTestOperator>> | undefined;
  return {
    cluster,
    nodes: 'the kwok nodes',
    workload: {},
    realNode: false,
    async install() {
      step(
        'installing pruneguard: CRDs and RBAC (kubectl apply --server-side -f crds/ -f manifests/install/rbac.yaml)',
      );
      await installPruneguard(cluster);
    },
    async runOperator() {
      step('starting the operator and the emulated kubelet for evaluation pods');
      pods = new PodRunner(cluster.kubeConfig(), { pvcRoot });
      await pods.start();
      operator = await startTestOperator(cluster);
      console.log(`operator serving /metrics on http://127.0.0.1:${operator.port}/metrics`);
    },
    async stop() {
      await operator?.stop();
      await pods?.stop();
      await plane.stop();
    },
  };
}

/**
 * A real node (test/support/real-node.ts) with the image built here, pruneguard installed by helm
 * and running in-cluster. Everything the node changed on the machine is undone when it stops
 * (also on Ctrl-C, an error, or by the next run after a kill); the demo checks that it was.
 */
async function realNodeGround(): Promise<Ground> {
  step(
    'starting a local control plane on a real node: etcd, kube-apiserver, controller-manager, scheduler; ' +
      'containerd, kubelet, kube-proxy with the pruneguard image (make image) imported; a kwok GPU node',
  );
  const started = Date.now();
  const machineBefore = machineState();
  const real = await startRealNodeCluster();
  console.log(`ready in ${seconds(started)} at ${real.plane.server}, image ${real.image}`);
  const cluster = clusterAt(real.plane.kubeconfigPath, real.plane.binDir);
  const at = real.image.lastIndexOf(':');
  const image = { repository: real.image.slice(0, at), tag: real.image.slice(at + 1) };
  return {
    cluster,
    nodes: 'the real node',
    workload: idleContainer(image),
    realNode: true,
    async install() {
      await helmBinary();
      step(`installing pruneguard with helm: the chart's default values and the image built here`);
      console.log(
        `$ helm install ${operatorRelease.name} charts/pruneguard -n ${operatorRelease.namespace} ` +
          `--set image.repository=${image.repository} --set image.tag=${image.tag} --set image.pullPolicy=Never --wait`,
      );
      const installing = Date.now();
      await installChart(cluster, image);
      console.log(`deployed in ${seconds(installing)}`);
      // The Rollout's CRDs come with Argo Rollouts, not with pruneguard's chart.
      await installCrds(cluster, [await argoRolloutsCrdDir()]);
    },
    async runOperator() {
      step(
        'the operator runs in-cluster from the image (two replicas, one leader); evaluation pods will run in real containers',
      );
      await kubectl('get', 'pods', '-n', operatorRelease.namespace, '-o', 'wide');
      const kc = cluster.kubeConfig();
      const lease = await eventually('a leader', async () => {
        const l = await kc
          .makeApiClient(CoordinationV1Api)
          .readNamespacedLease({ name: 'pruneguard-operator', namespace: operatorRelease.namespace });
        return l.spec?.holderIdentity ? l : undefined;
      });
      const service = await kc
        .makeApiClient(CoreV1Api)
        .readNamespacedService({ name: operatorRelease.fullname, namespace: operatorRelease.namespace });
      console.log(
        `leader ${lease.spec?.holderIdentity}; /metrics through its Service on http://${service.spec?.clusterIP}:8080/metrics`,
      );
    },
    async stop() {
      await real.stop();
      const changes = machineChanges(machineBefore, machineState());
      console.log(
        changes.length === 0
          ? '\nreal node stopped: sysctls, iptables, nftables, links, addresses, routes, mounts, paths and cgroups as before'
          : `\nreal node stopped; the machine differs from before it started:\n  ${changes.join('\n  ')}`,
      );
    },
  };
}
