import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { EvaluationAccumulator, type EvaluationBatch } from '../../../src/metrics/index.js';
import { openTable } from '../../../src/evaluator/data/index.js';
import { normalQuantile, wilson } from '../../../src/metrics/intervals.js';
import {
  chiSquaredQuantile,
  chiSquaredSurvival,
  holmAdjusted,
  kolmogorovSurvival,
  mcnemarExactPValue,
} from '../../../src/metrics/significance.js';
import { askOracle } from '../../oracle/ask.js';
import { textColumn, textValues } from '../../../src/metrics/text-column.js';
import { gaussian, seededRandom, syntheticBatch } from './synthetic-data.js';
import { openModel } from '../../../src/evaluator/models.js';
import type { PairedTest } from '../../../src/metrics/metric-result.js';
import { fileUri, fixtureManifest } from '../evaluator/fixture-specs.js';
import { numericColumns, penguinsPool, poolBatch } from '../grading/penguins-pool.js';

/**
 * Cross-checks against numpy/scipy (test/oracle/reference_metrics.py) on the same raw data.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface OracleAnswer {
  drift: Record<
    string,
    {
      referenceQuantiles: number[];
      psiOnEngineEdges: number;
      psiOnNumpyEdges: number;
      ks: number;
      ksBucketed: number;
      ksPValueAsymp: number;
      ksPValueStephens: number;
      psiChiSquaredPValue: number;
      psiNoiseBand: number;
    }
  >;
  categoricalPsi: Record<string, number>;
  latency: Record<string, number>;
  demographicParity: { value: number; disparateImpactRatio: number; interval: [number, number] };
  accuracy: {
    drop: number;
    interval: [number, number];
    disagreement: number;
    disagreementInterval: [number, number];
  };
  wilsonCases: [number, number][];
  normalQuantile975: number;
}

function askEngineOracle(request: unknown): OracleAnswer {
  return askOracle(request) as OracleAnswer;
}

function withBalance(batch: EvaluationBatch, seed: number, shift: number): EvaluationBatch {
  const random = seededRandom(seed);
  const balance = new Float64Array(batch.rows);
  for (let i = 0; i < batch.rows; i++) balance[i] = 100 * (gaussian(random) + shift);
  return { ...batch, numericFeatures: { ...batch.numericFeatures, balance } };
}

function closeTo(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: engine ${actual}, reference ${expected}, difference ${Math.abs(actual - expected)} > ${tolerance}`,
  );
}

/** 4,000 labelled rows of three classes, the candidate's scores noisier than the teacher's. */
function threeClasses(): EvaluationBatch {
  return syntheticBatch({
    dataset: 'current',
    rows: 4000,
    seed: 21,
    labels: true,
    outputWidth: 3,
    candidateNoise: 0.8,
  });
}

/** A labelled batch's scores and labels as the Python oracle reads them (null: unlabelled). */
function scoresForPython(batch: EvaluationBatch) {
  return {
    outputWidth: batch.outputWidth,
    teacherScores: [...batch.teacherScores],
    candidateScores: [...batch.candidateScores],
    labels: [...batch.labels!].map((y) => (Number.isNaN(y) ? null : y)),
  };
}

