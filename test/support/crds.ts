import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestCluster } from './cluster.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const pruneguardCrdDir = path.join(repoRoot, 'crds');
export const examplesDir = path.join(repoRoot, 'manifests/examples');
export const argoRolloutsCrd = path.join(repoRoot, 'test/fixtures/crds/argo-rollouts-v1.8.3.yaml');

/**
 * Applies CRD files with kubectl server-side apply (the way users install them) and waits until
 * they are served. Safe to call from every test file: apply is idempotent.
 */
export async function installCrds(
  cluster: TestCluster,
  files: string[] = [pruneguardCrdDir, argoRolloutsCrd],
): Promise<void> {
  for (const file of files) {
    const applied = await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-f', file]);
    if (applied.code !== 0) throw new Error(`kubectl apply -f ${file} failed: ${applied.stderr}`);
  }
  // Right after creation a CRD has no conditions yet, which kubectl wait reports as an error: retry.
  let waited = { code: 1, stdout: '', stderr: '' };
  for (let attempt = 0; attempt < 20 && waited.code !== 0; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 250));
    waited = await cluster.kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/prunedmodelevaluations.pruneguard.io',
      'crd/evaluationruns.pruneguard.io',
      'crd/rollouts.argoproj.io',
    ]);
  }
  if (waited.code !== 0) throw new Error(`CRDs not established: ${waited.stderr}`);
}
