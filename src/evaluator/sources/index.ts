import { configMapSource } from './configmap.js';
import { fileSource, fileUriSource } from './file.js';
import { httpSource } from './http.js';
import { pvcSource } from './pvc.js';
import type { Source } from './source.js';

export { readAll, type Source } from './source.js';

const schemes: Record<string, (uri: string) => Source> = {
  file: fileUriSource,
  http: httpSource,
  https: httpSource,
  pvc: (uri) => pvcSource(uri),
  configmap: (uri) => configMapSource(uri),
};

/** Opens a model or data URI: file://, https://, http://, pvc://, configmap:// or a plain path. */
export function openSource(uri: string): Source {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined) return fileSource(uri);
  const open = schemes[scheme];
  if (!open)
    throw new Error(
      `${uri}: unsupported scheme '${scheme}://' (use ${Object.keys(schemes).join('://, ')}://)`,
    );
  return open(uri);
}
