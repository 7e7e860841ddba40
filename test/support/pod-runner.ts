import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CoreV1Api,
  KubeConfig,
  makeInformer,
  type V1Container,
  type V1EnvVar,
  type V1Pod,
} from '@kubernetes/client-node';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * What the emulated kubelet does with a pod: run its command, end it as told, or run `act` in its
 * place with the pod's own identity (a compromised or buggy evaluator; `act` returns the exit code).
 */
export type PodFate =
  | 'run'
  | { exitCode: number; reason: string; message?: string }
  | { act: (pod: V1Pod, asPod: KubeConfig) => Promise<number> };

export interface PodRunnerOptions {
  /** Where PersistentVolumeClaims live: claim `models` is the folder `<pvcRoot>/models`. */
  pvcRoot: string;
  /** Pods this runner handles (default: every evaluation pod). */
  labelSelector?: string;
  fate?: (pod: V1Pod) => PodFate;
  /** Variables added to every pod's environment (tests use PRUNEGUARD_MEASUREMENT=quick). */
  extraEnv?: Record<string, string>;
}

export interface PodRun {
  pod: string;
  node: string;
  exitCode: number;
  stderr: string;
}

/**
 * Stands in for the kubelet on kwok nodes, which run no containers. For each evaluation pod that
 * kwok has marked Running it runs the container's real command and arguments on this machine as
 * the image would (`pruneguard` is `node src/cli/main.ts`), with:
 * - the pod's env, with fieldRef values (JOB_COMPLETION_INDEX) resolved from the pod and
 *   secretKeyRef values read from the Secret (a missing one, unless optional, fails the pod as the
 *   kubelet's CreateContainerConfigError does);
 * - a kubeconfig holding a token of the pod's ServiceAccount (TokenRequest bound to the pod), so the
 *   evaluator has exactly the RBAC it would have in the cluster;
 * - its volumes: each mounted PVC claim is a folder under pvcRoot, each ConfigMap is written out
 *   from the API; the evaluator finds them through PRUNEGUARD_PVC_ROOT / PRUNEGUARD_CONFIGMAP_ROOT.
 * When the process exits it writes the pod's status as the kubelet would: phase Succeeded or
 * Failed, the container's terminated state with exit code, reason and (FallbackToLogsOnError) the
 * tail of its stderr as the message. Not emulated: image pulls, resource limits, probes, restarts.
 */
export class PodRunner {
  readonly runs: PodRun[] = [];
  private readonly handled = new Set<string>();
  private readonly running = new Set<Promise<void>>();
  private informer?: ReturnType<typeof makeInformer<V1Pod>>;
  private workDir?: string;

  constructor(
    private readonly kc: KubeConfig,
    private readonly options: PodRunnerOptions,
  ) {}

  async start(): Promise<void> {
    this.workDir = await mkdtemp(path.join(os.tmpdir(), 'pruneguard-pods-'));
    const core = this.kc.makeApiClient(CoreV1Api);
    const labelSelector = this.options.labelSelector ?? 'app.kubernetes.io/component=evaluator';
    this.informer = makeInformer(
      this.kc,
      '/api/v1/pods',
      () => core.listPodForAllNamespaces({ labelSelector }),
      labelSelector,
    );
    const consider = (pod: V1Pod) => {
      const uid = pod.metadata?.uid;
      if (!uid || this.handled.has(uid) || pod.status?.phase !== 'Running' || pod.metadata?.deletionTimestamp)
        return;
      this.handled.add(uid);
      const work = this.runPod(core, pod).catch((error: unknown) => {
        this.runs.push({
          pod: pod.metadata!.name!,
          node: pod.spec?.nodeName ?? '',
          exitCode: -1,
          stderr: `pod runner: ${String(error)}`,
        });
      });
      this.running.add(work);
      void work.finally(() => this.running.delete(work));
    };
    this.informer.on('add', consider);
    this.informer.on('update', consider);
    await this.informer.start();
  }

  async stop(): Promise<void> {
    await this.informer?.stop();
    await Promise.all([...this.running]);
    if (this.workDir) await rm(this.workDir, { recursive: true, force: true });
  }

