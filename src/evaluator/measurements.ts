/**
 * The measurements that are not per row: latency, throughput, power and memory, taken on the
 * shard's own hardware with the shard's own rows as inputs. They feed the same accumulator as the
 * row metrics; across shards latency sketches merge, throughput and energy add up, memory keeps
 * the largest.
 */
import type { PowerMethod } from '../api/v1alpha1/index.js';
import { energyMethodNames, type EvaluationAccumulator } from '../metrics/index.js';
import {
  defaultEnergyWindows,
  measureEnergy,
  measureLatency,
  measureThroughput,
  type EnergyWindows,
} from './measure/index.js';
import type { LoadedModel } from './models.js';

export interface MeasurementBudget {
  /** Timed one-row requests per model, after `latencyWarmup` untimed ones. */
  latencyRequests: number;
  latencyWarmup: number;
  /**
   * How long the candidate runs back to back at the batch size, counted, for throughput and
   * power; it follows `energy.rampMs` of uncounted load, and the idle baseline comes before both.
   */
  throughputMs: number;
  energy: EnergyWindows;
}

/**
 * What a pod measures: a p95 from 200 requests; 1 s settling and 2 s idle, then 1 s of ramp and
 * 2 s of sustained load counted (20 readings at 10 per second in each measured window).
 */
export const fullBudget: MeasurementBudget = {
  latencyRequests: 200,
  latencyWarmup: 20,
  throughputMs: 2000,
  energy: defaultEnergyWindows,
};
/** Enough to exercise every measurement in tests and local tries, in about a second. */
export const quickBudget: MeasurementBudget = {
  latencyRequests: 30,
  latencyWarmup: 3,
  throughputMs: 150,
  energy: { settleMs: 0, idleMs: 300, rampMs: 50 },
};

/** PRUNEGUARD_MEASUREMENT=quick selects the small budget; anything else (or unset) the full one. */
export function budgetFromEnvironment(env: NodeJS.ProcessEnv = process.env): MeasurementBudget {
  return env.PRUNEGUARD_MEASUREMENT === 'quick' ? quickBudget : fullBudget;
}

/**
 * Below this, a model's runtime bytes (growth of the process RSS while it loads and runs once)
 * are allocator noise rather than the model: a 200-parameter MLP "costs" anything from 0 to a few
 * hundred KiB depending on what the heap did. Then memoryRatio compares the models' non-zero
 * parameter bytes (float32) instead: what the weights need in a format that skips zeros.
 */
export const runtimeMemoryFloorBytes = 16 * 2 ** 20;

export type MemoryBasis = 'runtime' | 'nonZeroParameters';

export function recordMemory(
  accumulator: EvaluationAccumulator,
  teacher: LoadedModel,
  candidate: LoadedModel,
): MemoryBasis {
  const runtime =
    teacher.stats.memoryBytes >= runtimeMemoryFloorBytes &&
    candidate.stats.memoryBytes >= runtimeMemoryFloorBytes;
  const bytes = (model: LoadedModel) =>
    runtime
      ? model.stats.memoryBytes
      : model.stats.nonZeroParameters > 0
        ? model.stats.nonZeroParameters * 4
        : model.stats.fileBytes;
  accumulator.recordMemory({
    candidateBytes: bytes(candidate),
    teacherBytes: bytes(teacher),
    candidateFileBytes: candidate.stats.fileBytes,
    teacherFileBytes: teacher.stats.fileBytes,
    candidateNonZeroParameters: candidate.stats.nonZeroParameters,
    teacherNonZeroParameters: teacher.stats.nonZeroParameters,
  });
  return runtime ? 'runtime' : 'nonZeroParameters';
}

export interface PerformanceResult {
  powerMethod: PowerMethod;
  powerDetail: string;
}

/**
 * Latency of both models (one row at a time), then the device idle, then the candidate under
 * sustained load at the batch size, metered: the same run gives throughputQps, and with the idle
 * baseline the attributed energy behind powerWatts, energyPer1kInferencesJoules and carbonKgPer1M.
 */
export async function recordPerformance(
  accumulator: EvaluationAccumulator,
  models: { teacher: LoadedModel; candidate: LoadedModel },
  sample: { features: Float32Array; rows: number },
  options: { batchSize: number; budget: MeasurementBudget; deadline?: AbortSignal },
): Promise<PerformanceResult> {
  const { budget, batchSize, deadline } = options;
  for (const model of [models.candidate, models.teacher]) {
    const milliseconds = await measureLatency(model, sample.features, sample.rows, {
      requests: budget.latencyRequests,
      warmup: budget.latencyWarmup,
      deadline,
    });
    accumulator.recordLatency({ model: model.role, milliseconds });
  }
  const energy = await measureEnergy(
    async (rampMs) => {
      const run = await measureThroughput(models.candidate, sample.features, sample.rows, {
        batchSize,
        durationMs: budget.throughputMs,
        rampMs,
        deadline,
      });
      accumulator.recordThroughput(run);
      return run;
    },
    { executionProvider: models.candidate.executionProvider, windows: budget.energy },
  );
  accumulator.recordEnergy({
    joules: energy.joules,
    inferences: energy.inferences,
    seconds: energy.seconds,
    method: energy.method,
    idleWatts: energy.idleWatts,
    joulesStandardError: energy.joulesStandardError,
  });
  return { powerMethod: energyMethodNames[energy.method], powerDetail: energy.detail };
}
