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
 *    first run is graded.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clusterAt, eventually } from '../test/support/cluster.js';
import { LocalControlPlane } from '../test/support/controlplane.js';
import { installPruneguard, startTestOperator } from '../test/support/operator.js';
import { PodRunner } from '../test/support/pod-runner.js';
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

async function kubectl(...args: string[]): Promise<string> {
  console.log(`$ kubectl ${args.join(' ')}`);
  const result = await cluster.kubectl(args);
  process.stdout.write(result.stdout);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
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
} finally {
  await operator?.stop();
  await pods?.stop();
  await plane.stop();
  await rm(pvcRoot, { recursive: true, force: true });
}
