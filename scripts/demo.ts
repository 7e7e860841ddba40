/**
 * `make demo`: starts a real local control plane (etcd, kube-apiserver, controller-manager,
 * scheduler, kwok with CPU and GPU fake nodes), installs pruneguard's CRDs and shows what the
 * API server serves.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clusterAt } from '../test/support/cluster.js';
import { LocalControlPlane } from '../test/support/controlplane.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function step(title: string): void {
  console.log(`\n==> ${title}`);
}

async function show(cluster: ReturnType<typeof clusterAt>, args: string[]): Promise<string> {
  console.log(`$ kubectl ${args.join(' ')}`);
  const result = await cluster.kubectl(args);
  process.stdout.write(result.stdout);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

step('starting a local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)');
const started = Date.now();
const plane = await LocalControlPlane.start({ nodes: { cpuNodes: 2, gpuNodes: 1 } });
console.log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s at ${plane.server}`);
const cluster = clusterAt(plane.kubeconfigPath, plane.binDir);
try {
  await show(cluster, ['version']);
  await show(cluster, ['get', 'nodes', '-L', 'nvidia.com/gpu.present']);

  step('installing the pruneguard CRDs');
  const crdDir = path.join(repoRoot, 'crds');
  for (const file of readdirSync(crdDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    await show(cluster, ['apply', '--server-side', '-f', path.join(crdDir, file)]);
  }
  await show(cluster, [
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd',
    '-l',
    'app.kubernetes.io/part-of=pruneguard',
  ]);
  await show(cluster, ['api-resources', '--api-group=pruneguard.io']);
} finally {
  await plane.stop();
}
