/**
 * charts/pruneguard installed with helm the way users install it, with the chart's default values
 * and the image built here (`make image`, imported into the real node, so never pulled): what the
 * real-node tests and `make demo` share.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import { runCommand, type TestCluster } from './cluster.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const operatorRelease = {
  name: 'pruneguard',
  namespace: 'pruneguard-system',
  fullname: 'pruneguard-operator',
} as const;

/** Namespace labels that make the API server enforce Pod Security "restricted". */
export const restrictedLabels = { 'pod-security.kubernetes.io/enforce': 'restricted' };

let built: Promise<string> | undefined;

/** helm, built or reused from the cache by hack/helm/build.sh. */
export function helmBinary(): Promise<string> {
  built ??= runCommand('bash', [path.join(repoRoot, 'hack/helm/build.sh')]).then((result) => {
    if (result.code !== 0) throw new Error(`hack/helm/build.sh failed: ${result.stderr}`);
    return path.join(result.stdout.trim().split('\n').at(-1)!, 'helm');
  });
  return built;
}

/** `helm ARGS` against the cluster; throws with helm's stderr when it fails. */
export async function helm(cluster: TestCluster, args: string[]): Promise<string> {
  const result = await runCommand(await helmBinary(), ['--kubeconfig', cluster.kubeconfigPath, ...args]);
  if (result.code !== 0) throw new Error(`helm ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/**
 * `helm install` of charts/pruneguard into its own namespace (created here, enforcing "restricted")
 * with the default values plus `image` (pullPolicy Never); resolves once the operator's replicas
 * are Ready.
 */
export async function installChart(
  cluster: TestCluster,
  image: { repository: string; tag: string },
): Promise<void> {
  await cluster
    .kubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name: operatorRelease.namespace, labels: restrictedLabels } } });
  await helm(cluster, [
    'install',
    operatorRelease.name,
    path.join(repoRoot, 'charts/pruneguard'),
    '--namespace',
    operatorRelease.namespace,
    '--set',
    `image.repository=${image.repository}`,
    '--set',
    `image.tag=${image.tag}`,
    '--set',
    'image.pullPolicy=Never',
    '--wait',
    '--timeout=3m',
  ]);
}

/** `helm uninstall --wait` and the namespace's deletion; what fails is left for the cluster's teardown. */
export async function uninstallChart(cluster: TestCluster): Promise<void> {
  await helm(cluster, ['uninstall', operatorRelease.name, '-n', operatorRelease.namespace, '--wait']).catch(
    () => undefined,
  );
  await cluster
    .kubeConfig()
    .makeApiClient(CoreV1Api)
    .deleteNamespace({ name: operatorRelease.namespace })
    .catch(() => undefined);
}

/**
 * A workload container that runs on a node holding only the images imported into it: the
 * pruneguard image idling (it exits on SIGTERM, as PID 1 ignores it otherwise), within Pod
 * Security "restricted". Merged over a container's name and image.
 */
export function idleContainer(image: { repository: string; tag: string }): Record<string, unknown> {
  return {
    image: `${image.repository}:${image.tag}`,
    imagePullPolicy: 'Never',
    command: ['node', '-e', "process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1 << 30)"],
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65532,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}
