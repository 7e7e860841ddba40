import { sourceSchemeNames, type SourceScheme } from '../../api/v1alpha1/sources.js';
import {
  checkUri,
  EgressRefusedError,
  egressPolicyFromEnvironment,
  localEgressDefaults,
  uriScheme,
  type EgressPolicy,
} from '../../security/egress.js';
import { configMapSource } from './configmap.js';
import { fileSource, fileUriSource } from './file.js';
import { httpSource } from './http.js';
import { pvcSource } from './pvc.js';
import { s3Source } from './s3.js';
import type { Source, SourceOptions } from './source.js';

export {
  defaultSourceTimeouts,
  readAll,
  type Source,
  type SourceOptions,
  type SourceTimeouts,
} from './source.js';

/** One reader per scheme of src/api/v1alpha1/sources.ts; the Record type keeps the two lists equal. */
export const readers: Record<
  SourceScheme,
  (uri: string, policy: EgressPolicy, options: SourceOptions) => Source
> = {
  file: (uri, _policy, options) => fileUriSource(uri, options),
  http: httpSource,
  https: httpSource,
  s3: (uri, policy, options) => s3Source(uri, policy, options),
  pvc: (uri, _policy, options) => pvcSource(uri, options),
  configmap: (uri, _policy, options) => configMapSource(uri, options),
};

/**
 * Opens a model or data URI: file://, https://, http://, s3://, pvc://, configmap:// or a plain
 * path, if the egress policy allows it (an s3:// URI by the endpoint `options.s3` names). The
 * policy is the operator's, passed to evaluation pods in PRUNEGUARD_EGRESS_POLICY; without it (the
 * CLI on a user's machine), the local defaults. Reads run under the connect and idle timeouts and
 * `options.deadline` (see `SourceTimeouts`).
 */
export function openSource(
  uri: string,
  policy: EgressPolicy = egressPolicyFromEnvironment(process.env, localEgressDefaults),
  options: SourceOptions = {},
): Source {
  const scheme = uriScheme(uri);
  const open =
    scheme !== undefined && Object.hasOwn(readers, scheme) ? readers[scheme as SourceScheme] : undefined;
  if (scheme !== undefined && !open)
    throw new Error(`${uri}: unsupported scheme '${scheme}://' (use ${sourceSchemeNames.join('://, ')}://)`);
  const refused = checkUri(policy, uri, undefined, { s3: options.s3 });
  if (refused) throw new EgressRefusedError(refused);
  return open ? open(uri, policy, options) : fileSource(uri, uri, options);
}
