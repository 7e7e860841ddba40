/**
 * Writes crds/*.yaml and charts/pruneguard/crds/*.yaml (Helm installs the latter as they are)
 * from the TypeBox API in src/api/v1alpha1.
 *   npx tsx scripts/generate-crds.ts          regenerate
 *   npx tsx scripts/generate-crds.ts --check  exit 1, naming the files, when either copy is stale
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crdFileName, crdManifests, renderCrd } from '../src/api/v1alpha1/crds.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const crdDirectories = [path.join(root, 'crds'), path.join(root, 'charts', 'pruneguard', 'crds')];
const check = process.argv.includes('--check');

const stale: string[] = [];
for (const crdDirectory of crdDirectories) await mkdir(crdDirectory, { recursive: true });
for (const crd of crdManifests())
  for (const crdDirectory of crdDirectories) {
    const file = path.join(crdDirectory, crdFileName(crd));
    const wanted = renderCrd(crd);
    const present = await readFile(file, 'utf8').catch(() => undefined);
    if (present === wanted) continue;
    if (check) stale.push(path.relative(process.cwd(), file));
    else {
      await writeFile(file, wanted);
      console.log(`wrote ${path.relative(process.cwd(), file)}`);
    }
  }
if (stale.length > 0) {
  console.error(`stale CRDs (run npx tsx scripts/generate-crds.ts): ${stale.join(', ')}`);
  process.exit(1);
}
