import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

import type { RunningMeter } from './meter.js';

const run = promisify(execFile);

export interface NvmlOptions {
  /** nvidia-smi binary (default `nvidia-smi` on PATH). */
  command?: string;
  /** GPU index as nvidia-smi numbers it (default 0). */
  gpu?: number;
  /** Sampling period in milliseconds (default 100). */
  intervalMs?: number;
}

/**
 * GPU board power through NVML, read by `nvidia-smi --query-gpu=power.draw` sampling in a loop
 * while the work runs; energy is the mean of the samples times the elapsed time. Returns undefined
 * when nvidia-smi is missing or reports no power reading.
 */
export async function startNvml(options: NvmlOptions = {}): Promise<RunningMeter | undefined> {
  const command = options.command ?? 'nvidia-smi';
  const query = ['--query-gpu=power.draw', '--format=csv,noheader,nounits', '-i', String(options.gpu ?? 0)];
  const readOnce = async (): Promise<number | undefined> => {
    try {
      const watts = Number((await run(command, query, { timeout: 5000 })).stdout.trim());
      return Number.isFinite(watts) ? watts : undefined;
    } catch {
      return undefined;
    }
  };
  const first = await readOnce();
  if (first === undefined) return undefined;

  const samples: number[] = [first];
  const started = process.hrtime.bigint();
  const sampler = spawn(command, [...query, `-lms`, String(options.intervalMs ?? 100)], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let pending = '';
  sampler.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const watts = Number(line.trim());
      if (line.trim() !== '' && Number.isFinite(watts)) samples.push(watts);
    }
  });
  sampler.on('error', () => undefined);

  return {
    async stop() {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      sampler.kill();
      const last = await readOnce();
      if (last !== undefined) samples.push(last);
      const meanWatts = samples.reduce((sum, w) => sum + w, 0) / samples.length;
      return {
        joules: meanWatts * seconds,
        detail: `NVML board power of GPU ${options.gpu ?? 0}, ${samples.length} samples via nvidia-smi, mean ${meanWatts.toFixed(1)} W`,
      };
    },
  };
}
