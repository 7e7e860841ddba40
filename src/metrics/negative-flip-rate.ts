import type { PairedTable } from './accuracy-drop.js';
import { wilson } from './intervals.js';
import type { MetricOutcome } from './metric-result.js';
import type { EvaluationOptions } from './options.js';

/**
 * negativeFlipRate on the current dataset: the share of labelled rows the teacher gets right and
 * the candidate gets wrong, b/n in accuracyDrop's paired table, with a Wilson interval. The term
 * is Yan et al.'s (CVPR 2021, "Positive-Congruent Training"). accuracyDrop is (b − c)/n, so a
 * candidate can keep its accuracy while breaking rows the teacher served well, as long as it
 * repairs as many others (c, the positive flips); this metric sees those regressions.
 *
 * It rests on accuracyDrop's counts (`PairedTable`), so it adds nothing to a shard's state and
 * any state that carries accuracyDrop's table, older ones included, gives it.
 */
export function negativeFlipRate(table: PairedTable | undefined, options: EvaluationOptions): MetricOutcome {
  const name = 'negativeFlipRate';
  if (table === undefined) return { disabled: { name, reason: 'regression has no classes to flip' } };
  if (table.rows === 0) return { disabled: { name, reason: 'no current rows' } };
  if (table.labelled === 0) return { disabled: { name, reason: 'no labels' } };
  const { confidence } = options;
  const n = table.labelled;
  const negative = table.teacherOnlyCorrect;
  const positive = table.candidateOnlyCorrect;
  const agreement = wilson(table.agreements, table.rows, confidence);
  const positiveInterval = wilson(positive, n, confidence);
  return {
    computed: {
      name,
      value: negative / n,
      samples: n,
      interval: wilson(negative, n, confidence),
      detail: `teacher right, candidate wrong on ${negative} of ${n} labelled rows, the reverse on ${positive}; the two agree on ${table.agreements} of ${table.rows} rows`,
      facts: {
        negativeFlips: negative,
        positiveFlips: positive,
        positiveFlipRate: positive / n,
        positiveFlipRateInterval: [positiveInterval.lower, positiveInterval.upper],
        // Over every current row, labelled or not: how often the two models give the same class.
        agreement: table.agreements / table.rows,
        agreementInterval: [agreement.lower, agreement.upper],
      },
    },
  };
}
