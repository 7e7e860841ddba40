import { energyMethodNames, energyMethods, type EnergyMethod, type EnergySample } from './batch.js';
import { zFor, type Interval } from './intervals.js';
import type { MetricOutcome, MetricResult } from './metric-result.js';
import type { EvaluationOptions } from './options.js';
import {
  quote,
  readArray,
  readCount,
  readNonNegative,
  readNumber,
  readObject,
  readText,
  requireThat,
} from './state-checks.js';

/**
 * What the candidate's inferences cost, attributed: the meter's reading under load minus what the
 * same meter read idle, over the same length of time (A = Σ joules − Σ idleJoules).
 * powerWatts = A / Σ seconds; energyPer1kInferencesJoules = A / Σ inferences × 1000;
 * carbonKgPer1M = A / Σ inferences × 1e6 / 3.6e6 J per kWh × grid intensity (kg CO2e/kWh) × PUE.
 * Sums merge exactly; the measurement methods seen are kept so the status can say how.
 *
 * The interval of all three is A ± (z·√Σ varianceJoules + ½·estimatedJoules), with the samples
 * that had no idle baseline (`unbaselinedJoules`) allowed down to none of their energy:
 * - `varianceJoules`: each sample's standard error² from the spread of its readings;
 * - the CPU estimate rests on a per-core wattage that is 5–15 W on real servers around the
 *   default 10 W, an error of up to ±50% that no number of readings reduces, so its share of A
 *   counts ±50%.
 */
export interface EnergyState {
  samples: number;
  /** What the meters read under load. */
  joules: number;
  inferences: number;
  seconds: number;
  methods: EnergyMethod[];
  // Written since idle baselines; a state without them is read as all unbaselined.
  /** Σ idle watts × seconds over the samples with an idle baseline. */
  idleJoules?: number;
  /** Σ joules of samples without one (older evaluators): counted whole. */
  unbaselinedJoules?: number;
  /** Σ standard error² of each sample's attributed joules. */
  varianceJoules?: number;
  /** Attributed joules of the samples the CPU estimate measured. */
  estimatedJoules?: number;
}

type FullEnergyState = Required<EnergyState>;

export interface EnergyDetails extends FullEnergyState {
  /** Σ joules − Σ idleJoules. */
  attributedJoules: number;
  /** Attributed, per inference. */
  joulesPerInference?: number;
  gridIntensityKgPerKWh: number;
  pue: number;
}

const joulesPerKWh = 3.6e6;

/** Half-width of the CPU estimate's interval, relative: 5–15 W per core around 10 W. */
export const estimateRelativeError = 0.5;

/** The fields a state written before idle baselines lacks; such a state is read as all unbaselined. */
const attributionFields = ['idleJoules', 'unbaselinedJoules', 'varianceJoules', 'estimatedJoules'] as const;

export class EnergyAccumulator {
  private state: FullEnergyState = {
    samples: 0,
    joules: 0,
    inferences: 0,
    seconds: 0,
    methods: [],
    idleJoules: 0,
    unbaselinedJoules: 0,
    varianceJoules: 0,
    estimatedJoules: 0,
  };

  private readonly gridIntensityKgPerKWh: number;
  private readonly pue: number;
  private readonly confidence: number;

