import { createHash } from 'node:crypto';
import type {
  V1EnvVar,
  V1Job,
  V1OwnerReference,
  V1Toleration,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import type { EvaluationRun, PrunedModelEvaluation } from '../api/v1alpha1/index.js';
import { apiVersion, evaluationRunNames } from '../api/v1alpha1/index.js';
import { s3CredentialKeys } from '../api/v1alpha1/object-storage.js';
import { mountedSchemes, mountRoot, type MountedScheme } from '../api/v1alpha1/sources.js';
import { egressPolicyEnv, encodeEgressPolicy, uriScheme, type EgressPolicy } from '../security/egress.js';

export const labels = {
  evaluation: 'pruneguard.io/evaluation',
  run: 'pruneguard.io/run',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
} as const;

export const gpuResource = 'nvidia.com/gpu';
const gpuNodeLabel = 'nvidia.com/gpu.present';

export interface EvaluationJobOptions {
  /** The evaluator image when the evaluation does not name one (the operator's own image). */
  defaultImage: string;
  /** The run's own ServiceAccount (evaluator-access.ts), or the evaluation's when the operator allows one. */
  serviceAccountName: string;
  /** Where the evaluator may read models and data from; it checks every connection against it. */
  egress: EgressPolicy;
}

/** The sources an evaluation reads, in the order the evaluator opens them. */
export function evaluationUris(spec: PrunedModelEvaluation['spec']): string[] {
  return [spec.teacher.uri, spec.candidate.uri, spec.data.reference.uri, spec.data.current.uri];
}

interface Mounts {
  volumes: V1Volume[];
  volumeMounts: V1VolumeMount[];
}

/**
 * The volume that a mounted scheme's `<name>` becomes (its name starts with `prefix`); the Record
 * type makes a newly registered mounted scheme (src/api/v1alpha1/sources.ts) say how it is mounted.
 */
export const mountedVolumes: Record<
  MountedScheme,
  { prefix: string; volume: (name: string) => Omit<V1Volume, 'name'> }
> = {
  pvc: {
    prefix: 'pvc',
    volume: (claim) => ({ persistentVolumeClaim: { claimName: claim, readOnly: true } }),
  },
  configmap: { prefix: 'cm', volume: (name) => ({ configMap: { name } }) },
};

/**
 * One read-only volume per PersistentVolumeClaim, ConfigMap or other mounted source named by a
 * URI, mounted at `<mountRoot>/<name>`, where the evaluator's reader for the scheme looks.
 */
export function sourceMounts(uris: readonly string[]): Mounts {
  const named = new Map<string, Set<string>>(mountedSchemes.map((scheme) => [scheme, new Set()]));
  for (const uri of uris) {
    const match = /^([^:/]+):\/\/([^/]+)\//.exec(uri);
    if (match) named.get(match[1]!)?.add(match[2]!);
  }
  const volumes: V1Volume[] = [];
  const volumeMounts: V1VolumeMount[] = [];
  for (const scheme of mountedSchemes) {
    const { prefix, volume } = mountedVolumes[scheme];
    for (const source of [...named.get(scheme)!].sort()) {
      const name = volumeName(prefix, source);
      volumes.push({ name, ...volume(source) });
      volumeMounts.push({ name, mountPath: `${mountRoot(scheme)}/${source}`, readOnly: true });
    }
  }
  return { volumes, volumeMounts };
}

/**
 * The S3 credentials of spec.s3.credentialsSecret, as references the kubelet resolves: the Job
 * carries no value (the operator reads them only to ask for object versions, data-versions.ts).
 * Only when a source is s3://, so a Secret named but unused is not needed for the pod to start.
 * The session token is optional, as in the Secret.
 */
export function s3CredentialsEnv(spec: PrunedModelEvaluation['spec']): V1EnvVar[] {
  const secret = spec.s3?.credentialsSecret;
  if (secret === undefined || !evaluationUris(spec).some((uri) => uriScheme(uri) === 's3')) return [];
  return Object.values(s3CredentialKeys).map((key) => ({
    name: key,
    valueFrom: {
      secretKeyRef: {
        name: secret,
        key,
        ...(key === s3CredentialKeys.sessionToken ? { optional: true } : {}),
      },
    },
  }));
}

/** Quantities are int-or-string in the API; the Job takes strings. */
function quantities(values: Record<string, string | number> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(values ?? {}).map(([k, v]) => [k, String(v)]));
}

