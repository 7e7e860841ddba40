import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { generateCertificates, type ControlPlaneCertificates } from './certificates.js';
import { fakeNodes, kwokNodeAnnotation, type FakeNodeShape } from './nodes.js';
import { stopOnExit } from './stop-on-exit.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ControlPlaneOptions {
  /** Also run kube-controller-manager and kube-scheduler (Deployments get ReplicaSets, pods get nodes). */
  controllers?: boolean;
  /** Run kwok and register fake nodes; implies `controllers`. */
  nodes?: FakeNodeShape;
  /** Where binaries live; by default `hack/controlplane/build.sh` builds or reuses them. */
  binDir?: string;
  /**
   * Serve on this address instead of loopback, and call kubelets with a client certificate: a
   * real node's bridge address (test/support/real-node.ts), which its pods and kube-proxy reach.
   */
  nodeAddress?: string;
}

interface Component {
  name: string;
  process: ChildProcess;
  logFile: string;
}

/**
 * A real Kubernetes control plane on loopback: etcd, kube-apiserver and optionally
 * kube-controller-manager, kube-scheduler and kwok, each a child process that dies with us
 * (`setpriv --pdeathsig`), even when the test process is killed.
 */
export class LocalControlPlane {
  private readonly components: Component[] = [];
  private stopped = false;

  private constructor(
    readonly workDir: string,
    readonly binDir: string,
    readonly server: string,
    readonly kubeconfigPath: string,
    readonly certificates: ControlPlaneCertificates,
  ) {}

  static async start(options: ControlPlaneOptions = {}): Promise<LocalControlPlane> {
    const binDir = options.binDir ?? process.env.PRUNEGUARD_CONTROLPLANE_BIN ?? (await buildControlPlane());
    await removeAbandonedWorkDirs();
    const workDir = await mkdtemp(path.join(os.tmpdir(), workDirPrefix));
    await writeFile(path.join(workDir, 'owner.pid'), String(process.pid));
    const address = options.nodeAddress ?? '127.0.0.1';
    const certificates = await generateCertificates(
      workDir,
      options.nodeAddress ? { servingIps: [options.nodeAddress], kubeletClient: true } : {},
    );
    const [etcdClientPort, etcdPeerPort, apiserverPort] = await freePorts(3);
    const server = `https://${address}:${apiserverPort}`;
    const kubeconfigPath = path.join(workDir, 'kubeconfig');
    await writeFile(kubeconfigPath, adminKubeconfig(server, certificates));

    const plane = new LocalControlPlane(workDir, binDir, server, kubeconfigPath, certificates);
    stopOnExit(() => plane.killNow());
    try {
      const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
      plane.launch('etcd', [
        `--data-dir=${path.join(workDir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ]);
      await plane.waitFor('etcd', () => httpOk(`${etcdUrl}/health`));

      plane.launch('kube-apiserver', [
        `--etcd-servers=${etcdUrl}`,
        `--bind-address=${address}`,
        `--advertise-address=${address}`,
        `--secure-port=${apiserverPort}`,
        `--tls-cert-file=${certificates.servingCert}`,
        `--tls-private-key-file=${certificates.servingKey}`,
        `--client-ca-file=${certificates.caCert}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${certificates.serviceAccountPublicKey}`,
        `--service-account-signing-key-file=${certificates.serviceAccountKey}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        '--authorization-mode=Node,RBAC',
        '--allow-privileged=true',
        '--enable-priority-and-fairness=false',
        '--storage-media-type=application/json',
        ...(certificates.kubeletClientCert
          ? [
              `--kubelet-client-certificate=${certificates.kubeletClientCert}`,
              `--kubelet-client-key=${certificates.kubeletClientKey}`,
              '--kubelet-preferred-address-types=InternalIP',
            ]
          : []),
        '--v=0',
      ]);
      await plane.waitFor('kube-apiserver', () => plane.apiserverReady());

      if (options.controllers || options.nodes) {
        plane.launch('kube-controller-manager', [
          `--kubeconfig=${kubeconfigPath}`,
          '--leader-elect=false',
          '--secure-port=0',
          `--service-account-private-key-file=${certificates.serviceAccountKey}`,
          `--root-ca-file=${certificates.caCert}`,
          '--use-service-account-credentials=true',
          '--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route',
          '--concurrent-job-syncs=5',
        ]);
        plane.launch('kube-scheduler', [
          `--kubeconfig=${kubeconfigPath}`,
          '--leader-elect=false',
          '--secure-port=0',
        ]);
      }
      if (options.nodes) {
        plane.launch('kwok', [
          `--kubeconfig=${kubeconfigPath}`,
          '--manage-all-nodes=false',
          `--manage-nodes-with-annotation-selector=${Object.entries(kwokNodeAnnotation)[0]!.join('=')}`,
          // Heartbeats, as a kubelet sends them. kwok's own default is no Lease, and then a node's
          // only heartbeat is a status rewrite every ~10 min (stage node-heartbeat-with-lease):
          // kube-controller-manager marks it NotReady after its 50 s grace period (kwok sets it
          // Ready again, so every ~55 s) and its pods Ready=False, which kwok's pod-ready stage
          // never undoes (kubernetes-sigs/kwok#1464).
          // kwok renews each node's Lease every quarter of this duration; kwokctl passes the same 40
          // (pkg/kwokctl/components/kwok_controller.go in v0.7.0).
          '--node-lease-duration-seconds=40',
          '--cidr=10.244.0.1/16',
          '--node-ip=10.1.0.1',
          `--config=${path.join(binDir, 'kwok-stages.yaml')}`,
        ]);
        await plane.registerNodes(options.nodes);
      }
      return plane;
    } catch (error) {
      await plane.stop();
      throw error;
    }
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  /** Command-line tools built with the control plane (kubectl). */
  binary(name: 'kubectl'): string {
    return path.join(this.binDir, name);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all([...this.components].reverse().map((c) => terminate(c.process)));
    await rm(this.workDir, { recursive: true, force: true });
  }

  /** Synchronous last resort for `process.on('exit')`. */
  killNow(): void {
    for (const c of this.components) killGroup(c.process, 'SIGKILL');
  }

  private launch(name: string, args: string[]): void {
    const logFile = path.join(this.workDir, `${name}.log`);
    const child = spawnTied(path.join(this.binDir, name), args, { cwd: this.workDir, logFile });
    this.components.push({ name, process: child, logFile });
  }

  private async waitFor(name: string, ready: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    const component = this.components.find((c) => c.name === name)!;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (component.process.exitCode !== null) {
        throw new Error(
          `${name} exited with code ${component.process.exitCode}:\n${await tail(component.logFile)}`,
        );
      }
      if (await ready().catch(() => false)) return;
      await sleep(200);
    }
    throw new Error(`${name} not ready after ${timeoutMs} ms:\n${await tail(component.logFile)}`);
  }

