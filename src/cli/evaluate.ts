import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import yaml from 'js-yaml';

import type {
  LiveMetricResult,
  MetricResult,
  PrunedModelEvaluation,
  SliceResult,
  Verdict,
} from '../api/v1alpha1/index.js';
import { evaluationDeadline } from '../evaluator/deadline.js';
import type { Progress, ShardResult } from '../evaluator/pipeline.js';
import { formatValue, type GradedRun } from '../grading/index.js';
import { combineVerdict, formatLive, withLive } from '../live/grade.js';
import type { PrometheusCredentials } from '../live/prometheus.js';
import { shortPercent } from '../metrics/percent.js';
import { createLogger } from '../telemetry/logger.js';

export const verdictExitCodes: Record<Verdict, number> = {
  Pass: 0,
  Warning: 3,
  Critical: 4,
  Inconclusive: 5,
};

const usage = `usage: pruneguard evaluate -f <evaluation.yaml> [--output table|json|yaml] [--shards N]

Runs a PrunedModelEvaluation on local files (file:// URIs, relative to the manifest's directory
unless absolute; https://, http:// and s3:// work too, s3:// with spec.s3 and the credentials in
AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, anonymous without) and prints what the operator would
write to its status. With spec.live, the live metrics are read from its Prometheus over the window
that ends when the offline grades are in, and graded beside them as the operator does (a bearer
token from PRUNEGUARD_PROMETHEUS_TOKEN, an extra CA from PRUNEGUARD_PROMETHEUS_CA_FILE).

  -f, --file      the manifest (YAML; the first document of kind PrunedModelEvaluation)
  -o, --output    table (default, for people), json or yaml (for programs; logs go to stderr)
      --shards N  split the data into N shards and merge them as the operator does (default 1)
  -h, --help      this text

Measurements take a few seconds (200 latency requests per model, 2 s of load);
PRUNEGUARD_MEASUREMENT=quick makes them a fraction of a second. The manifest's
runtime.timeoutSeconds (default 1800) bounds the whole run, every shard together; a source that
does not connect within 10 s or sends nothing for 30 s fails at once.

exit codes: 0 Pass, 3 Warning, 4 Critical, 5 Inconclusive,
            1 error (invalid manifest, unreadable or mismatched model, missing data or column,
              a source that stalls, runtime.timeoutSeconds passed),
            2 usage`;

type OutputFormat = 'table' | 'json' | 'yaml';

