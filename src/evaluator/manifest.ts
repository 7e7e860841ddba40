import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import yaml from 'js-yaml';

import { parsePrunedModelEvaluation, type PrunedModelEvaluation } from '../api/v1alpha1/index.js';
import { scheduleProblem } from '../api/v1alpha1/schedule.js';

/**
 * Reads a PrunedModelEvaluation manifest for local evaluation. A `file://` URI whose path does
 * not start with `/` (file://models/teacher.onnx, file://../data/x.csv) is relative to the
 * manifest's directory, so an example directory works from wherever the command runs;
 * file:///abs/path stays absolute. A multi-document file may hold other objects; the first
 * PrunedModelEvaluation is used.
 */
export async function loadEvaluationManifest(file: string): Promise<PrunedModelEvaluation> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`${file}: ${code === 'ENOENT' ? 'file not found' : (error as Error).message}`);
  }
  let documents: unknown[];
  try {
    documents = yaml.loadAll(text);
  } catch (error) {
    throw new Error(`${file}: not valid YAML (${(error as Error).message.split('\n')[0]})`);
  }
  const manifest = documents.find(
    (doc) =>
      typeof doc === 'object' && doc !== null && (doc as { kind?: unknown }).kind === 'PrunedModelEvaluation',
  );
  if (!manifest) throw new Error(`${file}: no document with kind: PrunedModelEvaluation`);
  const evaluation = parsePrunedModelEvaluation(manifest, file);
  const scheduleRefusal = scheduleProblem(evaluation.spec.schedule);
  if (scheduleRefusal) throw new Error(`PrunedModelEvaluation in ${file} is invalid: ${scheduleRefusal}`);
  const directory = path.dirname(path.resolve(file));
  const { spec } = evaluation;
  for (const location of [spec.teacher, spec.candidate, spec.data.reference, spec.data.current])
    location.uri = resolveFileUri(location.uri, directory);
  return evaluation;
}

export function resolveFileUri(uri: string, directory: string): string {
  if (!uri.startsWith('file://')) return uri;
  const rest = uri.slice('file://'.length);
  if (rest.startsWith('/')) return uri;
  return pathToFileURL(path.resolve(directory, decodeURIComponent(rest))).href;
}
