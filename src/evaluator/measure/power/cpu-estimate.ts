import { now, poll, type RunningMeter } from './meter.js';
import type { Reading } from './window.js';

/**
 * Default watts one fully busy core draws. A server core at load draws roughly 5–15 W
 * (package TDP ÷ cores); 10 W is the middle. Override with PRUNEGUARD_WATTS_PER_CORE.
 */
export const defaultWattsPerCore = 10;

/**
 * An estimate when no meter is readable: this process's CPU time (user + system, onnxruntime's
 * threads included) times a per-core wattage, read every `intervalMs`. Other processes are not
 * counted, so its idle window reads little more than the event loop.
 */
export function startCpuEstimate(wattsPerCore = wattsPerCoreFromEnv(), intervalMs = 100): RunningMeter {
  const start = process.cpuUsage();
  const read = async (): Promise<Reading> => {
    const used = process.cpuUsage(start);
    return { seconds: now(), joules: ((used.user + used.system) / 1e6) * wattsPerCore };
  };
  const readings: Reading[] = [{ seconds: now(), joules: 0 }];
  const sampler = poll(intervalMs, read, (reading) => readings.push(reading));
  return {
    lagSeconds: 0,
    async stop() {
      await sampler.stop();
      const cpuSeconds = readings.at(-1)!.joules / wattsPerCore;
      return {
        readings,
        detail: `estimate: ${cpuSeconds.toFixed(3)} CPU-seconds × ${wattsPerCore} W per core`,
      };
    },
  };
}

function wattsPerCoreFromEnv(): number {
  const value = Number(process.env.PRUNEGUARD_WATTS_PER_CORE);
  return Number.isFinite(value) && value > 0 ? value : defaultWattsPerCore;
}
