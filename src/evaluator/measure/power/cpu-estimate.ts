import type { RunningMeter } from './meter.js';

/**
 * Default watts one fully busy core draws. A server core at load draws roughly 5–15 W
 * (package TDP ÷ cores); 10 W is the middle. Override with PRUNEGUARD_WATTS_PER_CORE.
 */
export const defaultWattsPerCore = 10;

/**
 * An estimate when no meter is readable: this process's CPU time (user + system, onnxruntime's
 * threads included) times a per-core wattage. Idle power and other processes are not counted.
 */
export function startCpuEstimate(wattsPerCore = wattsPerCoreFromEnv()): RunningMeter {
  const start = process.cpuUsage();
  return {
    async stop() {
      const used = process.cpuUsage(start);
      const cpuSeconds = (used.user + used.system) / 1e6;
      return {
        joules: cpuSeconds * wattsPerCore,
        detail: `estimate: ${cpuSeconds.toFixed(3)} CPU-seconds × ${wattsPerCore} W per core`,
      };
    },
  };
}

function wattsPerCoreFromEnv(): number {
  const value = Number(process.env.PRUNEGUARD_WATTS_PER_CORE);
  return Number.isFinite(value) && value > 0 ? value : defaultWattsPerCore;
}
