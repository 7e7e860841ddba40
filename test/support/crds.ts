import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { argoRolloutsCrdDir } from './argo-rollouts.js';
import type { TestCluster } from './cluster.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const pruneguardCrdDir = path.join(repoRoot, 'crds');
export const examplesDir = path.join(repoRoot, 'manifests/examples');

/**
 * Applies CRD files or folders with kubectl server-side apply (the way users install them) and
 * waits until every CRD they hold is served. By default: pruneguard's CRDs and Argo Rollouts' CRDs
 * from the module the test ground's controller is built from (Rollout, AnalysisRun, Experiment, …).
 * Safe to call from every test file: apply is idempotent.
 */
export async function installCrds(cluster: TestCluster, files?: string[]): Promise<void> {
  const names: string[] = [];
  for (const file of files ?? [pruneguardCrdDir, await argoRolloutsCrdDir()]) {
    const applied = await cluster.kubectl([
      'apply',
      '--server-side',
      '--force-conflicts',
      '-o',
      'name',
      '-f',
      file,
    ]);
    if (applied.code !== 0) throw new Error(`kubectl apply -f ${file} failed: ${applied.stderr}`);
    names.push(...applied.stdout.split('\n').filter((line) => line.startsWith('customresourcedefinition')));
  }
  // Right after creation a CRD has no conditions yet, which kubectl wait reports as an error: retry.
  let waited = { code: 1, stdout: '', stderr: '' };
  for (let attempt = 0; attempt < 20 && waited.code !== 0; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 250));
    waited = await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...names]);
  }
  if (waited.code !== 0) throw new Error(`CRDs not established: ${waited.stderr}`);
}
