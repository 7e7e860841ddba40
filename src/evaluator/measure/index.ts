export { measureLatency, type LatencyOptions } from './latency.js';
export { measureThroughput, type ThroughputOptions, type ThroughputSamples } from './throughput.js';
export {
  defaultEnergyWindows,
  measureEnergy,
  type EnergyOptions,
  type EnergySamples,
  type EnergyWindows,
  type LoadedRun,
  type PowerMethod,
} from './energy.js';
export { defaultWattsPerCore } from './power/cpu-estimate.js';
export { defaultRaplRoot } from './power/rapl.js';
export type { RunnableModel } from './model.js';