  private async apiserverReady(): Promise<boolean> {
    const [ca, cert, key] = await Promise.all(
      [this.certificates.caCert, this.certificates.adminCert, this.certificates.adminKey].map((f) =>
        readFile(f),
      ),
    );
    return new Promise((resolve) => {
      const req = https.get(`${this.server}/readyz`, { ca, cert, key, timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
    });
  }

  private async registerNodes(shape: FakeNodeShape): Promise<void> {
    const core = this.kubeConfig().makeApiClient(CoreV1Api);
    const nodes = fakeNodes(shape);
    for (const node of nodes) await core.createNode({ body: node });
    await this.waitFor('kwok', async () => {
      const list = await core.listNode();
      return nodes.every((n) =>
        list.items.some(
          (live) =>
            live.metadata?.name === n.metadata?.name &&
            live.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        ),
      );
    });
    // The default ServiceAccount must exist before pods can be admitted in a namespace.
    await this.waitFor('kube-controller-manager', async () => {
      await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
      return true;
    });
  }
}

const workDirPrefix = 'pruneguard-controlplane-';

/** Work directories of test processes that were killed before they could clean up. */
async function removeAbandonedWorkDirs(): Promise<void> {
  for (const entry of await readdir(os.tmpdir())) {
    if (!entry.startsWith(workDirPrefix)) continue;
    const dir = path.join(os.tmpdir(), entry);
    const owner = Number(await readFile(path.join(dir, 'owner.pid'), 'utf8').catch(() => 'NaN'));
    if (Number.isInteger(owner) && processAlive(owner)) continue;
    await rm(dir, { recursive: true, force: true });
  }
}

/** Whether a process with this pid exists (signal 0 delivers nothing). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs `hack/controlplane/build.sh`, which reuses the cached binaries when they exist. */
export async function buildControlPlane(): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', [path.join(repoRoot, 'hack/controlplane/build.sh')], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout.trim().split('\n').at(-1)!;
}

/**
 * Starts `executable` so that it dies with this process, even when this process is killed
 * (`setpriv --pdeathsig SIGKILL`), in its own process group (stopped as a whole by `terminate`),
 * with stdout and stderr in `logFile`. The child never keeps this process alive: it writes its
 * log file itself, as a pipe to us would hold our event loop open (and so the child) when a test
 * forgets to stop it.
 */
export function spawnTied(
  executable: string,
  args: string[],
  options: { cwd: string; logFile: string; env?: NodeJS.ProcessEnv },
): ChildProcess {
  const log = openSync(options.logFile, 'a');
  try {
    const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', executable, ...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['ignore', log, log],
    });
    child.unref();
    return child;
  } finally {
    closeSync(log);
  }
}

/** SIGKILL to the child's process group, synchronously: the last resort for `stopOnExit`. */
export function killGroupNow(child: ChildProcess): void {
  killGroup(child, 'SIGKILL');
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** SIGTERM to the child's process group, SIGKILL after 5 s; resolves once the child has exited. */
export async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // Children are unref'd so they never keep a test process alive; while we wait for one to exit it must count.
  child.ref();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroup(child, 'SIGTERM');
  const forced = setTimeout(() => killGroup(child, 'SIGKILL'), 5000);
  await exited;
  clearTimeout(forced);
}

function adminKubeconfig(server: string, certs: ControlPlaneCertificates): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: { server, 'certificate-authority': certs.caCert } }],
    users: [{ name: 'admin', user: { 'client-certificate': certs.adminCert, 'client-key': certs.adminKey } }],
    contexts: [{ name: 'local', context: { cluster: 'local', user: 'admin', namespace: 'default' } }],
    'current-context': 'local',
  });
}

/** Ports free on loopback right now (the caller binds them soon after). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}

export async function tail(file: string, lines = 40): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines).join('\n');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