test('metric engine agrees with numpy/scipy on PSI, KS, quantiles, demographic parity and intervals', () => {
  const reference = withBalance(
    syntheticBatch({ dataset: 'reference', rows: 12000, seed: 11, labels: true }),
    3,
    0,
  );
  const current = withBalance(
    syntheticBatch({
      dataset: 'current',
      rows: 9000,
      seed: 12,
      labels: true,
      shift: 0.3,
      candidateNoise: 0.6,
    }),
    4,
    0.2,
  );
  const random = seededRandom(5);
  const latency = Array.from({ length: 3000 }, () => 20 * Math.exp(0.5 * gaussian(random)));

  const engine = new EvaluationAccumulator({});
  engine.update(reference);
  engine.update(current);
  engine.recordLatency({ model: 'candidate', milliseconds: latency });
  const report = engine.result();
  const options = engine.options;

  const numericDrift: Record<string, unknown> = {};
  for (const name of Object.keys(reference.numericFeatures)) {
    const drift = report.details.drift.find((d) => d.feature === name)!;
    numericDrift[name] = {
      reference: [...reference.numericFeatures[name]!],
      current: [...current.numericFeatures[name]!],
      edges: drift.edges,
    };
  }
  const wilsonCases = [
    [0, 10],
    [10, 10],
    [3, 7],
    [500, 1000],
    [1, 100000],
  ];
  const oracle = askEngineOracle({
    confidence: options.confidence,
    psiBins: options.psiBins,
    psiEpsilon: options.psiEpsilon,
    featureRelativeAccuracy: options.featureRelativeAccuracy,
    minGroupCount: options.minGroupCount,
    decisionThreshold: 0.5,
    numericDrift,
    categoricalDrift: {
      merchant: {
        reference: textValues(reference.categoricalFeatures.merchant!),
        current: textValues(current.categoricalFeatures.merchant!),
      },
    },
    latency,
    fairness: { candidateScores: [...current.candidateScores], groups: textValues(current.sensitive!) },
    accuracy: {
      teacherScores: [...current.teacherScores],
      candidateScores: [...current.candidateScores],
      labels: [...current.labels!],
    },
    wilsonCases,
  });

  const gamma = (1 + options.featureRelativeAccuracy) / (1 - options.featureRelativeAccuracy);
  for (const name of Object.keys(reference.numericFeatures)) {
    const ours = report.details.drift.find((d) => d.feature === name)!;
    const theirs = oracle.drift[name]!;
    closeTo(ours.psi, theirs.psiOnEngineEdges, 1e-9 * Math.max(1, ours.psi), `${name} PSI on the same edges`);
    closeTo(
      ours.psi,
      theirs.psiOnNumpyEdges,
      0.1 * theirs.psiOnNumpyEdges + 0.005,
      `${name} PSI vs numpy's edges`,
    );
    closeTo(ours.ks!, theirs.ksBucketed, 1e-12, `${name} KS of bucketed data`);
    closeTo(ours.ks!, theirs.ks, 0.02, `${name} KS of raw data`);
    closeTo(ours.ksPValue!, theirs.ksPValueStephens, 1e-9 * theirs.ksPValueStephens + 1e-15, `${name} KS p`);
    // scipy's asymptotic p is the one-sample exact law at n = round(RC/(R+C)): Stephens' is within 3%.
    closeTo(
      ours.ksPValue!,
      theirs.ksPValueAsymp,
      0.03 * theirs.ksPValueAsymp + 1e-12,
      `${name} KS p vs scipy`,
    );
    // Thousands of rows in every bin: the chi-squared approximation, as scipy computes it.
    assert.equal(ours.psiTest.method, 'chi-squared', name);
    closeTo(
      ours.psiTest.pValue,
      theirs.psiChiSquaredPValue,
      1e-9 * theirs.psiChiSquaredPValue + 1e-300,
      `${name} PSI p-value`,
    );
    closeTo(
      ours.psiTest.noiseBand[1],
      theirs.psiNoiseBand,
      1e-10 * theirs.psiNoiseBand,
      `${name} noise band`,
    );
    // Each engine edge is its reference quantile moved up to a bucket boundary.
    const quantiles = [...new Set(theirs.referenceQuantiles)];
    assert.equal(ours.edges!.length, quantiles.length, `${name}: one edge per distinct reference quantile`);
    ours.edges!.forEach((edge, j) => {
      const quantile = quantiles[j]!;
      assert.ok(edge >= quantile, `${name} edge ${j}: ${edge} below the quantile ${quantile}`);
      assert.ok(
        edge - quantile <= (gamma - 1) * Math.abs(quantile) + 1e-9,
        `${name} edge ${j}: ${edge} vs ${quantile}`,
      );
    });
  }
  const merchant = report.details.drift.find((d) => d.feature === 'merchant')!;
  closeTo(merchant.psi, oracle.categoricalPsi.merchant!, 1e-12, 'categorical PSI');

  const latencyDetails = report.details.latency.candidate!;
  for (const [q, ours] of [
    ['0.5', latencyDetails.p50],
    ['0.95', latencyDetails.p95],
    ['0.99', latencyDetails.p99],
  ] as const) {
    const theirs = oracle.latency[q]!;
    assert.ok(
      Math.abs(ours - theirs) <= options.latencyRelativeAccuracy * theirs,
      `p${q}: ${ours} vs ${theirs}`,
    );
  }

  const parity = report.metrics.find((m) => m.name === 'demographicParity')!;
  closeTo(parity.value, oracle.demographicParity.value, 1e-12, 'demographic parity');
  closeTo(parity.interval!.lower, oracle.demographicParity.interval[0], 1e-9, 'parity interval lower');
  closeTo(parity.interval!.upper, oracle.demographicParity.interval[1], 1e-9, 'parity interval upper');
  closeTo(
    report.details.fairness!.disparateImpactRatio!,
    oracle.demographicParity.disparateImpactRatio,
    1e-12,
    'disparate impact ratio',
  );

  const drop = report.metrics.find((m) => m.name === 'accuracyDrop')!;
  closeTo(drop.value, oracle.accuracy.drop, 1e-12, 'accuracy drop');
  closeTo(drop.interval!.lower, oracle.accuracy.interval[0], 1e-9, 'accuracy drop interval lower');
  closeTo(drop.interval!.upper, oracle.accuracy.interval[1], 1e-9, 'accuracy drop interval upper');

  const unlabelled = new EvaluationAccumulator({});
  const { labels: _labels, ...withoutLabels } = current;
  unlabelled.update(withoutLabels);
  const disagreement = unlabelled.result().metrics.find((m) => m.name === 'accuracyDrop')!;
  closeTo(disagreement.value, oracle.accuracy.disagreement, 1e-12, 'label-free drop');
  closeTo(
    disagreement.interval!.lower,
    oracle.accuracy.disagreementInterval[0],
    1e-9,
    'label-free interval lower',
  );
  closeTo(
    disagreement.interval!.upper,
    oracle.accuracy.disagreementInterval[1],
    1e-9,
    'label-free interval upper',
  );

  wilsonCases.forEach(([x, n], i) => {
    const ours = wilson(x!, n!, options.confidence);
    closeTo(ours.lower, oracle.wilsonCases[i]![0], 1e-9, `wilson ${x}/${n} lower`);
    closeTo(ours.upper, oracle.wilsonCases[i]![1], 1e-9, `wilson ${x}/${n} upper`);
  });
  closeTo(normalQuantile(0.975), oracle.normalQuantile975, 1e-8, 'normal quantile');
});