  constructor(
    options: Pick<EvaluationOptions, 'gridIntensityKgPerKWh' | 'pue' | 'confidence'>,
    state?: EnergyState,
    where = 'energy',
  ) {
    ({
      gridIntensityKgPerKWh: this.gridIntensityKgPerKWh,
      pue: this.pue,
      confidence: this.confidence,
    } = options);
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
    const joules = readNonNegative(checked.joules, `${where}.joules`);
    const present = attributionFields.filter((field) => checked[field] !== undefined);
    requireThat(
      present.length === 0 || present.length === attributionFields.length,
      `${where} has ${present.join(', ')} but not ${attributionFields.filter((f) => !present.includes(f)).join(', ')}`,
    );
    // Written before idle baselines: every joule read under load counts, none is known to be idle.
    const attribution =
      present.length === 0
        ? {
            idleJoules: 0,
            unbaselinedJoules: joules,
            varianceJoules: 0,
            estimatedJoules: methods.includes('estimate') ? joules : 0,
          }
        : {
            idleJoules: readNumber(checked.idleJoules, `${where}.idleJoules`),
            unbaselinedJoules: readNonNegative(checked.unbaselinedJoules, `${where}.unbaselinedJoules`),
            varianceJoules: readNonNegative(checked.varianceJoules, `${where}.varianceJoules`),
            estimatedJoules: readNonNegative(checked.estimatedJoules, `${where}.estimatedJoules`),
          };
    this.state = {
      samples: readCount(checked.samples, `${where}.samples`),
      joules,
      inferences: readCount(checked.inferences, `${where}.inferences`),
      seconds: readNonNegative(checked.seconds, `${where}.seconds`),
      methods: [...methods].sort(),
      ...attribution,
    };
    const { samples, inferences, seconds, idleJoules, unbaselinedJoules, estimatedJoules } = this.state;
    requireThat(
      samples > 0
        ? seconds > 0 && methods.length > 0
        : joules === 0 && inferences === 0 && seconds === 0 && methods.length === 0,
      `${where}: ${samples} samples of ${joules} J, ${inferences} inferences, ${seconds} s, methods ${methods.join('+') || 'none'}`,
    );
    requireThat(
      unbaselinedJoules <= joules && (samples > 0 || (idleJoules === 0 && estimatedJoules === 0)),
      `${where}: ${unbaselinedJoules} J without an idle baseline, ${idleJoules} J idle and ${estimatedJoules} J estimated of ${joules} J in ${samples} samples`,
    );
  }

  record(sample: EnergySample): void {
    const { joules, seconds, inferences, idleWatts, joulesStandardError = 0 } = sample;
    if (
      !(joules >= 0) ||
      !(seconds > 0) ||
      !(inferences >= 0) ||
      !(joulesStandardError >= 0) ||
      (idleWatts !== undefined && !(idleWatts >= 0))
    )
      throw new Error(
        `energy sample (${sample.method}): needs joules ≥ 0, seconds > 0, inferences ≥ 0, idle watts ≥ 0 and a standard error ≥ 0, got ${joules} J, ${seconds} s, ${inferences} inferences, ${idleWatts ?? 'no'} idle W, ± ${joulesStandardError} J`,
      );
    const idleJoules = idleWatts === undefined ? 0 : idleWatts * seconds;
    this.state.samples++;
    this.state.joules += joules;
    this.state.inferences += inferences;
    this.state.seconds += seconds;
    this.state.idleJoules += idleJoules;
    if (idleWatts === undefined) this.state.unbaselinedJoules += joules;
    this.state.varianceJoules += joulesStandardError ** 2;
    if (sample.method === 'estimate') this.state.estimatedJoules += Math.max(0, joules - idleJoules);
    this.addMethod(sample.method);
  }

  private addMethod(method: EnergyMethod): void {
    if (!this.state.methods.includes(method)) this.state.methods = [...this.state.methods, method].sort();
  }

  merge(other: EnergyAccumulator): void {
    for (const key of ['samples', 'joules', 'inferences', 'seconds', ...attributionFields] as const)
      this.state[key] += other.state[key];
    for (const method of other.state.methods) this.addMethod(method);
  }

  /** Σ joules − Σ idle joules, and its interval in joules. */
  private attributed(): { joules: number; lower: number; upper: number } {
    const { joules, idleJoules, varianceJoules, estimatedJoules, unbaselinedJoules } = this.state;
    const attributed = joules - idleJoules;
    const half = zFor(this.confidence) * Math.sqrt(varianceJoules) + estimateRelativeError * estimatedJoules;
    return {
      joules: Math.max(0, attributed),
      lower: Math.max(0, attributed - half - unbaselinedJoules),
      upper: Math.max(0, attributed + half),
    };
  }

