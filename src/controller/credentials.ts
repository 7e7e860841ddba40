/**
 * Secrets a PrunedModelEvaluation may name for credentials (spec.s3.credentialsSecret and the
 * like). Without a check, a PME author could point the evaluator at any Secret of the namespace (a
 * token, another team's password) and have pruneguard hand it to a server the author chose, though
 * the author may not read Secrets. So a Secret serves only when it carries the label below: whoever
 * may label a Secret may read it, and the label says its owner meant it for pruneguard.
 */
import type { CoreV1Api } from '@kubernetes/client-node';

import { errorStatus, isForbidden, isNotFound } from '../actuators/kubernetes.js';

export const credentialsLabel = 'pruneguard.io/credentials';

export type Credentials = { values: Record<string, string> } | { problem: string };

/**
 * The keys of Secret `name` in `namespace` that `keys` names (all of `required`, those of
 * `optional` that are there), decoded, when the Secret exists and is labelled
 * `pruneguard.io/credentials: "true"`; otherwise why not, naming the Secret and its missing keys,
 * never a value. The values are for the request they sign or authenticate, never for a log, a
 * status or an Event.
 */
export async function readCredentials(
  core: CoreV1Api,
  namespace: string,
  name: string,
  keys: { required?: readonly string[]; optional?: readonly string[] },
): Promise<Credentials> {
  const shown = `Secret ${namespace}/${name}`;
  let secret;
  try {
    secret = await core.readNamespacedSecret({ name, namespace });
  } catch (error) {
    if (isNotFound(error)) return { problem: `${shown} does not exist` };
    if (isForbidden(error))
      return {
        problem: `the operator may not read ${shown} (it needs get on secrets: manifests/install/rbac.yaml)`,
      };
    return { problem: `${shown} cannot be read: ${errorStatus(error)}` };
  }
  if (secret.metadata?.labels?.[credentialsLabel] !== 'true')
    return {
      problem: `${shown} is not labelled ${credentialsLabel}: "true", so pruneguard will not use it; whoever may read it can label it (kubectl label secret -n ${namespace} ${name} ${credentialsLabel}=true)`,
    };
  const required = keys.required ?? [];
  const missing = required.filter((key) => !secret.data?.[key]);
  if (missing.length > 0)
    return {
      problem: `${shown} has no ${missing.map((key) => `'${key}'`).join(', ')} (or ${missing.length > 1 ? 'they are' : 'it is'} empty); it needs ${required.join(', ')}`,
    };
  const values: Record<string, string> = {};
  for (const key of [...required, ...(keys.optional ?? [])]) {
    const encoded = secret.data?.[key];
    if (encoded) values[key] = Buffer.from(encoded, 'base64').toString('utf8');
  }
  return { values };
}

/** Undefined when the Secret may serve and has every key of `requiredKeys`; otherwise why not. */
export async function credentialsProblem(
  core: CoreV1Api,
  namespace: string,
  name: string,
  requiredKeys: readonly string[],
): Promise<string | undefined> {
  const read = await readCredentials(core, namespace, name, { required: requiredKeys });
  return 'problem' in read ? read.problem : undefined;
}
