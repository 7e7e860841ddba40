/**
 * How the operator reads the version of a model or data file without reading the file: one probe
 * per scheme of src/api/v1alpha1/sources.ts (a `Record`, so a new scheme does not compile until
 * it says how its changes are seen, or why they are not). A version is an opaque string: only
 * "different from the one the last run saw" matters.
 */
import type { CoreV1Api, V1PersistentVolumeClaim } from '@kubernetes/client-node';

import type { SourceScheme } from '../api/v1alpha1/sources.js';
import { checkUri, egressRequest, redactUri, uriScheme, type EgressPolicy } from '../security/egress.js';
import { isNotFound } from '../actuators/kubernetes.js';
import type { S3Options } from '../api/v1alpha1/object-storage.js';
import { s3Source } from '../evaluator/sources/s3.js';
import type { Credentials } from './credentials.js';

export interface ProbeContext {
  namespace: string;
  core: CoreV1Api;
  /** The operator's cache of PersistentVolumeClaims. */
  claims: { get(name: string, namespace?: string): V1PersistentVolumeClaim | undefined };
  egress: EgressPolicy;
  timeoutMs: number;
  /** spec.s3, and the keys of its credentialsSecret as the evaluator's environment has them. */
  s3?: { options?: S3Options; credentials: Credentials };
}

export interface VersionProbe {
  /** What the version is, for docs/evaluator.md's table and the status of an unwatched source. */
  signal: string;
  /** Absent: the operator cannot see this scheme's changes; `signal` says why. */
  read?: (uri: string, context: ProbeContext) => Promise<string>;
}

/**
 * The files of a claim are out of the operator's reach, so the claim says when they change: a
 * pipeline that writes new data or models onto it sets this annotation (a date, a checksum, a
 * build number) when it is done, and every source on the claim counts as changed.
 */
export const dataVersionAnnotation = 'pruneguard.io/data-version';

export const versionProbes: Record<SourceScheme, VersionProbe> = {
  https: { signal: 'ETag, else Last-Modified (a HEAD request)', read: httpVersion },
  http: { signal: 'ETag, else Last-Modified (a HEAD request)', read: httpVersion },
  configmap: { signal: "the ConfigMap's resourceVersion", read: configMapVersion },
  pvc: {
    signal: `the claim's annotation ${dataVersionAnnotation}, which whoever writes the files sets (the operator mounts no volumes)`,
    read: pvcVersion,
  },
  file: { signal: 'not watched: file:// is read from the evaluator image or, locally, your disk' },
  s3: { signal: 'ETag, else Last-Modified (a HeadObject request)', read: s3Version },
};

/** The source's current version, or a problem that says why there is none. */
export async function readVersion(
  uri: string,
  context: ProbeContext,
): Promise<{ version: string } | { problem: string }> {
  const scheme = uriScheme(uri) as SourceScheme | undefined;
  const probe =
    scheme !== undefined && Object.hasOwn(versionProbes, scheme) ? versionProbes[scheme] : undefined;
  if (!probe) return { problem: `not watched: ${uri} has no scheme the operator knows` };
  if (!probe.read) return { problem: probe.signal };
  const refused = checkUri(context.egress, uri, undefined, { s3: context.s3?.options });
  if (refused) return { problem: refused };
  try {
    return { version: await probe.read(uri, context) };
  } catch (error) {
    return { problem: (error as Error).message.slice(0, 1024) };
  }
}

async function httpVersion(uri: string, context: ProbeContext): Promise<string> {
  const response = await egressRequest(context.egress, uri, {
    method: 'HEAD',
    timeoutMs: context.timeoutMs,
    maxResponseBytes: 0,
  });
  if (response.status < 200 || response.status >= 300)
    throw new Error(`${redactUri(uri)}: HEAD answered HTTP ${response.status} ${response.statusText}`.trim());
  const etag = response.headers.etag;
  if (etag) return `ETag ${etag}`;
  const modified = response.headers['last-modified'];
  if (modified) return `Last-Modified ${modified}`;
  throw new Error(
    `${redactUri(uri)}: the server sends neither ETag nor Last-Modified, so changes cannot be seen`,
  );
}

async function pvcVersion(uri: string, context: ProbeContext): Promise<string> {
  const name = new URL(uri).hostname;
  const claim = context.claims.get(name, context.namespace);
  if (!claim) throw new Error(`${uri}: PersistentVolumeClaim ${context.namespace}/${name} not found`);
  const version = claim.metadata?.annotations?.[dataVersionAnnotation];
  if (!version)
    throw new Error(
      `not watched: the claim ${name} has no annotation ${dataVersionAnnotation}; set it when its files change (kubectl annotate pvc ${name} --overwrite ${dataVersionAnnotation}=<version>)`,
    );
  return `${dataVersionAnnotation} ${version}`;
}

async function configMapVersion(uri: string, context: ProbeContext): Promise<string> {
  const name = new URL(uri).hostname;
  try {
    const configMap = await context.core.readNamespacedConfigMap({ name, namespace: context.namespace });
    return `resourceVersion ${configMap.metadata?.resourceVersion ?? ''}`;
  } catch (error) {
    if (isNotFound(error)) throw new Error(`${uri}: ConfigMap ${context.namespace}/${name} not found`);
    throw error;
  }
}

async function s3Version(uri: string, context: ProbeContext): Promise<string> {
  const credentials = context.s3?.credentials ?? { values: {} };
  if ('problem' in credentials) throw new Error(`spec.s3.credentialsSecret: ${credentials.problem}`);
  const limits = { connectMs: context.timeoutMs, idleMs: context.timeoutMs };
  const options = context.s3?.options ? { s3: context.s3.options } : {};
  return s3Source(uri, context.egress, { ...options, timeouts: limits }, credentials.values).version();
}
