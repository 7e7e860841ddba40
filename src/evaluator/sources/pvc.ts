import { fileSource } from './file.js';
import { underMountRoot } from './mounted.js';
import type { Source, SourceOptions } from './source.js';

export const defaultPvcRoot = '/mnt/pruneguard/pvc';

/** `pvc://<claim>/<path>`: the claim is mounted by the evaluator Job at `<root>/<claim>`. */
export function pvcSource(
  uri: string,
  options: SourceOptions = {},
  root = process.env.PRUNEGUARD_PVC_ROOT || defaultPvcRoot,
): Source {
  return fileSource(underMountRoot(root, uri, 'pvc'), uri, options);
}
