import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { nftTables, readSysctls } from './real-node.js';

/** sysctls that change by themselves (counters, random values). */
const volatileSysctl =
  /^(fs\.(dentry-state|inode-nr|inode-state|file-nr|aio-nr|quota\.)|kernel\.(ns_last_pid|random\.|pty\.nr)|net\.netfilter\.nf_conntrack_count)/;

/**
 * What a real node may change on this machine, in a comparable form: sysctls, iptables and
 * ip6tables rules, nftables tables, network links, addresses and routes, mount points, the fixed
 * paths kubelet and containerd use and the kubepods cgroups.
 */
export function machineState(): Record<string, string[]> {
  const lines = (command: string, args: string[]) =>
    execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'));
  return {
    sysctls: Object.entries(readSysctls())
      .filter(([key]) => !volatileSysctl.test(key))
      .map(([key, value]) => `${key} = ${value}`),
    iptables: lines('iptables-save', []).map(withoutCounters),
    ip6tables: lines('ip6tables-save', []).map(withoutCounters),
    nftTables: nftTables(),
    links: lines('ip', ['-o', 'link', 'show']).map((l) => l.split(':')[1]!.trim()),
    addresses: lines('ip', ['-o', 'addr', 'show']).map((l) => l.split(/\s+/).slice(1, 4).join(' ')),
    routes: lines('ip', ['route', 'show', 'table', 'all']),
    mounts: readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')[4]!)
      .sort(),
    paths: [
      '/var/lib/pruneguard-node',
      '/var/log/pods',
      '/var/log/containers',
      '/var/lib/cni',
      '/run/containerd',
      '/run/netns',
      '/var/lib/kubelet',
    ].filter((p) => existsSync(p)),
    cgroups: readdirSync('/sys/fs/cgroup').filter((c) => existsSync(`/sys/fs/cgroup/${c}/kubepods`)),
  };
}

function withoutCounters(line: string): string {
  return line.replace(/\[\d+:\d+\]/, '');
}

/** What differs between two `machineState()` snapshots, one line each: `links + veth1`, `sysctls - …`. */
export function machineChanges(before: Record<string, string[]>, after: Record<string, string[]>): string[] {
  return Object.keys({ ...before, ...after }).flatMap((kind) => {
    const was = new Set(before[kind]);
    const now = new Set(after[kind]);
    return [
      ...(after[kind] ?? []).filter((line) => !was.has(line)).map((line) => `${kind} + ${line}`),
      ...(before[kind] ?? []).filter((line) => !now.has(line)).map((line) => `${kind} - ${line}`),
    ];
  });
}
