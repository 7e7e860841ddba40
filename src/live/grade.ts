/**
 * Grades one spec.live metric from the canary's and the baseline's points in the window, and
 * combines the live grades with the offline verdict. Pure: the points come from src/live/evaluate-live.ts.
 *
 * A breach counts only when the data supports it, by the same rules as the offline metrics
 * (src/grading/grade.ts): too few points is Inconclusive; an absolute band is graded on the
 * canary's median and its distribution-free interval, so a breach whose interval reaches back
 * across the edge is Inconclusive; a relative breach (canary worse than the baseline by more than
 * maxRelativeChange) counts only when the one-sided Mann–Whitney test says the canary is worse.
 *
 * The points of a window are not independent (neighbouring points of a rate share most of their
 * samples), so the test's p-value is smaller than it should be; the same holds for Kayenta, whose
 * approach this follows. minSamples and a step near the rate's range keep that in check.
 */
import type { LiveDirection, LiveMetric } from '../api/v1alpha1/live.js';
import type { LiveMetricResult, Verdict } from '../api/v1alpha1/status.js';
import type { GradedReport } from '../grading/grade-report.js';
import { band, gradeSeverity, intervalDoubt, pText, type Grade } from '../grading/grade.js';
import { medianRankInterval } from '../metrics/intervals.js';
import { hodgesLehmannShift, mannWhitneyU } from '../metrics/mann-whitney.js';
import { shortPercent } from '../metrics/percent.js';

export interface LiveSettings {
  /** As written in spec.live.window, for messages. */
  window: string;
  minSamples: number;
  confidence: number;
}

/** One entry per step of the window; NaN where the variant had no value (no point, NaN or ±Inf). */
export interface LiveSeries {
  canary: readonly number[];
  /** Absent when the metric has no baseline query. */
  baseline?: readonly number[];
}

interface Part {
  grade: Grade;
  /** What breached, for the detail: "median 212 ms > 200 ms". */
  breach?: string;
  reason?: string;
}

export function gradeLive(metric: LiveMetric, series: LiveSeries, settings: LiveSettings): LiveMetricResult {
  const canary = series.canary.filter(Number.isFinite).sort((a, b) => a - b);
  const baseline = series.baseline?.filter(Number.isFinite).sort((a, b) => a - b);
  const result = resultOf(metric, { canary: canary.length, baseline: baseline?.length ?? 0 });
  const missing = {
    canary: series.canary.length - canary.length,
    baseline: (series.baseline?.length ?? 0) - (baseline?.length ?? 0),
  };
  if (missing.canary > 0 || missing.baseline > 0) result.missing = missing;
  const show = (value: number) => formatLive(value, metric.unit);
  const facts: string[] = [];
  if (canary.length > 0) {
    result.value = median(canary);
    facts.push(`canary median ${show(result.value)} over ${canary.length} points`);
  }
  if (baseline && baseline.length > 0) {
    result.baseline = median(baseline);
    facts.push(`baseline median ${show(result.baseline)} over ${baseline.length} points`);
  }

  const tooFew = (variant: 'canary' | 'baseline', count: number) =>
    `only ${count} ${variant} point${count === 1 ? '' : 's'} with a value in the ${settings.window} window, fewer than the ${settings.minSamples} needed`;
  if (canary.length < settings.minSamples) {
    return finish(result, [{ grade: 'Inconclusive', reason: tooFew('canary', canary.length) }], facts);
  }

  const parts: Part[] = [];
  if (metric.target !== undefined && metric.warning !== undefined) {
    parts.push(absolutePart(metric, canary, settings.confidence, result, show));
  }
  if (baseline) {
    if (baseline.length < settings.minSamples) {
      if (metric.maxRelativeChange)
        parts.push({ grade: 'Inconclusive', reason: tooFew('baseline', baseline.length) });
    } else {
      parts.push(relativePart(metric, canary, baseline, settings.confidence, result, facts));
    }
  }
  return finish(result, parts, facts);
}

