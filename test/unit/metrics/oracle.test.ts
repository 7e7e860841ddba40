import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { EvaluationAccumulator, type EvaluationBatch } from '../../../src/metrics/index.js';
import { normalQuantile, wilson } from '../../../src/metrics/intervals.js';
import { textValues } from '../../../src/metrics/text-column.js';
import { gaussian, seededRandom, syntheticBatch } from './synthetic-data.js';

/**
 * Cross-checks against numpy/scipy (test/oracle/reference_metrics.py) on the same raw data.
 * The venv is part of the test environment: when it is missing this fails, it does not skip.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const python = path.join(repoRoot, '.venv/bin/python');
const oracleScript = path.join(repoRoot, 'test/oracle/reference_metrics.py');

interface OracleAnswer {
  drift: Record<
    string,
    {
      referenceQuantiles: number[];
      psiOnEngineEdges: number;
      psiOnNumpyEdges: number;
      ks: number;
      ksBucketed: number;
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

function askOracle(request: unknown): OracleAnswer {
  assert.ok(
    existsSync(python),
    `${python} is missing: create it with python3 -m venv .venv && .venv/bin/pip install -r test/oracle/requirements.txt`,
  );
  const run = spawnSync(python, [oracleScript], {
    input: JSON.stringify(request),
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  assert.equal(run.status, 0, `oracle failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as OracleAnswer;
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
  const oracle = askOracle({
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