  private interval(scale: number): Interval {
    const { lower, upper } = this.attributed();
    return {
      lower: lower * scale,
      upper: upper * scale,
      confidence: this.confidence,
      method: 'attributed-energy',
    };
  }

  /** How it was measured, in the status's words, and what to know about the number. */
  private how(): string {
    const { samples, unbaselinedJoules, estimatedJoules } = this.state;
    const notes = [this.state.methods.map((m) => energyMethodNames[m]).join('+')];
    if (estimatedJoules > 0) notes.push(`the estimate's share ±${estimateRelativeError * 100}%`);
    if (unbaselinedJoules > 0)
      notes.push(
        `${unbaselinedJoules.toPrecision(3)} J${samples > 1 ? ' of some samples' : ''} had no idle baseline (an evaluator before baselines): counted whole`,
      );
    return notes.join('; ');
  }

  power(): MetricOutcome {
    if (this.state.samples === 0) return { disabled: { name: 'powerWatts', reason: 'no energy samples' } };
    const { seconds, joules, idleJoules } = this.state;
    const result: MetricResult = {
      name: 'powerWatts',
      value: this.attributed().joules / seconds,
      samples: this.state.samples,
      interval: this.interval(1 / seconds),
      detail: `${(joules / seconds).toFixed(1)} W under load − ${(idleJoules / seconds).toFixed(1)} W idle (${this.how()})`,
      facts: { loadedWatts: joules / seconds, idleWatts: idleJoules / seconds },
    };
    return { computed: result };
  }

  energyPer1k(): MetricOutcome {
    const name = 'energyPer1kInferencesJoules';
    if (this.state.samples === 0) return { disabled: { name, reason: 'no energy samples' } };
    if (this.state.inferences === 0)
      return { disabled: { name, reason: 'energy samples count no inferences' } };
    const scale = 1000 / this.state.inferences;
    return {
      computed: {
        name,
        value: this.attributed().joules * scale,
        samples: this.state.inferences,
        interval: this.interval(scale),
        detail: `${this.attributed().joules.toPrecision(3)} J attributed over ${this.state.inferences} inferences (${this.how()})`,
      },
    };
  }

  carbon(): MetricOutcome {
    if (this.state.samples === 0) return { disabled: { name: 'carbonKgPer1M', reason: 'no energy samples' } };
    if (this.state.inferences === 0)
      return { disabled: { name: 'carbonKgPer1M', reason: 'energy samples count no inferences' } };
    const joulesPerInference = this.attributed().joules / this.state.inferences;
    const scale = ((1e6 / this.state.inferences) * this.gridIntensityKgPerKWh * this.pue) / joulesPerKWh;
    return {
      computed: {
        name: 'carbonKgPer1M',
        value: this.attributed().joules * scale,
        samples: this.state.inferences,
        interval: this.interval(scale),
        detail: `${joulesPerInference.toPrecision(3)} J/inference attributed × ${this.gridIntensityKgPerKWh} kg/kWh × PUE ${this.pue} (${this.how()})`,
      },
    };
  }

  /** Every metric this accumulator yields. */
  results(): MetricOutcome[] {
    return [this.power(), this.energyPer1k(), this.carbon()];
  }

  details(): EnergyDetails {
    const attributedJoules = this.state.joules - this.state.idleJoules;
    const details: EnergyDetails = {
      ...this.state,
      methods: [...this.state.methods],
      attributedJoules,
      gridIntensityKgPerKWh: this.gridIntensityKgPerKWh,
      pue: this.pue,
    };
    if (this.state.inferences > 0) details.joulesPerInference = attributedJoules / this.state.inferences;
    return details;
  }

  toJSON(): FullEnergyState {
    return { ...this.state, methods: [...this.state.methods] };
  }
}
