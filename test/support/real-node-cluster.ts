import { clusterAt, clusterEnv, type TestCluster } from './cluster.js';
import { LocalControlPlane } from './controlplane.js';
import { buildImage, RealNode, realNodeNetwork, realNodeUnavailable } from './real-node.js';

/**
 * A control plane with a real node (test/support/real-node.ts) beside one kwok GPU node, and the
 * pruneguard image imported into the node. `test/integration/run.ts` starts one for the files
 * under test/integration/node/ and passes it through the environment; a file run on its own
 * starts its own.
 */
export interface RealNodeCluster {
  cluster: TestCluster;
  /** The image just built (hack/image/build.sh), by its content tag: repository and tag. */
  image: { repository: string; tag: string };
}

export const realNodeEnv = { image: 'PRUNEGUARD_REAL_NODE_IMAGE' } as const;

/** The kwok node only takes GPU evaluations (tainted), so everything else lands on the real node. */
export const realNodeShape = { cpuNodes: 0, gpuNodes: 1 };

/**
 * Why tests on the real node cannot run here, as `describe`'s `skip` option: false when they can,
 * or in CI (CI=true), where they must run and so fail loudly instead of being skipped.
 */
export function skipUnlessRealNode(): string | false {
  if (process.env[realNodeEnv.image]) return false;
  const reason = realNodeUnavailable();
  if (!reason || process.env.CI === 'true') return false;
  return `SKIPPED, no real node on this machine: ${reason} (CI=true fails instead)`;
}

let shared: Promise<RealNodeCluster> | undefined;

export function realNodeCluster(): Promise<RealNodeCluster> {
  shared ??= connect();
  return shared;
}

async function connect(): Promise<RealNodeCluster> {
  const kubeconfigPath = process.env[clusterEnv.kubeconfig];
  const binDir = process.env[clusterEnv.binDir];
  const image = process.env[realNodeEnv.image];
  if (kubeconfigPath && binDir && image)
    return { cluster: clusterAt(kubeconfigPath, binDir), image: parse(image) };

  const started = await startRealNodeCluster();
  // Not node:test's after(): called from a before hook, it would stop the cluster right after that hook.
  let stopping: Promise<void> | undefined;
  process.on('beforeExit', () => {
    stopping ??= started.stop();
  });
  return {
    cluster: clusterAt(started.plane.kubeconfigPath, started.plane.binDir),
    image: parse(started.image),
  };
}

/** Bridge, control plane on its address, node, image: in that order, undone in reverse by `stop`. */
export async function startRealNodeCluster(): Promise<{
  plane: LocalControlPlane;
  node: RealNode;
  image: string;
  stop(): Promise<void>;
}> {
  const reason = realNodeUnavailable();
  if (reason) throw new Error(`tests on the real node cannot run here: ${reason}`);
  const built = await buildImage();
  const node = await RealNode.prepare();
  let plane: LocalControlPlane | undefined;
  try {
    plane = await LocalControlPlane.start({ nodeAddress: realNodeNetwork.address, nodes: realNodeShape });
    await node.start(plane, [built.tarball]);
  } catch (error) {
    await plane?.stop();
    await node.stop();
    throw error;
  }
  const image = built.tags.find((t) => t.includes(':dev-')) ?? built.tags[0]!;
  return {
    plane,
    node,
    image,
    async stop() {
      try {
        await plane.stop();
      } finally {
        await node.stop();
      }
    },
  };
}

function parse(reference: string): { repository: string; tag: string } {
  const at = reference.lastIndexOf(':');
  return { repository: reference.slice(0, at), tag: reference.slice(at + 1) };
}
