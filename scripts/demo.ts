/**
 * `make demo`: the whole loop on a local control plane.
 * 1. starts a real control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok with
 *    CPU and GPU fake nodes) from the cached binaries;
 * 2. installs pruneguard's CRDs and RBAC as users do (kubectl apply);
 * 3. creates a namespace with the penguins models and data on two PersistentVolumeClaims, and a
 *    stable/canary Deployment pair;
 * 4. runs the operator (as its own ServiceAccount) and the emulated kubelet that runs evaluation
 *    pods' real command (see README, "Test environment");
 * 5. applies manifests/examples/penguins-cpu-deployment.yaml and prints kubectl's view once the
 *    first run is graded;
 * 6. starts the genuine Argo Rollouts controller (`make argo-rollouts`) in the namespace, creates
 *    a canary Rollout held at its first pause, applies manifests/examples/penguins-rollout.yaml
 *    (pruned-30: Pass) and shows the Rollout before and after the Pass advanced it; then switches
 *    the candidate to pruned-95 (Critical) and shows the Rollout aborted, its canary scaled to 0.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Action } from '../src/api/v1alpha1/index.js';
import { startArgoRollouts, type ArgoRolloutsController } from '../test/support/argo-rollouts.js';
import { clusterAt, eventually } from '../test/support/cluster.js';
import { LocalControlPlane } from '../test/support/controlplane.js';
import { installPruneguard, startTestOperator } from '../test/support/operator.js';
import { PodRunner } from '../test/support/pod-runner.js';
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

step('starting a local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)');
const started = Date.now();
const plane = await LocalControlPlane.start({ nodes: { cpuNodes: 2, gpuNodes: 1 } });
console.log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s at ${plane.server}`);
const cluster = clusterAt(plane.kubeconfigPath, plane.binDir);
const pvcRoot = await fixtureClaimsRoot('pruneguard-demo-pv-');
let pods: PodRunner | undefined;
let operator: Awaited<ReturnType<typeof startTestOperator>> | undefined;
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

  step(
    'installing pruneguard: CRDs and RBAC (kubectl apply --server-side -f crds/ -f manifests/install/rbac.yaml)',
  );
  await installPruneguard(cluster);
  await kubectl('api-resources', '--api-group=pruneguard.io');

  step(
    `namespace ${namespace}: models and data on claims "models" and "data", a stable/canary Deployment pair`,
  );
  await kubectl('create', 'namespace', namespace);
  const kc = cluster.kubeConfig();
  await createClaims(kc, namespace, pvcRoot, ['models', 'data']);
  await createDeploymentPair(kc, namespace, 3, 1, 'penguins-classifier');
  await kubectl('get', 'pvc,deployments', '-n', namespace);

  step('starting the operator and the emulated kubelet for evaluation pods');
  pods = new PodRunner(kc, { pvcRoot });
  await pods.start();
  operator = await startTestOperator(cluster);
  console.log(`operator serving /metrics on http://127.0.0.1:${operator.port}/metrics`);

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
  });
  await rollout.create();
  const canaryHash = (await rollout.rollToIndefinitePause('2')).currentPodHash!;
  await rollout.waitForReplicas(canaryHash, 1);
  step(
    `canary Rollout ${rolloutName} on the kwok nodes: revision 1 rolled out, revision 2 held by the controller at its first pause (25%)`,
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
  await operator?.stop();
  await pods?.stop();
  await plane.stop();
  await rm(pvcRoot, { recursive: true, force: true });
}