interface SignificanceAnswer {
  chiSquaredSurvival: number[];
  chiSquaredQuantile: number[];
  kolmogorovSurvival: number[];
  ks: Record<string, { statistic: number; scipyAsymp: number; stephens: number }>;
  exactPermutation: {
    psi: number;
    pValue: number;
    quantiles: Record<'0.93' | '0.95' | '0.97', number>;
    totalProbability: number;
  };
}

/** The penguins fixture as it is: reference.csv against current.jsonl, raw values. */
async function penguinsColumns(file: string): Promise<Record<string, number[] | string[]>> {
  const columns: Record<string, number[] | string[]> = {};
  for await (const batch of openTable(pathToFileURL(path.join(repoRoot, file)).href)) {
    for (const [name, column] of Object.entries(batch.columns)) {
      const values = column instanceof Float64Array ? [...column] : textValues(column);
      columns[name] = [...(columns[name] ?? []), ...values] as number[] | string[];
    }
  }
  return columns;
}

test('drift tests agree with scipy: chi-squared and Kolmogorov laws, KS p-values, the exact permutation p', async (t) => {
  // Degrees of freedom from one bin pair to a 10,000-category feature; tails down to 1e-300.
  const survivalCases: [number, number][] = [
    [0.001, 1],
    [3.841458820694124, 1],
    [16.918977604620448, 9],
    [11.2, 9],
    [40, 9],
    [300, 9],
    [1500, 9],
    [2.5, 2],
    [120, 30],
    [85, 99],
    [1100, 1000],
    [10300, 9999],
  ];
  const quantileCases: [number, number][] = [
    [0.5, 1],
    [0.95, 1],
    [0.95, 2],
    [0.95, 9],
    [0.99, 9],
    [0.999, 9],
    [0.95, 30],
    [0.9, 214],
    [0.95, 1000],
    [0.95, 9999],
  ];
  const lambdas = [0.2, 0.5, 0.8, 1, 1.17, 1.19, 1.36, 1.8, 3, 6];

  const reference = await penguinsColumns('test/fixtures/penguins/reference.csv');
  const current = await penguinsColumns('test/fixtures/penguins/current.jsonl');
  const numeric = ['Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)', 'Body Mass (g)'];
  const engine = new EvaluationAccumulator({});
  for (const [dataset, columns] of [
    ['reference', reference],
    ['current', current],
  ] as const) {
    const rows = columns.Island!.length;
    engine.update({
      dataset,
      rows,
      numericFeatures: Object.fromEntries(
        numeric.map((name) => [name, Float64Array.from(columns[name] as number[])]),
      ),
      categoricalFeatures: { Island: textColumn(columns.Island as string[]) },
      teacherScores: new Float32Array(rows),
      candidateScores: new Float32Array(rows),
      outputWidth: 1,
      slices: {},
    });
  }
  const drift = engine.result().details.drift;
  const options = engine.options;
  const oracle = askOracle({
    confidence: options.confidence,
    psiEpsilon: options.psiEpsilon,
    featureRelativeAccuracy: options.featureRelativeAccuracy,
    significance: {
      chiSquaredSurvival: survivalCases,
      chiSquaredQuantile: quantileCases,
      kolmogorovSurvival: lambdas,
      ks: Object.fromEntries(
        numeric.map((name) => [name, { reference: reference[name], current: current[name] }]),
      ),
      exactPermutation: { reference: reference.Island, current: current.Island },
    },
  }) as SignificanceAnswer;

  survivalCases.forEach(([x, dof], i) => {
    const theirs = oracle.chiSquaredSurvival[i]!;
    closeTo(chiSquaredSurvival(x, dof), theirs, 1e-10 * theirs + 1e-300, `chi2.sf(${x}, ${dof})`);
  });
  quantileCases.forEach(([p, dof], i) => {
    const theirs = oracle.chiSquaredQuantile[i]!;
    closeTo(chiSquaredQuantile(p, dof), theirs, 1e-10 * theirs, `chi2.ppf(${p}, ${dof})`);
  });
  lambdas.forEach((lambda, i) => {
    const theirs = oracle.kolmogorovSurvival[i]!;
    closeTo(kolmogorovSurvival(lambda), theirs, 1e-12 + 1e-10 * theirs, `kstwobign.sf(${lambda})`);
  });
  // The issue's example: 133 current against 200 reference rows in 10 bins.
  const band = (chiSquaredQuantile(0.95, 9) * (200 + 133)) / (200 * 133);
  closeTo(band, (oracle.chiSquaredQuantile[3]! * 333) / 26600, 1e-12, 'noise band 133 vs 200');
  assert.equal(band.toFixed(2), '0.21');

  for (const name of numeric) {
    const ours = drift.find((d) => d.feature === name)!;
    const theirs = oracle.ks[name]!;
    closeTo(ours.ks!, theirs.statistic, 1e-12, `${name} KS`);
    closeTo(ours.ksPValue!, theirs.stephens, 1e-9 * theirs.stephens, `${name} KS p (Stephens)`);
    closeTo(ours.ksPValue!, theirs.scipyAsymp, 0.03 * theirs.scipyAsymp, `${name} KS p vs ks_2samp asymp`);
  }

  t.diagnostic(
    `KS p (engine / scipy ks_2samp asymp): ${numeric.map((n) => `${n} ${drift.find((d) => d.feature === n)!.ksPValue!.toPrecision(4)} / ${oracle.ks[n]!.scipyAsymp.toPrecision(4)}`).join('; ')}`,
  );

  // Island: 3 categories and 333 rows, so every deal can be enumerated. The engine's Monte Carlo
  // p-value must sit within four standard errors of the exact one, its band between the exact
  // 93% and 97% quantiles.
  const island = drift.find((d) => d.feature === 'Island')!;
  const exact = oracle.exactPermutation;
  closeTo(exact.totalProbability, 1, 1e-9, 'the enumeration covers every deal');
  closeTo(island.psi, exact.psi, 1e-12, 'Island PSI');
  assert.equal(island.psiTest.method, 'permutation');
  const replicates = island.psiTest.replicates!;
  const standardError = Math.sqrt((exact.pValue * (1 - exact.pValue)) / replicates);
  t.diagnostic(
    `Island PSI ${island.psi.toPrecision(4)}: permutation p ${island.psiTest.pValue} (${replicates} deals), exact ${exact.pValue.toPrecision(4)}; band ${island.psiTest.noiseBand[1].toPrecision(4)}, exact 95% quantile ${exact.quantiles['0.95'].toPrecision(4)}`,
  );
  closeTo(
    island.psiTest.pValue,
    exact.pValue,
    4 * standardError + 1 / (replicates + 1),
    'Island permutation p',
  );
  const [, upper] = island.psiTest.noiseBand;
  assert.ok(
    upper >= exact.quantiles['0.93'] && upper <= exact.quantiles['0.97'],
    `Island noise band ${upper} vs exact quantiles ${JSON.stringify(exact.quantiles)}`,
  );
  // Holm over the evaluation's tests, as the drift details report it.
  const adjusted = holmAdjusted(drift.map((d) => d.psiTest.pValue));
  drift.forEach((d, i) => assert.equal(d.psiTest.adjustedPValue, adjusted[i], d.feature));
});

