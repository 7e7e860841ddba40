import type { MetricResult, PairedTest } from './metric-result.js';
import type { EvaluationOptions } from './options.js';
import { holmAdjusted } from './significance.js';
import { shortPercent } from './percent.js';

/**
 * The slices' accuracyDrop seen together, beside the overall one: the worst slice that has at
 * least `minGroupCount` rows, with its interval, and how many slices the candidate significantly
 * hurts once McNemar's p-values are Holm-adjusted over those slices. Each slice is still graded on
 * its own (as Fairlearn's MetricFrame reports each group); this says whether one of many slices
 * looking bad is more than what many tries give by chance.
 */
export interface WorstSlice {
  slice: string;
  drop: MetricResult;
  /** Slices with enough rows and a McNemar test (labelled classification). */
  tested: number;
  /** Of those, slices whose drop is > 0 and significant after Holm's correction over them. */
  hurt: number;
}

export function worstSlice(
  slices: readonly { slice: string; samples: number; metrics: readonly MetricResult[] }[],
  options: Pick<EvaluationOptions, 'minGroupCount' | 'confidence'>,
): WorstSlice | undefined {
  const drops = slices.flatMap(({ slice, samples, metrics }) => {
    const drop = metrics.find((metric) => metric.name === 'accuracyDrop');
    return drop && samples >= options.minGroupCount ? [{ slice, drop }] : [];
  });
  if (drops.length === 0) return undefined;
  let worst = drops[0]!;
  for (const entry of drops) if (entry.drop.value > worst.drop.value) worst = entry;
  const tested = drops.flatMap(({ drop }) => {
    const test = drop.tests?.values[0] as PairedTest | undefined;
    return test?.method === 'mcnemar-exact' ? [{ value: drop.value, pValue: test.pValue }] : [];
  });
  const adjusted = holmAdjusted(tested.map((test) => test.pValue));
  const alpha = 1 - options.confidence;
  const hurt = tested.filter((test, i) => test.value > 0 && adjusted[i]! <= alpha).length;
  return { slice: worst.slice, drop: worst.drop, tested: tested.length, hurt };
}

/** The summary as the overall accuracyDrop shows it: words for its detail, numbers for its facts. */
export function describeWorstSlice(summary: WorstSlice): {
  detail: string;
  facts: Record<string, number | [number, number]>;
} {
  const { slice, drop, tested, hurt } = summary;
  const interval = drop.interval
    ? ` [${shortPercent(drop.interval.lower)}, ${shortPercent(drop.interval.upper)}]`
    : '';
  return {
    detail: `slices: worst ${slice} ${shortPercent(drop.value)}${interval}, ${hurt} of ${tested} significantly hurt (McNemar, Holm over them)`,
    facts: {
      worstSliceDrop: drop.value,
      ...(drop.interval ? { worstSliceInterval: [drop.interval.lower, drop.interval.upper] } : {}),
      slicesTested: tested,
      slicesHurt: hurt,
    },
  };
}
