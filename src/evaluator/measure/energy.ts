import type { ExecutionProvider } from '../models.js';
import { startCpuEstimate } from './power/cpu-estimate.js';
import type { PowerMethod, RunningMeter } from './power/meter.js';
import { startNvml, type NvmlOptions } from './power/nvml.js';
import { defaultRaplRoot, startRapl } from './power/rapl.js';

export type { PowerMethod } from './power/meter.js';

export interface EnergyOptions {
  /** Where the model runs: on cuda the GPU is metered first. */
  executionProvider: ExecutionProvider;
  /** Only try these methods, in this order (default: nvml on cuda, then rapl, then cpu-estimate). */
  methods?: PowerMethod[];
  raplRoot?: string;
  nvml?: NvmlOptions;
  wattsPerCore?: number;
}

export interface EnergySamples {
  joules: number;
  seconds: number;
  /** Inferences the work reported doing. */
  inferences: number;
  method: PowerMethod;
  /** How the number was obtained, in words, for the status. */
  detail: string;
}

/**
 * Runs `work` (which returns how many inferences it did) under the best available energy meter.
 * Average power is joules / seconds; energy per inference is joules / inferences.
 */
export async function measureEnergy(
  work: () => Promise<number>,
  options: EnergyOptions,
): Promise<EnergySamples> {
  const methods = options.methods ?? [
    ...(options.executionProvider === 'cuda' ? (['nvml'] as const) : []),
    'rapl',
    'cpu-estimate',
  ];
  let meter: RunningMeter | undefined;
  let method: PowerMethod | undefined;
  for (const candidate of methods) {
    meter = await start(candidate, options);
    if (meter) {
      method = candidate;
      break;
    }
  }
  if (!meter || !method) throw new Error(`power: none of ${methods.join(', ')} is available on this node`);
  const started = process.hrtime.bigint();
  let inferences: number;
  try {
    inferences = await work();
  } catch (error) {
    await meter.stop();
    throw error;
  }
  const reading = await meter.stop();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { joules: reading.joules, seconds, inferences, method, detail: reading.detail };
}

const meters: Record<PowerMethod, (options: EnergyOptions) => Promise<RunningMeter | undefined>> = {
  nvml: (options) => startNvml(options.nvml),
  rapl: (options) => startRapl(options.raplRoot ?? defaultRaplRoot),
  'cpu-estimate': async (options) => startCpuEstimate(options.wattsPerCore),
};

function start(method: PowerMethod, options: EnergyOptions): Promise<RunningMeter | undefined> {
  return meters[method](options);
}
