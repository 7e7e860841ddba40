/**
 * A serving process for the live-metrics tests (serving-process.ts): a real HTTP server exposing
 * real prom-client metrics of the traffic it generates, which a real Prometheus scrapes.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts, killGroupNow, spawnTied, tail, terminate } from './controlplane.js';
import type { Traffic, Variant } from './serving-process.js';
import { stopOnExit } from './stop-on-exit.js';

export type { Traffic, Variant };

/** What the stable variant serves in every scenario: 40 requests a second, median 20 ms. */
export const steadyTraffic: Traffic = { ratePerSecond: 40, medianMs: 20, sigma: 0.3 };

/** A canary beside a steady stable variant, as the live-metrics tests set them. */
export const canaryScenarios = {
  /** More than twice as slow: Critical against its baseline. */
  slow: { stable: steadyTraffic, canary: { ...steadyTraffic, medianMs: 45 } },
  equal: { stable: steadyTraffic, canary: steadyTraffic },
  /** About one request a minute: most points of a window have no value. */
  idle: { stable: steadyTraffic, canary: { ...steadyTraffic, ratePerSecond: 0.02 } },
} satisfies Record<string, Record<Variant, Traffic>>;

/**
 * The p95 latency in ms of one scenario's variant, from the histogram the serving process exports
 * (each scenario's process is scraped with the label `scenario`).
 */
export function p95Query(scenario: string, variant: Variant): string {
  return `histogram_quantile(0.95, sum by (le) (rate(inference_request_duration_seconds_bucket{scenario="${scenario}",variant="${variant}"}[15s]))) * 1000`;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const script = path.join(repoRoot, 'test/support/serving-process.ts');

export class ServingProcess {
  private constructor(
    private readonly child: ChildProcess,
    private readonly workDir: string,
    private readonly unregister: () => void,
    /** host:port, as a scrape target. */
    readonly target: string,
  ) {}

  static async start(traffic: Record<Variant, Traffic>): Promise<ServingProcess> {
    const [port] = await freePorts(1);
    const workDir = await mkdtemp(path.join(os.tmpdir(), 'pruneguard-serving-'));
    const logFile = path.join(workDir, 'serving.log');
    const child = spawnTied(
      process.execPath,
      ['--import', 'tsx', script, String(port), JSON.stringify(traffic)],
      {
        cwd: repoRoot, // where tsx resolves
        logFile,
      },
    );
    const unregister = stopOnExit(() => killGroupNow(child));
    const serving = new ServingProcess(child, workDir, unregister, `127.0.0.1:${port}`);
    const deadline = Date.now() + 30_000;
    while (
      !(await fetch(`http://${serving.target}/metrics`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (child.exitCode !== null || Date.now() > deadline) {
        const log = await tail(logFile);
        await serving.stop();
        throw new Error(`serving process on ${serving.target} did not start:\n${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return serving;
  }

  async set(variant: Variant, traffic: Partial<Traffic>): Promise<void> {
    const response = await fetch(`http://${this.target}/variants/${variant}`, {
      method: 'POST',
      body: JSON.stringify(traffic),
    });
    if (!response.ok)
      throw new Error(`serving process ${this.target}: setting ${variant} answered ${response.status}`);
  }

  async stop(): Promise<void> {
    await terminate(this.child);
    this.unregister();
    await rm(this.workDir, { recursive: true, force: true });
  }
}
