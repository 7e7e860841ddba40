import { energyMethods, type EnergyMethod, type EnergySample } from './batch.js';
import type { MetricOutcome } from './metric-result.js';
import {
  quote,
  readArray,
  readCount,
  readNonNegative,
  readObject,
  readText,
  requireThat,
} from './state-checks.js';

/**
 * powerWatts = Σ joules / Σ seconds while the candidate runs.
 * carbonKgPer1M = (Σ joules / Σ inferences) × 1e6 / 3.6e6 J per kWh × grid intensity (kg CO2e/kWh) × PUE.
 * Sums merge exactly; the measurement methods seen are kept so the status can say how.
 */
export interface EnergyState {
  samples: number;
  joules: number;
  inferences: number;
  seconds: number;
  methods: EnergyMethod[];
}

export interface EnergyDetails extends EnergyState {
  joulesPerInference?: number;
  gridIntensityKgPerKWh: number;
  pue: number;
}

const joulesPerKWh = 3.6e6;

export class EnergyAccumulator {
  private state: EnergyState = { samples: 0, joules: 0, inferences: 0, seconds: 0, methods: [] };

  constructor(
    private readonly gridIntensityKgPerKWh: number,
    private readonly pue: number,
    state?: EnergyState,
    where = 'energy',
  ) {
    if (state === undefined) return;
    const checked = readObject(state, where);
    const methods = readArray(checked.methods, `${where}.methods`, energyMethods.length).map((method, i) => {
      const name = readText(method, `${where}.methods[${i}]`);
      requireThat(
        energyMethods.includes(name as EnergyMethod),
        `${where}.methods[${i}] is ${quote(name)}, expected one of ${energyMethods.join(', ')}`,
      );
      return name as EnergyMethod;
    });
    requireThat(new Set(methods).size === methods.length, `${where}.methods names a method twice`);
    this.state = {
      samples: readCount(checked.samples, `${where}.samples`),
      joules: readNonNegative(checked.joules, `${where}.joules`),
      inferences: readCount(checked.inferences, `${where}.inferences`),
      seconds: readNonNegative(checked.seconds, `${where}.seconds`),
      methods: [...methods].sort(),
    };
    const { samples, joules, inferences, seconds } = this.state;
    requireThat(
      samples > 0
        ? seconds > 0 && methods.length > 0
        : joules === 0 && inferences === 0 && seconds === 0 && methods.length === 0,
      `${where}: ${samples} samples of ${joules} J, ${inferences} inferences, ${seconds} s, methods ${methods.join('+') || 'none'}`,
    );
  }

  record(sample: EnergySample): void {
    if (!(sample.joules >= 0) || !(sample.seconds > 0) || !(sample.inferences >= 0))
      throw new Error(
        `energy sample (${sample.method}): needs joules ≥ 0, seconds > 0, inferences ≥ 0, got ${sample.joules} J, ${sample.seconds} s, ${sample.inferences} inferences`,
      );
    this.state.samples++;
    this.state.joules += sample.joules;
    this.state.inferences += sample.inferences;
    this.state.seconds += sample.seconds;
    this.addMethod(sample.method);
  }

  private addMethod(method: EnergyMethod): void {
    if (!this.state.methods.includes(method)) this.state.methods = [...this.state.methods, method].sort();
  }

  merge(other: EnergyAccumulator): void {
    this.state.samples += other.state.samples;
    this.state.joules += other.state.joules;
    this.state.inferences += other.state.inferences;
    this.state.seconds += other.state.seconds;
    for (const method of other.state.methods) this.addMethod(method);
  }

  power(): MetricOutcome {
    if (this.state.samples === 0) return { disabled: { name: 'powerWatts', reason: 'no energy samples' } };
    return {
      computed: {
        name: 'powerWatts',
        value: this.state.joules / this.state.seconds,
        samples: this.state.samples,
        detail: `measured by ${this.state.methods.join('+')}`,
      },
    };
  }

  carbon(): MetricOutcome {
    if (this.state.samples === 0) return { disabled: { name: 'carbonKgPer1M', reason: 'no energy samples' } };
    if (this.state.inferences === 0)
      return { disabled: { name: 'carbonKgPer1M', reason: 'energy samples count no inferences' } };
    const joulesPerInference = this.state.joules / this.state.inferences;
    return {
      computed: {
        name: 'carbonKgPer1M',
        value: ((joulesPerInference * 1e6) / joulesPerKWh) * this.gridIntensityKgPerKWh * this.pue,
        samples: this.state.inferences,
        detail: `${joulesPerInference.toPrecision(3)} J/inference × ${this.gridIntensityKgPerKWh} kg/kWh × PUE ${this.pue} (${this.state.methods.join('+')})`,
      },
    };
  }

  details(): EnergyDetails {
    const details: EnergyDetails = {
      ...this.state,
      methods: [...this.state.methods],
      gridIntensityKgPerKWh: this.gridIntensityKgPerKWh,
      pue: this.pue,
    };
    if (this.state.inferences > 0) details.joulesPerInference = this.state.joules / this.state.inferences;
    return details;
  }

  toJSON(): EnergyState {
    return { ...this.state, methods: [...this.state.methods] };
  }
}
