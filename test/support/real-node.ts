/**
 * A real Kubernetes node beside the local control plane: Debian's containerd, runc and CNI plugins
 * (hack/node/install.sh), kubelet and kube-proxy built from the control plane's own module
 * (hack/node/build.sh), on a bridge of its own. Facts it rests on: ../shared/REAL-NODE.md.
 *
 * A node changes the machine (sysctls, iptables chains, a bridge and veths, mounts, cgroups, a few
 * fixed paths), so every change is undone by `stop()`, and by the next `RealNode.prepare()` after a
 * test process died before it could: `prepare` records the machine's state in a state file first,
 * and teardown reads only that file, so it works the same from a crashed run's leftovers.
 * Traffic stays on loopback and on the bridge: no default route in pods, the service range routed
 * into the bridge, NodePorts only on the bridge address.
 *
 * One real node per machine (fixed paths, the `kubepods` cgroups, port 10250).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import { signedCertificate } from './certificates.js';
import { processAlive, spawnTied, tail, terminate, type LocalControlPlane } from './controlplane.js';
import { stopOnExit } from './stop-on-exit.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Where and what the node is. The service range is the control plane's `--service-cluster-ip-range`. */
export const realNodeNetwork = {
  name: 'pruneguard-node',
  bridge: 'pgnode0',
  address: '10.213.0.1',
  podSubnet: '10.213.0.0/24',
  serviceSubnet: '10.0.0.0/24',
} as const;

const root = process.env.PRUNEGUARD_NODE_ROOT ?? '/var/lib/pruneguard-node';
const stateFile = path.join(root, 'state.json');
/** Held (by pid) from before a node's first change until after its teardown: one node per machine. */
const lockFile = `${root}.lock`;
const socket = path.join(root, 'run/containerd.sock');
const cniBinDir = '/usr/lib/cni';

/** Paths a kubelet or containerd creates whatever they are told; removed only if they were not there before. */
const fixedPaths = [
  '/var/log/containers',
  '/var/log/pods',
  '/var/lib/cni',
  '/run/containerd',
  '/run/netns',
  '/var/lib/kubelet',
];
/** sysctls that change by themselves; everything else is put back as it was. */
const volatileSysctl =
  /^(fs\.(dentry-state|inode-nr|inode-state|file-nr|aio-nr|quota\.)|kernel\.(ns_last_pid|random\.|pty\.nr)|net\.netfilter\.nf_conntrack_count)/;

interface NodeState {
  ownerPid: number;
  sysctls: Record<string, string>;
  absentPaths: string[];
  cgroupRoots: string[];
  /** `nft list tables` before: iptables-nft creates tables (filter, nat, mangle) that outlive their chains. */
  nftTables?: string[];
  pids: Record<string, number>;
  kubeProxy?: string;
}

/** Why this machine cannot run a real node, or undefined when it can. */
export function realNodeUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (a node mounts, makes a bridge and iptables chains)';
  for (const command of [
    'containerd',
    'containerd-shim-runc-v2',
    'runc',
    'ctr',
    'iptables',
    'ip6tables',
    'nft',
    'ip',
  ])
    if (!onPath(command))
      return `no ${command} on PATH (make node installs Debian's containerd, runc, iptables)`;
  for (const plugin of ['bridge', 'host-local', 'loopback'])
    if (!existsSync(path.join(cniBinDir, plugin)))
      return `no CNI plugin ${cniBinDir}/${plugin} (containernetworking-plugins)`;
  if (!existsSync('/sys/fs/cgroup/memory') && !existsSync('/sys/fs/cgroup/cgroup.controllers'))
    return 'no memory cgroup';
  return undefined;
}

/** The pid of another live process running the real node, if any. */
export function realNodeOwner(): number | undefined {
  const owner = Number(readFileOr(lockFile, 'NaN'));
  return Number.isInteger(owner) && owner !== process.pid && processAlive(owner) ? owner : undefined;
}

