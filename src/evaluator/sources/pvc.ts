import { mountRoot } from '../../api/v1alpha1/sources.js';
import { fileSource } from './file.js';
import { underMountRoot } from './mounted.js';
import type { Source, SourceOptions } from './source.js';

/** `pvc://<claim>/<path>`: the claim is mounted by the evaluator Job at `<root>/<claim>`. */
export function pvcSource(
  uri: string,
  options: SourceOptions = {},
  root = process.env.PRUNEGUARD_PVC_ROOT || mountRoot('pvc'),
): Source {
  return fileSource(underMountRoot(root, uri, 'pvc'), uri, options);
}
