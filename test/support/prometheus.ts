/**
 * A real Prometheus server (hack/prometheus/build.sh) on a free loopback port, with its own
 * storage in a temporary directory, scraping the given targets every second. Stopped (and its
 * directory removed) by `stop()`, or when the test process exits.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePorts, killGroupNow, spawnTied, tail, terminate } from './controlplane.js';
import { stopOnExit } from './stop-on-exit.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let built: Promise<string> | undefined;

/** The cache folder holding `prometheus`, built or reused by hack/prometheus/build.sh. */
export function prometheusDir(): Promise<string> {
  built ??= promisify(execFile)('bash', [path.join(repoRoot, 'hack/prometheus/build.sh')], {
    maxBuffer: 16 * 1024 * 1024,
  }).then(({ stdout }) => stdout.trim().split('\n').at(-1)!);
  return built;
}

export interface ScrapeTarget {
  /** host:port serving /metrics. */
  address: string;
  /** Labels added to every series of the target, e.g. {scenario: "slow"}. */
  labels?: Record<string, string>;
}

export class LocalPrometheus {
  private stopped = false;

  private constructor(
    private readonly child: ChildProcess,
    private readonly workDir: string,
    private readonly logFile: string,
    private readonly unregister: () => void,
    /** http://127.0.0.1:<port> */
    readonly url: string,
  ) {}

  static async start(targets: ScrapeTarget[]): Promise<LocalPrometheus> {
    const binary = path.join(await prometheusDir(), 'prometheus');
    const [port] = await freePorts(1);
    const workDir = await mkdtemp(path.join(os.tmpdir(), 'pruneguard-prometheus-'));
    const configFile = path.join(workDir, 'prometheus.yml');
    await writeFile(
      configFile,
      JSON.stringify({
        global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
        scrape_configs: [
          {
            job_name: 'serving',
            static_configs: targets.map((t) => ({ targets: [t.address], labels: t.labels ?? {} })),
          },
        ],
      }),
    );
    const logFile = path.join(workDir, 'prometheus.log');
    const child = spawnTied(
      binary,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(workDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { cwd: workDir, logFile },
    );
    const unregister = stopOnExit(() => killGroupNow(child));
    const prometheus = new LocalPrometheus(child, workDir, logFile, unregister, `http://127.0.0.1:${port}`);
    try {
      await prometheus.waitFor('ready', async () => (await fetch(`${prometheus.url}/-/ready`)).ok);
      await prometheus.waitFor(`every target up (${targets.map((t) => t.address).join(', ')})`, async () => {
        const answer = (await (await fetch(`${prometheus.url}/api/v1/targets`)).json()) as {
          data: { activeTargets: { health: string }[] };
        };
        const active = answer.data.activeTargets;
        return active.length === targets.length && active.every((t) => t.health === 'up');
      });
    } catch (error) {
      await prometheus.stop();
      throw error;
    }
    return prometheus;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await terminate(this.child);
    this.unregister();
    await rm(this.workDir, { recursive: true, force: true });
  }

  private async waitFor(what: string, ready: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null)
        throw new Error(`prometheus exited with code ${this.child.exitCode}:\n${await tail(this.logFile)}`);
      if (await ready().catch(() => false)) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(
      `prometheus at ${this.url}: not ${what} after ${timeoutMs} ms:\n${await tail(this.logFile)}`,
    );
  }
}