  private async runPod(core: CoreV1Api, pod: V1Pod): Promise<void> {
    const namespace = pod.metadata!.namespace!;
    const name = pod.metadata!.name!;
    const container = pod.spec!.containers[0]!;
    const startedAt = new Date();
    const fate = this.options.fate?.(pod) ?? 'run';

    let result: { exitCode: number; reason: string; message: string };
    if (fate === 'run') {
      const { exitCode, stderr } = await this.execute(core, pod, container);
      result = {
        exitCode,
        reason: exitCode === 0 ? 'Completed' : 'Error',
        message: exitCode === 0 ? '' : tail(stderr),
      };
      this.runs.push({ pod: name, node: pod.spec!.nodeName!, exitCode, stderr });
    } else if ('act' in fate) {
      const podDir = await mkdtemp(path.join(this.workDir!, `${name}-`));
      const asPod = new KubeConfig();
      asPod.loadFromFile(await this.serviceAccountKubeconfig(core, pod, podDir));
      let stderr = '';
      const exitCode = await fate.act(pod, asPod).catch((error: unknown) => {
        stderr = String(error);
        return 1;
      });
      result = { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', message: tail(stderr) };
      this.runs.push({ pod: name, node: pod.spec!.nodeName!, exitCode, stderr });
    } else {
      result = { exitCode: fate.exitCode, reason: fate.reason, message: fate.message ?? '' };
      this.runs.push({
        pod: name,
        node: pod.spec!.nodeName!,
        exitCode: fate.exitCode,
        stderr: `emulated ${fate.reason}`,
      });
    }

    const finishedAt = new Date();
    const phase = result.exitCode === 0 ? 'Succeeded' : 'Failed';
    const live = await core.readNamespacedPodStatus({ name, namespace });
    await core.replaceNamespacedPodStatus({
      name,
      namespace,
      body: {
        ...live,
        status: {
          ...live.status,
          phase,
          conditions: (live.status?.conditions ?? []).map((c) =>
            c.type === 'Ready' || c.type === 'ContainersReady'
              ? { ...c, status: 'False', reason: 'PodCompleted', lastTransitionTime: finishedAt }
              : c,
          ),
          containerStatuses: [
            {
              name: container.name,
              image: container.image!,
              imageID: '',
              ready: false,
              restartCount: 0,
              started: false,
              state: {
                terminated: {
                  exitCode: result.exitCode,
                  reason: result.reason,
                  ...(result.message ? { message: result.message } : {}),
                  startedAt,
                  finishedAt,
                },
              },
            },
          ],
        },
      },
    });
  }

  private async execute(
    core: CoreV1Api,
    pod: V1Pod,
    container: V1Container,
  ): Promise<{ exitCode: number; stderr: string }> {
    const podDir = await mkdtemp(path.join(this.workDir!, `${pod.metadata!.name}-`));
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: podDir,
      KUBECONFIG: await this.serviceAccountKubeconfig(core, pod, podDir),
      ...(await this.mountVolumes(core, pod, container, podDir)),
      ...this.options.extraEnv,
    };
    for (const variable of container.env ?? []) {
      const value =
        variable.value ??
        resolveFieldRef(pod, variable.valueFrom?.fieldRef?.fieldPath) ??
        (await resolveSecretKeyRef(core, pod, variable));
      if (value !== undefined) env[variable.name] = value;
    }

    const [command, ...prefix] = container.command ?? [];
    if (command !== 'pruneguard')
      throw new Error(`cannot emulate container command ${command}: only the pruneguard image is known`);
    const args = [...prefix, ...(container.args ?? [])];
    return new Promise((resolve) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), ...args],
        {
          cwd: repoRoot,
          env,
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (code) => resolve({ exitCode: code ?? 1, stderr }));
    });
  }

  private async serviceAccountKubeconfig(core: CoreV1Api, pod: V1Pod, podDir: string): Promise<string> {
    const namespace = pod.metadata!.namespace!;
    const serviceAccount = pod.spec?.serviceAccountName ?? 'default';
    const token = await core.createNamespacedServiceAccountToken({
      name: serviceAccount,
      namespace,
      body: {
        spec: {
          audiences: [],
          expirationSeconds: 3600,
          boundObjectRef: {
            apiVersion: 'v1',
            kind: 'Pod',
            name: pod.metadata!.name!,
            uid: pod.metadata!.uid!,
          },
        },
      },
    });
    const cluster = this.kc.getCurrentCluster()!;
    const file = path.join(podDir, 'kubeconfig');
    await writeFile(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'in-cluster',
            cluster: { server: cluster.server, 'certificate-authority': cluster.caFile },
          },
        ],
        users: [{ name: serviceAccount, user: { token: token.status?.token } }],
        contexts: [{ name: 'pod', context: { cluster: 'in-cluster', user: serviceAccount, namespace } }],
        'current-context': 'pod',
      }),
    );
    return file;
  }

  /** Only what the pod mounts is visible: a folder of symlinks to its claims, and its ConfigMaps' files. */
  private async mountVolumes(
    core: CoreV1Api,
    pod: V1Pod,
    container: V1Container,
    podDir: string,
  ): Promise<Record<string, string>> {
    const pvcRoot = path.join(podDir, 'pvc');
    const configMapRoot = path.join(podDir, 'configmap');
    await mkdir(pvcRoot);
    await mkdir(configMapRoot);
    const mounted = new Set((container.volumeMounts ?? []).map((m) => m.name));
    for (const volume of pod.spec?.volumes ?? []) {
      if (!mounted.has(volume.name)) continue;
      if (volume.persistentVolumeClaim) {
        const claim = volume.persistentVolumeClaim.claimName;
        await symlink(path.join(this.options.pvcRoot, claim), path.join(pvcRoot, claim));
      }
      if (volume.configMap) {
        const configMap = await core.readNamespacedConfigMap({
          name: volume.configMap.name!,
          namespace: pod.metadata!.namespace!,
        });
        const dir = path.join(configMapRoot, volume.configMap.name!);
        await mkdir(dir);
        for (const [key, value] of Object.entries(configMap.data ?? {}))
          await writeFile(path.join(dir, key), value);
        for (const [key, value] of Object.entries(configMap.binaryData ?? {}))
          await writeFile(path.join(dir, key), Buffer.from(value, 'base64'));
      }
    }
    return { PRUNEGUARD_PVC_ROOT: pvcRoot, PRUNEGUARD_CONFIGMAP_ROOT: configMapRoot };
  }
}