/** A metric whose points could not be read (Prometheus out of reach, a refused query): Inconclusive. */
export function unreadLive(metric: LiveMetric, reason: string): LiveMetricResult {
  return {
    ...resultOf(metric, { canary: 0, baseline: 0 }),
    grade: 'Inconclusive',
    reason,
    detail: 'no points read',
  };
}

function resultOf(metric: LiveMetric, samples: LiveMetricResult['samples']): LiveMetricResult {
  const result: LiveMetricResult = {
    name: metric.name,
    grade: 'Pass',
    samples,
    detail: '',
    decides: metric.enabled,
  };
  if (metric.unit !== undefined) result.unit = metric.unit;
  if (metric.target !== undefined && metric.warning !== undefined) {
    result.target = metric.target;
    result.warning = metric.warning;
  }
  return result;
}

/** The median against target and warning, doubted when its interval reaches back across the edge. */
function absolutePart(
  metric: LiveMetric,
  canary: number[],
  confidence: number,
  result: LiveMetricResult,
  show: (value: number) => string,
): Part {
  const threshold = { target: metric.target!, warning: metric.warning! };
  const value = result.value!;
  const point = band(value, threshold, metric.direction, true);
  const ranks = medianRankInterval(canary.length, confidence);
  const [lower, upper] = ranks ? [canary[ranks.lower]!, canary[ranks.upper]!] : [-Infinity, Infinity];
  if (ranks) result.interval = [lower, upper];
  if (point === 'Pass') return { grade: 'Pass' };
  const worse = metric.direction === 'lowerIsBetter' ? '>' : '<';
  const edge = point === 'Critical' ? threshold.warning : threshold.target;
  const breach = `median ${show(value)} ${worse} ${show(edge)}`;
  if (!ranks) {
    const percent = shortPercent(confidence);
    return {
      grade: 'Inconclusive',
      reason: `${breach}, but ${canary.length} points are too few for a ${percent} interval of the median`,
    };
  }
  const betterEnd = metric.direction === 'lowerIsBetter' ? lower : upper;
  const doubt = intervalDoubt(point, band(betterEnd, threshold, metric.direction, true), confidence);
  if (doubt)
    return { grade: 'Inconclusive', reason: `${breach}, but ${doubt} [${show(lower)}, ${show(upper)}]` };
  return { grade: point, breach };
}

/**
 * The Hodges–Lehmann shift over the baseline's median, against maxRelativeChange; a breach counts
 * when the one-sided Mann–Whitney test finds the canary worse at `confidence`.
 */
function relativePart(
  metric: LiveMetric,
  canary: number[],
  baseline: number[],
  confidence: number,
  result: LiveMetricResult,
  facts: string[],
): Part {
  const test = mannWhitneyU(canary, baseline, metric.direction === 'lowerIsBetter' ? 'greater' : 'less');
  result.pValue = test.pValue;
  const shift = hodgesLehmannShift(canary, baseline);
  const change = shift === 0 ? 0 : shift / Math.abs(result.baseline!);
  if (Number.isFinite(change)) result.relativeChange = change;
  const changeText = Number.isFinite(change)
    ? signedPercent(change)
    : `${shift > 0 ? '+' : '-'}∞ (the baseline median is 0)`;
  facts.push(`${changeText} vs baseline (Hodges–Lehmann), Mann–Whitney ${pText(test.pValue)}`);
  if (!metric.maxRelativeChange) return { grade: 'Pass' };
  const { target, warning } = metric.maxRelativeChange;
  const point = band(worsening(change, metric.direction), { target, warning }, 'lowerIsBetter', true);
  if (point === 'Pass') return { grade: 'Pass' };
  const limit = point === 'Critical' ? warning : target;
  const breach = `${changeText} vs baseline, worse by more than ${shortPercent(limit)}`;
  if (test.pValue > 1 - confidence)
    return {
      grade: 'Inconclusive',
      reason: `${metric.name} ${changeText} vs baseline but Mann–Whitney ${pText(test.pValue)}: may be chance`,
    };
  return { grade: point, breach };
}