function volumeName(prefix: string, source: string): string {
  // Volume names are DNS labels; a claim name may be up to 253 characters.
  return `${prefix}-${source}`
    .slice(0, 63)
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+$/, '');
}

export function ownerReference(object: {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; uid?: string };
}): V1OwnerReference {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    name: object.metadata!.name!,
    uid: object.metadata!.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Kubernetes names a pod of an Indexed Job's hostname `<job>-<index>`, a DNS label: 63 at most. */
const maxHostname = 63;

/**
 * The run's Job name: the run's own name when `<name>-<last index>` fits a hostname, otherwise
 * shortened, with a hash of the run's name for uniqueness and its sequence kept at the end.
 */
export function jobName(run: EvaluationRun): string {
  const name = run.metadata.name!;
  const fits = maxHostname - 1 - String(run.spec.shards - 1).length;
  if (name.length <= fits) return name;
  const sequence = name.slice(name.lastIndexOf('-'));
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  const stem = name.slice(0, fits - sequence.length - hash.length - 1).replace(/-+$/, '');
  return `${stem}-${hash}${sequence}`;
}

/**
 * The Job of one run: an Indexed Job with one completion per shard, each pod running
 * `pruneguard evaluator` for its shard (JOB_COMPLETION_INDEX, set by the Job controller) and
 * writing its result into the run's status through the API.
 */
export function evaluationJob(run: EvaluationRun, options: EvaluationJobOptions): V1Job {
  const spec = run.spec.evaluationSpec;
  const runtime = spec.runtime;
  const onGpu = runtime.accelerator === gpuResource;
  const { volumes, volumeMounts } = sourceMounts(evaluationUris(spec));
  const name = run.metadata.name!;
  const podLabels = {
    [labels.evaluation]: run.spec.evaluationName,
    [labels.run]: name,
    [labels.component]: 'evaluator',
    [labels.managedBy]: 'pruneguard',
  };

  const limits = quantities(runtime.resources?.limits);
  if (onGpu && limits[gpuResource] === undefined) limits[gpuResource] = '1';
  const tolerations: V1Toleration[] = [...((runtime.tolerations as V1Toleration[] | undefined) ?? [])];
  if (onGpu && !tolerations.some((t) => t.key === gpuResource)) {
    tolerations.push({ key: gpuResource, operator: 'Exists', effect: 'NoSchedule' });
  }
  const nodeSelector: Record<string, string> = { ...(runtime.nodeSelector ?? {}) };
  if (onGpu && nodeSelector[gpuNodeLabel] === undefined) nodeSelector[gpuNodeLabel] = 'true';

  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobName(run),
      namespace: run.metadata.namespace!,
      labels: podLabels,
      ownerReferences: [
        ownerReference({ apiVersion, kind: evaluationRunNames.kind, metadata: run.metadata }),
      ],
    },
    spec: {
      completionMode: 'Indexed',
      completions: run.spec.shards,
      parallelism: run.spec.shards,
      backoffLimit: 0,
      activeDeadlineSeconds: runtime.timeoutSeconds,
      template: {
        metadata: { labels: podLabels },
        spec: {
          restartPolicy: 'Never',
          serviceAccountName: options.serviceAccountName,
          ...(Object.keys(nodeSelector).length > 0 ? { nodeSelector } : {}),
          ...(tolerations.length > 0 ? { tolerations } : {}),
          ...(runtime.affinity ? { affinity: runtime.affinity as never } : {}),
          ...(volumes.length > 0 ? { volumes } : {}),
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'evaluator',
              image: runtime.image ?? options.defaultImage,
              command: ['pruneguard'],
              args: ['evaluator', '--namespace', run.metadata.namespace!, '--run', name],
              resources: {
                ...(runtime.resources?.requests ? { requests: quantities(runtime.resources.requests) } : {}),
                ...(Object.keys(limits).length > 0 ? { limits } : {}),
              },
              env: [
                { name: egressPolicyEnv, value: encodeEgressPolicy(options.egress) },
                // onnxruntime would size its thread pool to the node's cores, not the pod's CPU limit.
                {
                  name: 'PRUNEGUARD_INTRA_OP_THREADS',
                  valueFrom: {
                    resourceFieldRef: { containerName: 'evaluator', resource: 'limits.cpu', divisor: '1' },
                  },
                },
                ...s3CredentialsEnv(spec),
              ],
              terminationMessagePolicy: 'FallbackToLogsOnError',
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              ...(volumeMounts.length > 0 ? { volumeMounts } : {}),
            },
          ],
        },
      },
    },
  };
}