/** Takes the machine's node lock, waiting while another test process holds it. */
async function acquireLock(timeoutMs = 30 * 60_000): Promise<void> {
  mkdirSync(path.dirname(lockFile), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = realNodeOwner();
    if (owner === undefined) {
      rmSync(lockFile, { force: true }); // its owner died: what it left is cleaned up next
      continue;
    }
    if (Date.now() > deadline)
      throw new Error(`process ${owner} has held the real node (${lockFile}) for too long`);
    if (!told)
      console.error(`waiting for process ${owner}'s real node to stop (${lockFile}); one per machine`);
    told = true;
    await sleep(2000);
  }
}

export interface RealNodeBinaries {
  /** kubelet, kube-proxy and pause.tar (hack/node/build.sh). */
  nodeDir: string;
}

export class RealNode {
  private readonly processes: { name: string; process: ChildProcess; logFile: string }[] = [];
  private stopped = false;
  private unregister = () => {};

  private constructor(
    private readonly nodeDir: string,
    private readonly state: NodeState,
  ) {}

  /**
   * Cleans up after a test process that died with a node running, records the machine's state and
   * creates the bridge. Before the control plane starts: its apiserver serves on the bridge address.
   */
  static async prepare(binaries: RealNodeBinaries = { nodeDir: buildNode() }): Promise<RealNode> {
    const reason = realNodeUnavailable();
    if (reason) throw new Error(`cannot run a real node here: ${reason}`);
    await acquireLock();
    cleanUpRealNode();
    mkdirSync(root, { recursive: true });
    const state: NodeState = {
      ownerPid: process.pid,
      sysctls: readSysctls(),
      absentPaths: fixedPaths.filter((p) => !existsSync(p)),
      cgroupRoots: cgroupControllers().filter((c) => !existsSync(path.join(c, 'kubepods'))),
      nftTables: nftTables(),
      pids: {},
    };
    const node = new RealNode(binaries.nodeDir, state);
    node.saveState();
    node.unregister = stopOnExit(() => node.stopNow());
    try {
      const { bridge, address, serviceSubnet } = realNodeNetwork;
      run('ip', ['link', 'add', bridge, 'type', 'bridge']);
      run('ip', ['addr', 'add', `${address}/24`, 'dev', bridge]);
      run('ip', ['link', 'set', bridge, 'up']);
      // ClusterIPs live only here: nothing for them ever takes the default route.
      run('ip', ['route', 'add', serviceSubnet, 'dev', bridge, 'src', address]);
    } catch (error) {
      node.stopNow();
      throw error;
    }
    return node;
  }

  /** containerd, the images, kubelet and kube-proxy; resolves when the node is Ready. */
  async start(plane: LocalControlPlane, images: string[]): Promise<void> {
    try {
      await this.startProcesses(plane, images);
    } catch (error) {
      this.stopNow();
      throw error;
    }
  }

  /** `ctr images import` into the namespace the kubelet uses. */
  importImage(tarball: string): void {
    run('ctr', ['--address', socket, '-n', 'k8s.io', 'images', 'import', tarball]);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    // kube-proxy first, containerd last; the containers are killed by the teardown.
    for (const p of [...this.processes].reverse()) await terminate(p.process);
    this.stopNow();
  }

  /** Synchronous teardown, also the last resort of `process.on('exit')`. */
  stopNow(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unregister();
    teardown(this.state);
  }

  async logs(name: 'containerd' | 'kubelet' | 'kube-proxy'): Promise<string> {
    return tail(path.join(root, 'logs', `${name}.log`), 60);
  }

  private saveState(): void {
    writeFileSync(stateFile, JSON.stringify(this.state));
  }

  private launch(name: string, executable: string, args: string[]): ChildProcess {
    const logFile = path.join(root, 'logs', `${name}.log`);
    const child = spawnTied(executable, args, { cwd: root, logFile });
    this.processes.push({ name, process: child, logFile });
    if (child.pid) this.state.pids[name] = child.pid;
    this.saveState();
    return child;
  }