interface PairedAnswer {
  cases: Record<
    string,
    {
      table: [number, number, number, number];
      mcnemarP: number;
      negativeFlipRate: number;
      negativeFlipInterval: [number, number];
      positiveFlipRate: number;
      agreement: number;
      agreementInterval: [number, number];
    }
  >;
  tables: number[];
}

/** Every `every`-th row unlabelled (NaN), the way a partly labelled feed arrives. */
function withUnlabelled(batch: EvaluationBatch, every: number): EvaluationBatch {
  const labels = Float64Array.from(batch.labels!, (label, i) => (i % every === 0 ? NaN : label));
  return { ...batch, labels };
}

test('McNemar’s exact p-value, the flip rates and their Wilson intervals agree with statsmodels', (t) => {
  const cases: Record<string, EvaluationBatch> = {
    binary: withUnlabelled(
      syntheticBatch({ dataset: 'current', rows: 9000, seed: 12, labels: true, candidateNoise: 0.6 }),
      10,
    ),
    'three classes': withUnlabelled(threeClasses(), 7),
    // Few discordant rows (b = 7, c = 1), so the p-value is far from 0 and 1.
    small: syntheticBatch({ dataset: 'current', rows: 60, seed: 2, labels: true, candidateNoise: 0.5 }),
  };
  // [b, c]: from empty to a million discordant pairs.
  const tables: [number, number][] = [
    [0, 0],
    [5, 0],
    [7, 3],
    [1, 9],
    [25, 12],
    [60, 40],
    [300, 250],
    [2000, 1900],
    [50_000, 49_500],
    [500_000, 498_000],
  ];
  const confidence = 0.95;
  const oracle = askOracle({
    confidence,
    decisionThreshold: 0.5,
    paired: {
      cases: Object.fromEntries(Object.entries(cases).map(([name, batch]) => [name, scoresForPython(batch)])),
      tables,
    },
  }) as PairedAnswer;

  const lines: string[] = [];
  for (const [name, batch] of Object.entries(cases)) {
    const engine = new EvaluationAccumulator({ confidence });
    engine.update(batch);
    const report = engine.result();
    const theirs = oracle.cases[name]!;
    const drop = report.metrics.find((m) => m.name === 'accuracyDrop')!;
    const test = drop.tests!.values[0]!;
    assert.equal(test.method, 'mcnemar-exact');
    assert.deepEqual(
      [test.teacherOnlyCorrect, test.candidateOnlyCorrect],
      [theirs.table[1], theirs.table[2]],
      `${name}: discordant pairs`,
    );
    closeTo(test.pValue, theirs.mcnemarP, 1e-9 * theirs.mcnemarP + 1e-300, `${name}: McNemar p`);
    const flips = report.metrics.find((m) => m.name === 'negativeFlipRate')!;
    closeTo(flips.value, theirs.negativeFlipRate, 1e-15, `${name}: negative flip rate`);
    closeTo(flips.interval!.lower, theirs.negativeFlipInterval[0], 1e-9, `${name}: its interval, lower`);
    closeTo(flips.interval!.upper, theirs.negativeFlipInterval[1], 1e-9, `${name}: its interval, upper`);
    const facts = {
      positiveFlipRate: flips.facts!.positiveFlipRate as number,
      agreement: flips.facts!.agreement as number,
      agreementInterval: flips.facts!.agreementInterval as [number, number],
    };
    closeTo(facts.positiveFlipRate, theirs.positiveFlipRate, 1e-15, `${name}: positive flip rate`);
    closeTo(facts.agreement, theirs.agreement, 1e-15, `${name}: agreement`);
    closeTo(facts.agreementInterval[0]!, theirs.agreementInterval[0], 1e-9, `${name}: agreement, lower`);
    closeTo(facts.agreementInterval[1]!, theirs.agreementInterval[1], 1e-9, `${name}: agreement, upper`);
    lines.push(
      `${name}: table ${theirs.table.join('/')}, McNemar p ${test.pValue.toPrecision(10)} / ${theirs.mcnemarP.toPrecision(10)}, ` +
        `NFR ${flips.value.toFixed(6)} [${flips.interval!.lower.toFixed(6)}, ${flips.interval!.upper.toFixed(6)}] / ` +
        `[${theirs.negativeFlipInterval.map((x) => x.toFixed(6)).join(', ')}], agreement ${facts.agreement.toFixed(6)}`,
    );
  }
  let worst = 0;
  tables.forEach(([b, c], i) => {
    const theirs = oracle.tables[i]!;
    const ours = mcnemarExactPValue(b, c);
    closeTo(ours, theirs, 1e-9 * theirs + 1e-300, `McNemar p, b=${b}, c=${c}`);
    if (theirs > 0) worst = Math.max(worst, Math.abs(ours - theirs) / theirs);
  });
  lines.push(
    `McNemar p over ${tables.length} tables up to b + c = 998,000: largest relative difference ${worst.toExponential(2)}`,
  );
  for (const line of lines) t.diagnostic(line);
});

