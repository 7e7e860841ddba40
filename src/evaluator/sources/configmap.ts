import { fileSource } from './file.js';
import { underMountRoot } from './mounted.js';
import type { Source, SourceOptions } from './source.js';

export const defaultConfigMapRoot = '/mnt/pruneguard/configmap';

/** `configmap://<name>/<key>`: the ConfigMap is mounted by the evaluator Job at `<root>/<name>`. */
export function configMapSource(
  uri: string,
  options: SourceOptions = {},
  root = process.env.PRUNEGUARD_CONFIGMAP_ROOT || defaultConfigMapRoot,
): Source {
  return fileSource(underMountRoot(root, uri, 'configmap'), uri, options);
}