  private async waitFor(
    name: string,
    ready: () => Promise<boolean> | boolean,
    timeoutMs = 60_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const component = this.processes.find((p) => p.name === name);
    while (Date.now() < deadline) {
      if (component && component.process.exitCode !== null)
        throw new Error(
          `${name} exited with code ${component.process.exitCode}:\n${await tail(component.logFile)}`,
        );
      // A check that throws (synchronously or not) means "not yet".
      if (await (async () => ready())().catch(() => false)) return;
      await sleep(200);
    }
    throw new Error(
      `${name} not ready after ${timeoutMs} ms:\n${component ? await tail(component.logFile) : ''}`,
    );
  }

  private async startProcesses(plane: LocalControlPlane, images: string[]): Promise<void> {
    const { name, address, podSubnet, serviceSubnet, bridge } = realNodeNetwork;
    for (const dir of ['logs', 'run', 'cni/net.d', 'kubelet', 'pki'].map((d) => path.join(root, d)))
      mkdirSync(dir, { recursive: true });
    const pki = path.join(root, 'pki');

    // Client certificates signed by the cluster CA (in the control plane's work directory).
    const ca = plane.certificates;
    await signedCertificate(plane.workDir, 'node', `/O=system:nodes/CN=system:node:${name}`, 'client.ext');
    await signedCertificate(plane.workDir, 'kube-proxy', '/CN=system:kube-proxy', 'client.ext');
    const kubeconfig = (user: string) => {
      const file = path.join(pki, `${user}.kubeconfig`);
      writeFileSync(
        file,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [
            { name: 'local', cluster: { server: plane.server, 'certificate-authority': ca.caCert } },
          ],
          users: [
            {
              name: user,
              user: {
                'client-certificate': path.join(plane.workDir, `${user}.crt`),
                'client-key': path.join(plane.workDir, `${user}.key`),
              },
            },
          ],
          contexts: [{ name: 'local', context: { cluster: 'local', user } }],
          'current-context': 'local',
        }),
      );
      return file;
    };

    writeFileSync(
      path.join(root, 'cni/net.d/10-pruneguard.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'pruneguard',
        plugins: [
          {
            type: 'bridge',
            bridge,
            // isGateway would turn on ip_forward and give pods a default route; they need neither.
            isGateway: false,
            ipMasq: false,
            hairpinMode: true,
            ipam: {
              type: 'host-local',
              ranges: [[{ subnet: podSubnet, rangeStart: '10.213.0.10', gateway: address }]],
              routes: [{ dst: serviceSubnet, gw: address }],
              dataDir: path.join(root, 'cni/ipam'),
            },
          },
        ],
      }),
    );
    const pauseTag = readFileSync(path.join(this.nodeDir, 'pause.tag'), 'utf8').trim();
    const containerdConfig = path.join(root, 'containerd.toml');
    writeFileSync(
      containerdConfig,
      [
        'version = 2',
        `root = "${root}/containerd/root"`,
        `state = "${root}/containerd/state"`,
        `[grpc]\n  address = "${socket}"`,
        '[metrics]\n  address = ""',
        `[plugins."io.containerd.internal.v1.opt"]\n  path = "${root}/containerd/opt"`,
        '[plugins."io.containerd.grpc.v1.cri"]',
        `  sandbox_image = "${pauseTag}"`,
        // The VM withholds CAP_SYS_RESOURCE: a negative oom_score_adj fails every sandbox.
        '  restrict_oom_score_adj = true',
        '  netns_mounts_under_state_dir = true',
        '  stream_server_address = "127.0.0.1"',
        '  [plugins."io.containerd.grpc.v1.cri".containerd]',
        '    snapshotter = "overlayfs"',
        '    default_runtime_name = "runc"',
        '    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
        '      runtime_type = "io.containerd.runc.v2"',
        '      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
        '        SystemdCgroup = false',
        '  [plugins."io.containerd.grpc.v1.cri".cni]',
        `    bin_dir = "${cniBinDir}"`,
        `    conf_dir = "${root}/cni/net.d"`,
        '',
      ].join('\n'),
    );
    this.launch('containerd', 'containerd', ['--config', containerdConfig]);
    await this.waitFor('containerd', () => {
      run('ctr', ['--address', socket, 'version']);
      return true;
    });
    for (const image of [path.join(this.nodeDir, 'pause.tar'), ...images]) this.importImage(image);

    const resolvConf = path.join(root, 'resolv.conf');
    // No cluster DNS, and pods never ask the machine's resolvers.
    writeFileSync(resolvConf, '');
    const kubeletConfig = path.join(root, 'kubelet.yaml');
    writeFileSync(
      kubeletConfig,
      JSON.stringify({
        apiVersion: 'kubelet.config.k8s.io/v1beta1',
        kind: 'KubeletConfiguration',
        address,
        port: 10250,
        readOnlyPort: 0,
        healthzBindAddress: '127.0.0.1',
        healthzPort: 10248,
        authentication: {
          anonymous: { enabled: false },
          webhook: { enabled: true },
          x509: { clientCAFile: ca.caCert },
        },
        authorization: { mode: 'Webhook' },
        cgroupDriver: 'cgroupfs',
        failSwapOn: false,
        failCgroupV1: false,
        containerRuntimeEndpoint: `unix://${socket}`,
        resolvConf,
        podLogsDir: path.join(root, 'pod-logs'),
        volumePluginDir: path.join(root, 'volume-plugins'),
        serializeImagePulls: false,
        // The images were imported; nothing may be collected or pulled.
        imageGCHighThresholdPercent: 100,
        imageGCLowThresholdPercent: 99,
        evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
        // The node's own pods are few; status updates promptly.
        nodeStatusUpdateFrequency: '4s',
        syncFrequency: '10s',
      }),
    );
    this.launch('kubelet', path.join(this.nodeDir, 'kubelet'), [
      `--config=${kubeletConfig}`,
      `--kubeconfig=${kubeconfig('node')}`,
      `--root-dir=${path.join(root, 'kubelet')}`,
      `--hostname-override=${name}`,
      `--node-ip=${address}`,
      `--node-labels=pruneguard.io/real-node=true`,
      '--v=1',
    ]);
    const core = plane.kubeConfig().makeApiClient(CoreV1Api);
    await this.waitFor('kubelet', async () => {
      const node = await core.readNode({ name });
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    });
    // The kubelet set kernel.panic=10 and kernel.panic_on_oops=1 at start (no opt-out): a kernel
    // oops must not reboot the machine under the other tests. vm.overcommit_memory stays until stop.
    for (const key of ['kernel.panic', 'kernel.panic_on_oops']) writeSysctl(key, this.state.sysctls[key]!);

    const kubeProxyConfig = path.join(root, 'kube-proxy.yaml');
    writeFileSync(
      kubeProxyConfig,
      JSON.stringify({
        apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
        kind: 'KubeProxyConfiguration',
        mode: 'iptables',
        clientConnection: { kubeconfig: kubeconfig('kube-proxy') },
        hostnameOverride: name,
        bindAddress: address,
        healthzBindAddress: '127.0.0.1:10256',
        metricsBindAddress: '127.0.0.1:10249',
        clusterCIDR: podSubnet,
        nodePortAddresses: [`${address}/32`],
        iptables: { localhostNodePorts: false },
        // Zero: leave the machine's conntrack sysctls alone.
        conntrack: {
          maxPerCore: 0,
          min: 0,
          tcpEstablishedTimeout: '0s',
          tcpCloseWaitTimeout: '0s',
        },
      }),
    );
    this.state.kubeProxy = path.join(this.nodeDir, 'kube-proxy');
    this.launch('kube-proxy', this.state.kubeProxy, [`--config=${kubeProxyConfig}`, '--v=1']);
    await this.waitFor('kube-proxy', async () => {
      const res = await fetch('http://127.0.0.1:10256/healthz', { signal: AbortSignal.timeout(2000) });
      return res.ok;
    });
  }
}

