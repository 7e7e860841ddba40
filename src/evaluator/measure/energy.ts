import { setTimeout as sleep } from 'node:timers/promises';

import type { ExecutionProvider } from '../models.js';
import { startCpuEstimate } from './power/cpu-estimate.js';
import { now, type PowerMethod, type RunningMeter } from './power/meter.js';
import { startNvml, type NvmlOptions } from './power/nvml.js';
import { defaultRaplRoot, startRapl } from './power/rapl.js';
import { attribute } from './power/window.js';

export type { PowerMethod } from './power/meter.js';

/**
 * The windows of one measurement, in milliseconds, each lengthened by the meter's lag (1 s for
 * nvidia-smi's `power.draw`, 0 for the others):
 * settle (discarded: the device winds down from the latency runs before it) → idle (measured:
 * the baseline) → load starts → ramp (discarded: power climbs for about a second) → loaded
 * (measured: as long as the work's own budget, ending when the work does).
 */
export interface EnergyWindows {
  settleMs: number;
  idleMs: number;
  rampMs: number;
}

/** What a pod uses: 1 s settling, 2 s idle, 1 s ramp (the loaded window is the throughput budget). */
export const defaultEnergyWindows: EnergyWindows = { settleMs: 1000, idleMs: 2000, rampMs: 1000 };

export interface EnergyOptions {
  /** Where the model runs: on cuda the GPU is metered first. */
  executionProvider: ExecutionProvider;
  /** Only try these methods, in this order (default: nvml on cuda, then rapl, then estimate). */
  methods?: PowerMethod[];
  windows?: EnergyWindows;
  raplRoot?: string;
  nvml?: NvmlOptions;
  wattsPerCore?: number;
}

/** What the work reports: its inferences, and when it started and stopped counting them (`now()`). */
export interface LoadedRun {
  inferences: number;
  from: number;
  to: number;
}

export interface EnergySamples {
  /** What the meter read in the loaded window (after the ramp). */
  joules: number;
  seconds: number;
  /** Inferences the work counted in that window. */
  inferences: number;
  /** Mean power in the idle window, by the same meter. */
  idleWatts: number;
  /** Of the attributed joules (joules − idleWatts × seconds), from the readings' spread. */
  joulesStandardError: number;
  method: PowerMethod;
  /** How the number was obtained, in words, for the status. */
  detail: string;
}

/**
 * Measures the device idle, then runs `work` under the same meter. `work` gets the ramp to let
 * pass before it starts counting (ms) and reports the window it counted; the energy of that
 * window minus the idle power over its length is what the candidate's inferences cost.
 */
export async function measureEnergy(
  work: (rampMs: number) => Promise<LoadedRun>,
  options: EnergyOptions,
): Promise<EnergySamples> {
  const methods = options.methods ?? [
    ...(options.executionProvider === 'cuda' ? (['nvml'] as const) : []),
    'rapl',
    'estimate',
  ];
  let meter: RunningMeter | undefined;
  let method: PowerMethod | undefined;
  for (const candidate of methods) {
    meter = await meters[candidate](options);
    if (meter) {
      method = candidate;
      break;
    }
  }
  if (!meter || !method) throw new Error(`power: none of ${methods.join(', ')} is available on this node`);
  const windows = options.windows ?? defaultEnergyWindows;
  const lagMs = meter.lagSeconds * 1000;
  let run: LoadedRun;
  let idle: { from: number; to: number };
  try {
    await sleep(windows.settleMs + lagMs);
    const idleFrom = now();
    await sleep(windows.idleMs);
    idle = { from: idleFrom, to: now() };
    run = await work(windows.rampMs + lagMs);
  } catch (error) {
    await meter.stop();
    throw error;
  }
  const { readings, detail } = await meter.stop();
  const loaded = { from: run.from, to: run.to };
  const measured = attribute(readings, { idle, loaded }, meter.lagSeconds);
  const seconds = (s: number) => `${s.toFixed(1)} s`;
  return {
    joules: measured.joules,
    seconds: measured.seconds,
    inferences: run.inferences,
    idleWatts: measured.idleWatts,
    joulesStandardError: measured.joulesStandardError,
    method,
    detail:
      `${detail}; idle ${measured.idle.watts.toFixed(1)} W over ${seconds(idle.to - idle.from)} ` +
      `after ${seconds((windows.settleMs + lagMs) / 1000)} settling, loaded ${measured.loaded.watts.toFixed(1)} W ` +
      `over ${seconds(measured.seconds)} after a ${seconds((windows.rampMs + lagMs) / 1000)} ramp`,
  };
}

const meters: Record<PowerMethod, (options: EnergyOptions) => Promise<RunningMeter | undefined>> = {
  nvml: (options) => startNvml(options.nvml),
  rapl: (options) => startRapl(options.raplRoot ?? defaultRaplRoot),
  estimate: async (options) => startCpuEstimate(options.wattsPerCore),
};
