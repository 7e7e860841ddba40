import {
  checkUri,
  EgressRefusedError,
  egressPolicyFromEnvironment,
  localEgressDefaults,
  uriScheme,
  type EgressPolicy,
  type EgressScheme,
} from '../../security/egress.js';
import { configMapSource } from './configmap.js';
import { fileSource, fileUriSource } from './file.js';
import { httpSource } from './http.js';
import { pvcSource } from './pvc.js';
import type { Source } from './source.js';

export { readAll, type Source } from './source.js';

/** One reader per scheme the egress policy knows; the Record type keeps the two lists equal. */
const schemes: Record<EgressScheme, (uri: string, policy: EgressPolicy) => Source> = {
  file: fileUriSource,
  http: httpSource,
  https: httpSource,
  pvc: (uri) => pvcSource(uri),
  configmap: (uri) => configMapSource(uri),
};

/**
 * Opens a model or data URI: file://, https://, http://, pvc://, configmap:// or a plain path,
 * if the egress policy allows it. The policy is the operator's, passed to evaluation pods in
 * PRUNEGUARD_EGRESS_POLICY; without it (the CLI on a user's machine), the local defaults.
 */
export function openSource(
  uri: string,
  policy: EgressPolicy = egressPolicyFromEnvironment(process.env, localEgressDefaults),
): Source {
  const scheme = uriScheme(uri);
  const open =
    scheme !== undefined && Object.hasOwn(schemes, scheme) ? schemes[scheme as EgressScheme] : undefined;
  if (scheme !== undefined && !open)
    throw new Error(
      `${uri}: unsupported scheme '${scheme}://' (use ${Object.keys(schemes).join('://, ')}://)`,
    );
  const refused = checkUri(policy, uri);
  if (refused) throw new EgressRefusedError(refused);
  return open ? open(uri, policy) : fileSource(uri);
}