/** How much worse a relative change is: positive when the canary is worse, whichever way that is. */
function worsening(change: number, direction: LiveDirection): number {
  return direction === 'lowerIsBetter' ? change : -change;
}

/** The metric's grade is the worse of its parts; Inconclusive ones say why. */
function finish(result: LiveMetricResult, parts: Part[], facts: string[]): LiveMetricResult {
  let grade: Grade = 'Pass';
  for (const part of parts) if (gradeSeverity[part.grade] > gradeSeverity[grade]) grade = part.grade;
  result.grade = grade;
  const reasons = parts
    .filter((part) => part.grade === 'Inconclusive' && part.reason)
    .map((part) => part.reason!);
  if (grade === 'Inconclusive') result.reason = reasons.join('; ');
  const breaches = parts.filter((part) => part.grade === grade && part.breach).map((part) => part.breach!);
  result.detail = [...breaches, ...facts].join('; ') || 'no canary points';
  return result;
}

/**
 * The verdict with the live metrics: the worst grade among the offline verdict and the live
 * metrics that decide. Inconclusive ranks below Warning and Critical (gradeSeverity), so
 * Prometheus out of reach holds a rollout but never rolls it back, and never hides an offline
 * Critical. `decidedBy` is the live metric that made the verdict worse than the offline one, for
 * the explanation (`describeLive`); undefined when the offline verdict stands.
 */
export function combineVerdict(
  offline: Verdict | undefined,
  live: readonly LiveMetricResult[],
): { verdict: Verdict | undefined; decidedBy?: LiveMetricResult } {
  let verdict = offline;
  let decidedBy: LiveMetricResult | undefined;
  for (const metric of live) {
    if (!metric.decides) continue;
    if (verdict === undefined || gradeSeverity[metric.grade] > gradeSeverity[verdict]) {
      verdict = metric.grade;
      decidedBy = metric;
    }
  }
  return decidedBy ? { verdict, decidedBy } : { verdict };
}

/**
 * The offline grades with the live ones, as the operator writes them and `pruneguard evaluate`
 * prints them: the worse verdict (`combineVerdict`), explained by what made it worse.
 */
export function withLive(graded: GradedReport, live: readonly LiveMetricResult[] | undefined): GradedReport {
  if (!live) return graded;
  const { verdict, decidedBy } = combineVerdict(graded.verdict, live);
  if (!decidedBy || verdict === undefined) return graded;
  const offline = graded.verdict === 'Pass' ? '' : `; offline ${graded.verdict}: ${graded.explanation}`;
  return { ...graded, verdict, explanation: `${describeLive(decidedBy)}${offline}` };
}

/** "live p95LatencyMs critical: +32% vs baseline, worse by more than 25%; canary median …" */
export function describeLive(metric: LiveMetricResult): string {
  if (metric.grade === 'Inconclusive')
    return `live ${metric.name} inconclusive: ${metric.reason ?? metric.detail}`;
  if (metric.grade === 'Pass') return `live ${metric.name} passes: ${metric.detail}`;
  return `live ${metric.name} ${metric.grade.toLowerCase()}: ${metric.detail}`;
}

function median(sorted: readonly number[]): number {
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Three significant digits, whole numbers from 100 up: "212 ms", "0.0123", "1.5 %". */
export function formatLive(value: number, unit?: string): string {
  const number = Math.abs(value) >= 100 ? value.toFixed(0) : String(Number(value.toPrecision(3)));
  return unit === undefined ? number : `${number} ${unit}`;
}

function signedPercent(change: number): string {
  return `${change > 0 ? '+' : ''}${shortPercent(change)}`;
}