/** `pruneguard evaluate`: returns the exit code (see `usage`). */
export async function runEvaluate(argv: string[]): Promise<number> {
  const startedAt = Date.now();
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        file: { type: 'string', short: 'f' },
        output: { type: 'string', short: 'o', default: 'table' },
        shards: { type: 'string', default: '1' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    console.error(`pruneguard evaluate: ${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  const { values } = parsed;
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const output = values.output as OutputFormat;
  const shards = Number(values.shards);
  const problem = !values.file
    ? 'missing -f <evaluation.yaml>'
    : !['table', 'json', 'yaml'].includes(output)
      ? `--output must be table, json or yaml, got '${output}'`
      : !(Number.isInteger(shards) && shards >= 1 && shards <= 32)
        ? `--shards must be an integer from 1 to 32, got '${values.shards}'`
        : undefined;
  if (problem || !values.file) {
    console.error(`pruneguard evaluate: ${problem}\n\n${usage}`);
    return 2;
  }

  const log = createLogger({
    name: 'pruneguard-evaluate',
    destination: 2,
    level: process.env.PRUNEGUARD_LOG_LEVEL ?? 'warn',
  });
  const progress = process.stderr.isTTY ? new ProgressLine() : undefined;
  try {
    // Loaded after the arguments are checked: schemas, readers and onnxruntime take a second to import.
    const [
      { loadEvaluationManifest },
      { evaluateShard },
      { gradeEvaluation },
      { decodeShardState, encodeShardState },
      { summarize },
      { evaluateLive },
      { localEgressDefaults },
    ] = await Promise.all([
      import('../evaluator/manifest.js'),
      import('../evaluator/pipeline.js'),
      import('../grading/status.js'),
      import('../evaluator/shard-state.js'),
      import('../api/v1alpha1/summary.js'),
      import('../live/evaluate-live.js'),
      import('../security/egress.js'),
    ]);
    const evaluation = await loadEvaluationManifest(values.file);
    // One deadline for the whole run, as the Job has for all its pods.
    const deadline = evaluationDeadline(evaluation.spec.runtime.timeoutSeconds, startedAt);
    const results: ShardResult[] = [];
    for (let shardIndex = 0; shardIndex < shards; shardIndex++) {
      results.push(
        await evaluateShard(evaluation.spec, {
          shardIndex,
          shardCount: shards,
          log,
          deadline,
          ...(progress ? { onProgress: (p: Progress) => progress.show(p, shardIndex, shards) } : {}),
        }),
      );
    }
    progress?.clear();
    // Shards travel through the same encoding as in the cluster, so --shards exercises the real merge.
    const [first, ...rest] = results.map((result) =>
      shards === 1 ? result.accumulator : decodeShardState(encodeShardState(result.accumulator)),
    );
    for (const other of rest) first!.merge(other);
    const offline = gradeEvaluation(first!, evaluation.spec);
    const live = evaluation.spec.live
      ? await evaluateLive(evaluation.spec.live, prometheusCredentials(), localEgressDefaults, new Date())
      : undefined;
    const graded = { ...offline, graded: withLive(offline.graded, live) };
    const report = statusReport(evaluation, graded, results, summarize, live);
    process.stdout.write(
      output === 'json'
        ? JSON.stringify(report, null, 2) + '\n'
        : output === 'yaml'
          ? yaml.dump(report, { noRefs: true, lineWidth: 120 })
          : table(report, graded),
    );
    return verdictExitCodes[graded.graded.verdict];
  } catch (error) {
    progress?.clear();
    console.error(`pruneguard evaluate: ${(error as Error).message}`);
    return 1;
  } finally {
    log.flush();
  }
}

export interface EvaluationStatusReport {
  apiVersion: string;
  kind: 'PrunedModelEvaluation';
  metadata: { name: string; namespace: string };
  status: {
    verdict: Verdict;
    explanation: string;
    samples: number;
    referenceSamples: number;
    executionProvider: string;
    powerMethod: string;
    summary: Record<string, string>;
    metrics: MetricResult[];
    slices: SliceResult[];
    live?: LiveMetricResult[];
    liveVerdict?: Verdict;
  };
  /** Beside the status, which has no room for them: the inputs behind the values (docs/metrics.md). */
  details: GradedRun['details'];
}

function statusReport(
  evaluation: PrunedModelEvaluation,
  graded: GradedRun,
  results: ShardResult[],
  summarize: (metrics: MetricResult[]) => object,
  live: LiveMetricResult[] | undefined,
): EvaluationStatusReport {
  const liveVerdict = live && combineVerdict(undefined, live).verdict;
  return {
    apiVersion: evaluation.apiVersion,
    kind: 'PrunedModelEvaluation',
    metadata: { name: evaluation.metadata.name ?? '', namespace: evaluation.metadata.namespace ?? 'default' },
    status: {
      verdict: graded.graded.verdict,
      explanation: graded.graded.explanation,
      samples: graded.samples,
      referenceSamples: results.reduce((sum, r) => sum + r.rows.reference, 0),
      executionProvider: [...new Set(results.map((r) => r.executionProvider))].join(','),
      powerMethod: [...new Set(results.map((r) => r.powerMethod))].join(','),
      summary: summarize(graded.metrics) as Record<string, string>,
      metrics: graded.metrics,
      slices: graded.slices,
      ...(live ? { live } : {}),
      ...(liveVerdict ? { liveVerdict } : {}),
    },
    details: graded.details,
  };
}

function table(report: EvaluationStatusReport, graded: GradedRun): string {
  const { status, metadata } = report;
  const lines = [
    `${metadata.namespace}/${metadata.name}: ${status.verdict}`,
    `  ${status.explanation}`,
    `  ${status.samples} current rows, ${status.referenceSamples} reference rows; ${status.executionProvider}; power: ${status.powerMethod}`,
    '',
  ];
  const interval = (metric: MetricResult) =>
    metric.interval
      ? `[${formatValue(metric.name, metric.interval[0]!)}, ${formatValue(metric.name, metric.interval[1]!)}]`
      : '';
  lines.push(
    ...columns([
      ['METRIC', 'VALUE', 'GRADE', 'TARGET', 'WARNING', 'INTERVAL', 'SAMPLES', 'NOTE'],
      ...status.metrics.map((m) => [
        m.name,
        formatValue(m.name, m.value),
        m.grade,
        formatValue(m.name, m.target),
        formatValue(m.name, m.warning),
        interval(m),
        String(m.samples),
        noteOf(m),
      ]),
    ]),
  );
  if (status.live) {
    lines.push(
      '',
      ...columns([
        ['LIVE METRIC', 'CANARY', 'BASELINE', 'CHANGE', 'P', 'GRADE', 'POINTS', 'NOTE'],
        ...status.live.map((m) => [
          m.name,
          m.value === undefined ? '' : formatLive(m.value, m.unit),
          m.baseline === undefined ? '' : formatLive(m.baseline, m.unit),
          m.relativeChange === undefined
            ? ''
            : `${m.relativeChange > 0 ? '+' : ''}${shortPercent(m.relativeChange)}`,
          m.pValue === undefined ? '' : String(Number(m.pValue.toPrecision(2))),
          m.grade,
          `${m.samples.canary}/${m.samples.baseline}`,
          m.reason ?? '',
        ]),
      ]),
    );
  }
  const disabled = graded.graded.disabled;
  if (disabled.length > 0) lines.push('', ...disabled.map((d) => `  not computed: ${d.name} (${d.reason})`));
  if (status.slices.length > 0) {
    lines.push(
      '',
      ...columns([
        ['SLICE', 'SAMPLES', 'METRIC', 'VALUE', 'GRADE', 'INTERVAL'],
        ...status.slices.flatMap((slice) =>
          slice.metrics.map((m, i) => [
            i === 0 ? slice.slice : '',
            i === 0 ? String(slice.samples) : '',
            m.name,
            formatValue(m.name, m.value),
            m.grade,
            interval(m),
          ]),
        ),
      ]),
    );
  }
  return lines.join('\n') + '\n';
}

function noteOf(metric: MetricResult): string {
  const detail = metric.detail as { note?: string; reason?: string } | undefined;
  return [detail?.note, detail?.reason].filter(Boolean).join('; ');
}

function columns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  return rows.map((row) =>
    row
      .map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
}

/** One rewritten line on a terminal's stderr; never used when stderr is a pipe or file. */
class ProgressLine {
  private rows: Record<string, number> = {};
  private phase = '';
  private shownAt = 0;

  show(progress: Progress, shard: number, shards: number): void {
    if (progress.phase === 'reference' || progress.phase === 'current')
      this.rows[progress.phase] = progress.rows;
    // A redraw per batch could be thousands a second; a new phase always shows.
    const now = Date.now();
    if (progress.phase === this.phase && now - this.shownAt < 100) return;
    this.phase = progress.phase;
    this.shownAt = now;
    const counts = Object.entries(this.rows)
      .map(([dataset, rows]) => `${dataset} ${rows.toLocaleString('en')} rows`)
      .join(', ');
    const phase =
      progress.phase === 'loading'
        ? 'loading models'
        : progress.phase === 'measuring'
          ? 'measuring latency, throughput, power'
          : 'evaluating';
    const where = shards > 1 ? `shard ${shard + 1}/${shards} ` : '';
    process.stderr.write(`\r\x1b[K${where}${phase}${counts ? `: ${counts}` : ''}`);
    if (progress.phase === 'measuring') this.rows = {};
  }

  clear(): void {
    process.stderr.write('\r\x1b[K');
  }
}

/** spec.live.prometheus.credentialsSecret's parts, for a run on your machine: from the environment. */
function prometheusCredentials(): PrometheusCredentials | undefined {
  const token = process.env.PRUNEGUARD_PROMETHEUS_TOKEN || undefined;
  const caFile = process.env.PRUNEGUARD_PROMETHEUS_CA_FILE || undefined;
  if (token === undefined && caFile === undefined) return undefined;
  return { ...(token ? { token } : {}), ...(caFile ? { ca: readFileSync(caFile, 'utf8') } : {}) };
}