/** Builds or reuses kubelet, kube-proxy and the pause image (hack/node/build.sh); returns their folder. */
export function buildNode(): string {
  const out = execFileSync('bash', [path.join(repoRoot, 'hack/node/build.sh')], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return out.trim().split('\n').at(-1)!;
}

/** Builds or reuses the pruneguard image (hack/image/build.sh): its tarball and its tags. */
export async function buildImage(): Promise<{ tarball: string; tags: string[] }> {
  const out = execFileSync('bash', [path.join(repoRoot, 'hack/image/build.sh')], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const dir = out.trim().split('\n').at(-1)!;
  const tags = (await readFile(path.join(dir, 'tags'), 'utf8')).trim().split('\n');
  return { tarball: path.join(dir, 'pruneguard.tar'), tags };
}

/**
 * Removes what a node left when its test process died without stopping it; a no-op when there is
 * nothing, or when that process is still alive (then `realNodeUnavailable` says so).
 */
export function cleanUpRealNode(): boolean {
  if (realNodeOwner() !== undefined) return false;
  const state = readState();
  if (!state && !existsSync(root)) return false;
  if (state && state.ownerPid !== process.pid && processAlive(state.ownerPid)) return false;
  teardown(
    state ?? { ownerPid: 0, sysctls: {}, absentPaths: [], cgroupRoots: cgroupControllers(), pids: {} },
  );
  return true;
}

function teardown(state: NodeState): void {
  const problems: string[] = [];
  const attempt = (what: string, action: () => void) => {
    try {
      action();
    } catch (error) {
      problems.push(`${what}: ${String(error).split('\n')[0]}`);
    }
  };
  // Processes: ours by recorded pid (if still ours), the shims of our containerd, then every
  // process left in the kubepods cgroups (the containers).
  for (const pid of Object.values(state.pids)) if (cmdline(pid).includes(root)) kill(pid);
  for (const pid of allPids()) {
    const line = cmdline(pid);
    if (line.startsWith('containerd-shim') || line.includes('/containerd-shim'))
      if (line.includes(socket)) kill(pid);
  }
  for (let round = 0; round < 50; round++) {
    const left = cgroupControllers().flatMap((c) => cgroupProcs(path.join(c, 'kubepods')));
    if (left.length === 0) break;
    left.forEach(kill);
    execFileSync('sleep', ['0.1']);
  }

  if (state.kubeProxy && existsSync(state.kubeProxy))
    attempt('kube-proxy --cleanup', () => run(state.kubeProxy!, ['--cleanup', '--v=0']));
  for (const command of ['iptables', 'ip6tables'])
    attempt(`${command} KUBE-*`, () => removeKubeChains(command));
  const tablesBefore = state.nftTables;
  if (tablesBefore)
    for (const table of nftTables().filter((t) => !tablesBefore.includes(t)))
      attempt(`nft delete table ${table}`, () => run('nft', ['delete', 'table', ...table.split(' ')]));

  // Mounts under our root (overlays, shm, netns, pod volumes), deepest first.
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point === root || point.startsWith(`${root}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) attempt(`umount ${point}`, () => run('umount', ['-l', point]));

  const { bridge } = realNodeNetwork;
  if (existsSync(`/sys/class/net/${bridge}`)) {
    for (const link of readdirSync(`/sys/class/net/${bridge}/brif`))
      attempt(`ip link del ${link}`, () => {
        try {
          run('ip', ['link', 'del', link]);
        } catch (error) {
          // A veth goes with its pod's network namespace, which the umounts above are freeing.
          if (existsSync(`/sys/class/net/${link}`)) throw error;
        }
      });
    attempt(`ip link del ${bridge}`, () => run('ip', ['link', 'del', bridge]));
  }

  for (const controller of state.cgroupRoots) removeCgroupTree(path.join(controller, 'kubepods'), problems);

  const now = readSysctls();
  for (const [key, value] of Object.entries(state.sysctls))
    if (now[key] !== undefined && now[key] !== value && !volatileSysctl.test(key))
      attempt(`sysctl ${key}`, () => writeSysctl(key, value));

  for (const p of state.absentPaths) attempt(`rm ${p}`, () => rmSync(p, { recursive: true, force: true }));
  attempt(`rm ${root}`, () => rmSync(root, { recursive: true, force: true }));
  // Ours, or a dead process's: a live owner's lock never reaches here (cleanUpRealNode checks).
  if (realNodeOwner() === undefined) rmSync(lockFile, { force: true });
  if (problems.length > 0) console.error(`real node teardown:\n  ${problems.join('\n  ')}`);
}

/** Rules jumping to KUBE-* chains, then the chains themselves, in every table. */
function removeKubeChains(command: string): void {
  const save = execFileSync(`${command}-save`, { encoding: 'utf8' });
  let table = '';
  const chains: [string, string][] = [];
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(':KUBE-')) chains.push([table, line.slice(1).split(' ')[0]!]);
    else if (/^-A (?!KUBE-)\S+ .*-j KUBE-/.test(line))
      run(command, ['-w', '-t', table, '-D', ...splitRule(line.slice(3))]);
  }
  for (const [t, chain] of chains) run(command, ['-w', '-t', t, '-F', chain]);
  for (const [t, chain] of chains) run(command, ['-w', '-t', t, '-X', chain]);
}

/** iptables-save quotes comments with double quotes; split as a shell would. */
function splitRule(rule: string): string[] {
  return [...rule.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1] : m[2]!));
}

function removeCgroupTree(dir: string, problems: string[]): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true }))
    if (entry.isDirectory()) removeCgroupTree(path.join(dir, entry.name), problems);
  try {
    rmdirSync(dir);
  } catch (error) {
    problems.push(`rmdir ${dir}: ${String(error)}`);
  }
}

/** `family name` of every nftables table, e.g. `ip nat`. */
export function nftTables(): string[] {
  return run('nft', ['list', 'tables'])
    .split('\n')
    .filter((line) => line.startsWith('table '))
    .map((line) => line.slice('table '.length).trim())
    .sort();
}

function cgroupControllers(): string[] {
  const base = '/sys/fs/cgroup';
  if (existsSync(path.join(base, 'cgroup.controllers'))) return [base];
  return readdirSync(base)
    .map((c) => path.join(base, c))
    .filter((c) => existsSync(path.join(c, 'cgroup.procs')));
}

function cgroupProcs(dir: string): number[] {
  if (!existsSync(dir)) return [];
  const here = readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  const below = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => cgroupProcs(path.join(dir, e.name)));
  return [...here, ...below];
}

export function readSysctls(): Record<string, string> {
  const out = execFileSync('sysctl', ['-a'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const values: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const at = line.indexOf(' = ');
    if (at > 0) values[line.slice(0, at)] = line.slice(at + 3);
  }
  return values;
}

function writeSysctl(key: string, value: string): void {
  writeFileSync(`/proc/sys/${key.replaceAll('.', '/')}`, value.replaceAll('\t', ' '));
}

function readFileOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function readState(): NodeState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile, 'utf8')) as NodeState;
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number);
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => existsSync(path.join(dir, command)));
}

function run(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// `node --import tsx test/support/real-node.ts cleanup`: what `make node-clean` runs.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'cleanup') {
  console.log(cleanUpRealNode() ? `removed a real node's leftovers (${root})` : 'no real node leftovers');
}
