import { mountRoot } from '../../api/v1alpha1/sources.js';
import { fileSource } from './file.js';
import { underMountRoot } from './mounted.js';
import type { Source, SourceOptions } from './source.js';

/** `configmap://<name>/<key>`: the ConfigMap is mounted by the evaluator Job at `<root>/<name>`. */
export function configMapSource(
  uri: string,
  options: SourceOptions = {},
  root = process.env.PRUNEGUARD_CONFIGMAP_ROOT || mountRoot('configmap'),
): Source {
  return fileSource(underMountRoot(root, uri, 'configmap'), uri, options);
}