function resolveFieldRef(pod: V1Pod, fieldPath: string | undefined): string | undefined {
  if (!fieldPath) return undefined;
  const annotation = /^metadata\.annotations\['(.+)'\]$/.exec(fieldPath);
  if (annotation) return pod.metadata?.annotations?.[annotation[1]!];
  const label = /^metadata\.labels\['(.+)'\]$/.exec(fieldPath);
  if (label) return pod.metadata?.labels?.[label[1]!];
  if (fieldPath === 'metadata.name') return pod.metadata?.name;
  if (fieldPath === 'metadata.namespace') return pod.metadata?.namespace;
  if (fieldPath === 'spec.nodeName') return pod.spec?.nodeName;
  return undefined;
}

/** The kubelet's FallbackToLogsOnError keeps the last 80 lines / 2048 bytes of the log. */
function tail(text: string): string {
  return text.split('\n').slice(-80).join('\n').slice(-2048).trim();
}

/**
 * A runner under which every selected pod ends as the kubelet reports an out-of-memory kill, for
 * tests about failure handling and scheduling that need no evaluation to run.
 */
export async function startOomKillingRunner(kc: KubeConfig, labelSelector: string): Promise<PodRunner> {
  const runner = new PodRunner(kc, {
    pvcRoot: '/nonexistent',
    labelSelector,
    fate: () => ({ exitCode: 137, reason: 'OOMKilled' }),
  });
  await runner.start();
  return runner;
}

/** A secretKeyRef's value as the kubelet resolves it (with its own credentials, not the pod's). */
async function resolveSecretKeyRef(
  core: CoreV1Api,
  pod: V1Pod,
  variable: V1EnvVar,
): Promise<string | undefined> {
  const ref = variable.valueFrom?.secretKeyRef;
  if (!ref) return undefined;
  const namespace = pod.metadata!.namespace!;
  const secret = await core.readNamespacedSecret({ name: ref.name!, namespace }).catch(() => undefined);
  const value = secret?.data?.[ref.key];
  if (value !== undefined) return Buffer.from(value, 'base64').toString('utf8');
  if (ref.optional) return undefined;
  throw new Error(
    secret
      ? `CreateContainerConfigError: couldn't find key ${ref.key} in Secret ${namespace}/${ref.name}`
      : `CreateContainerConfigError: secret "${ref.name}" not found`,
  );
}