interface PerClassAnswer {
  rows: number[];
  teacherRecall: number[];
  candidateRecall: number[];
  teacherBrier: number;
  candidateBrier: number;
  teacherEce: number;
  candidateEce: number;
}

test('per-class recall drops agree with sklearn’s recall_score, Brier scores with brier_score_loss, ECE with numpy', async (t) => {
  // The penguins fixture's 333 rows with the real teacher's and pruned candidates' outputs
  // (softmax probabilities); the synthetic binary scores (one score per row, a tenth unlabelled);
  // three classes of unnormalised scores (read through a softmax).
  const pool = await penguinsPool();
  const all = Array.from({ length: pool.rows }, (_, i) => i);
  const penguins70 = poolBatch(pool, 'current', all);
  const features = new Float32Array(pool.rows * 7);
  const islands = ['Biscoe', 'Dream', 'Torgersen'];
  for (let i = 0; i < pool.rows; i++) {
    numericColumns.forEach((column, c) => (features[i * 7 + c] = pool.numeric[column]![i]!));
    features[i * 7 + 4 + islands.indexOf(pool.island[i]!)] = 1;
  }
  const pruned95 = await openModel(fileUri(fixtureManifest.penguins.models['pruned-95']), 'candidate');
  const penguins95 = { ...penguins70, candidateScores: await pruned95.predict(features, pool.rows) };
  await pruned95.close();
  const cases: Record<string, EvaluationBatch> = {
    'penguins, pruned-70': penguins70,
    'penguins, pruned-95': penguins95,
    'binary, one score': withUnlabelled(
      syntheticBatch({ dataset: 'current', rows: 9000, seed: 12, labels: true, candidateNoise: 0.6 }),
      10,
    ),
    'three classes, scores': threeClasses(),
  };
  const oracle = askOracle({
    decisionThreshold: 0.5,
    perClass: Object.fromEntries(
      Object.entries(cases).map(([name, batch]) => [name, scoresForPython(batch)]),
    ),
  }) as Record<string, PerClassAnswer>;

  for (const [name, batch] of Object.entries(cases)) {
    // minGroupCount 1: every class is tested, so every class's drop is there to compare.
    const engine = new EvaluationAccumulator({ minGroupCount: 1 });
    engine.update(batch);
    const report = engine.result();
    const theirs = oracle[name]!;
    const drops = report.metrics.find((m) => m.name === 'classRecallDrop')!;
    const tests = drops.tests!.values as PairedTest[];
    assert.deepEqual(
      tests.map((v) => [v.subject, v.samples]),
      theirs.rows.map((n, k) => [`class ${k}`, n]),
      `${name}: labelled rows per class`,
    );
    tests.forEach((v, k) =>
      closeTo(
        v.value,
        theirs.teacherRecall[k]! - theirs.candidateRecall[k]!,
        1e-12,
        `${name}: class ${k} recall drop`,
      ),
    );
    const worst = drops.facts!.worstClass as number;
    closeTo(
      drops.facts!.worstClassTeacherRecall as number,
      theirs.teacherRecall[worst]!,
      1e-12,
      `${name}: teacher recall`,
    );
    closeTo(
      drops.facts!.worstClassCandidateRecall as number,
      theirs.candidateRecall[worst]!,
      1e-12,
      `${name}: candidate recall`,
    );
    const calibration = report.metrics.find((m) => m.name === 'calibrationChange')!;
    const facts = calibration.facts as Record<string, number>;
    closeTo(facts.teacherBrier!, theirs.teacherBrier, 1e-12, `${name}: teacher Brier`);
    closeTo(facts.candidateBrier!, theirs.candidateBrier, 1e-12, `${name}: candidate Brier`);
    closeTo(facts.teacherEce!, theirs.teacherEce, 1e-12, `${name}: teacher ECE`);
    closeTo(facts.candidateEce!, theirs.candidateEce, 1e-12, `${name}: candidate ECE`);
    closeTo(calibration.value, theirs.candidateEce - theirs.teacherEce, 1e-12, `${name}: ECE change`);
    t.diagnostic(
      `${name}: recall drop per class ${tests.map((v) => v.value.toFixed(4)).join(' / ')} (sklearn ${theirs.teacherRecall.map((r, k) => (r - theirs.candidateRecall[k]!).toFixed(4)).join(' / ')}); ` +
        `ECE ${facts.teacherEce!.toFixed(6)} → ${facts.candidateEce!.toFixed(6)} (numpy ${theirs.teacherEce.toFixed(6)} → ${theirs.candidateEce.toFixed(6)}); ` +
        `Brier ${facts.teacherBrier!.toFixed(6)} → ${facts.candidateBrier!.toFixed(6)} (sklearn ${theirs.teacherBrier.toFixed(6)} → ${theirs.candidateBrier.toFixed(6)}); softmax rows ${facts.teacherSoftmaxRows} / ${facts.candidateSoftmaxRows}`,
    );
  }
});
