import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

import { now, type RunningMeter } from './meter.js';
import type { Reading } from './window.js';

const run = promisify(execFile);

export interface NvmlOptions {
  /** nvidia-smi binary (default `nvidia-smi` on PATH). */
  command?: string;
  /** GPU index as nvidia-smi numbers it (default 0). */
  gpu?: number;
  /** Sampling period in milliseconds (default 100: nvidia-smi -lms 100 gives 10 readings/s). */
  intervalMs?: number;
}

/**
 * The power fields nvidia-smi can report, best first. `power.draw.instant` is the board's power
 * now; `power.draw` is, on Ampere and newer, the average over the last second (NVML's
 * nvmlDeviceGetPowerUsage: "On Ampere (except GA100) or newer GPUs, the API returns power
 * averaged over 1 sec interval"), so it lags a change by up to that second.
 */
export const powerFields = [
  { field: 'power.draw.instant', lagSeconds: 0 },
  { field: 'power.draw', lagSeconds: 1 },
] as const;

export type PowerField = (typeof powerFields)[number];

/**
 * One cell of `--format=csv,noheader,nounits` output as watts; undefined for what nvidia-smi
 * prints when a field has no value on this GPU or driver (`[N/A]`, `[Not Supported]`, `[Unknown
 * Error]`) and for anything else that is not a finite number ≥ 0.
 */
export function parseWatts(cell: string): number | undefined {
  const text = cell.trim();
  if (text === '' || text.startsWith('[')) return undefined;
  const watts = Number(text);
  return Number.isFinite(watts) && watts >= 0 ? watts : undefined;
}

/**
 * Which field to sample, from one query of `fields` at once (one line, the cells in that order):
 * the first that reads as watts. Undefined when none does.
 */
export function choosePowerField(
  line: string,
  fields: readonly PowerField[] = powerFields,
): PowerField | undefined {
  const cells = line.trim().split(',');
  return fields.find((_, i) => parseWatts(cells[i] ?? '') !== undefined);
}

/**
 * Board power as cumulative joules: the trapezoid between consecutive readings (watts at the
 * time each line arrived).
 */
export function integratePower(samples: readonly { seconds: number; watts: number }[]): Reading[] {
  const readings: Reading[] = [];
  let joules = 0;
  samples.forEach((sample, i) => {
    const previous = samples[i - 1];
    if (previous) joules += ((previous.watts + sample.watts) / 2) * (sample.seconds - previous.seconds);
    readings.push({ seconds: sample.seconds, joules });
  });
  return readings;
}

/**
 * GPU board power through NVML, read by `nvidia-smi --query-gpu=<field> -lms <interval>`:
 * `power.draw.instant` where the driver has it, else `power.draw`. Returns undefined when
 * nvidia-smi is missing or reports neither.
 */
export async function startNvml(options: NvmlOptions = {}): Promise<RunningMeter | undefined> {
  const command = options.command ?? 'nvidia-smi';
  const gpu = String(options.gpu ?? 0);
  const intervalMs = options.intervalMs ?? 100;
  const query = async (fields: readonly PowerField[]): Promise<string | undefined> => {
    try {
      const args = [
        `--query-gpu=${fields.map((f) => f.field).join(',')}`,
        '--format=csv,noheader,nounits',
        '-i',
        gpu,
      ];
      return (await run(command, args, { timeout: 5000 })).stdout;
    } catch {
      // missing binary, no GPU, or a driver that does not know a field ("… is not a valid field to query")
      return undefined;
    }
  };
  // A driver that does not know power.draw.instant refuses the whole query; then ask for power.draw alone.
  const all = await query(powerFields);
  const averageOnly = powerFields.slice(1);
  const field =
    all !== undefined
      ? choosePowerField(all)
      : choosePowerField((await query(averageOnly)) ?? '', averageOnly);
  if (!field) return undefined;

  const samples: { seconds: number; watts: number }[] = [];
  const readOnce = async () => {
    const watts = parseWatts((await query([field])) ?? '');
    if (watts !== undefined) samples.push({ seconds: now(), watts });
  };
  await readOnce();
  if (samples.length === 0) return undefined;
  const sampler = spawn(
    command,
    [`--query-gpu=${field.field}`, '--format=csv,noheader,nounits', '-i', gpu, '-lms', String(intervalMs)],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let pending = '';
  sampler.stdout.on('data', (chunk: Buffer) => {
    const seconds = now();
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const watts = parseWatts(line);
      if (watts !== undefined) samples.push({ seconds, watts });
    }
  });
  sampler.on('error', () => undefined);

  return {
    lagSeconds: field.lagSeconds,
    async stop() {
      sampler.kill();
      await readOnce();
      return {
        readings: integratePower(samples),
        detail: `NVML board power of GPU ${gpu} (nvidia-smi ${field.field}, ${samples.length} readings every ${intervalMs} ms)`,
      };
    },
  };
}
