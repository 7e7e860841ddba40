/**
 * Reads one series over a time range from Prometheus's HTTP API (GET /api/v1/query_range), under
 * the operator's egress policy like every other outbound request. Connection errors, timeouts,
 * 5xx and 429 are retried with exponential backoff; a 4xx (a query Prometheus refuses) is not,
 * since asking again gets the same answer. Messages name the address and what was asked, never
 * the token.
 */
import { EgressRefusedError, checkUri, egressRequest, type EgressPolicy } from '../security/egress.js';

/** From spec.live.prometheus.credentialsSecret, read by the caller: each part optional. */
export interface PrometheusCredentials {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** PEM: the CA Prometheus's certificate is checked against. */
  ca?: string;
  /** PEM client certificate and key, for mTLS. */
  cert?: string;
  key?: string;
}

/** Where each credential is in spec.live.prometheus.credentialsSecret. */
export const prometheusCredentialKeys = {
  token: 'token',
  ca: 'ca.crt',
  cert: 'tls.crt',
  key: 'tls.key',
} as const satisfies Record<keyof PrometheusCredentials, string>;

export interface PrometheusOptions {
  address: string;
  timeoutSeconds: number;
  credentials?: PrometheusCredentials | undefined;
  /** Waits before the second, third… attempt; the attempts are one more than its length. */
  retryDelaysMs?: readonly number[];
}

/** Three attempts: 0.5 s, then 1 s apart. */
export const defaultRetryDelaysMs: readonly number[] = [500, 1000];

/** A matrix of 11,000 points (Prometheus's most per series) with long label sets fits easily. */
const maxAnswerBytes = 8 * 1024 * 1024;

export interface Range {
  /** Unix seconds. */
  start: number;
  end: number;
  stepSeconds: number;
}

export class PrometheusError extends Error {
  override readonly name = 'PrometheusError';
}

/** An answer worth asking for again: the server or the way to it failed, not the question. */
class Transient extends PrometheusError {}

export class PrometheusClient {
  private readonly address: string;

  constructor(
    private readonly options: PrometheusOptions,
    private readonly policy: EgressPolicy,
  ) {
    this.address = options.address.replace(/\/+$/, '');
  }

  /**
   * The values of `query`'s one series at start, start + step, … up to end, NaN where it had no
   * point or a NaN or infinite value (histogram_quantile over no requests). A query with no series
   * gives all NaN; one with several is an error, since which of them is the canary's is unknowable.
   * `what` names the query in messages, e.g. "p95LatencyMs canary query".
   */
  async queryRange(query: string, range: Range, what: string): Promise<number[]> {
    const refused = checkUri(this.policy, this.address, 'spec.live.prometheus.address');
    if (refused) throw new PrometheusError(refused);
    const url = new URL(`${this.address}/api/v1/query_range`);
    url.search = new URLSearchParams({
      query,
      start: String(range.start),
      end: String(range.end),
      step: String(range.stepSeconds),
    }).toString();
    const answer = await this.withRetries(() => this.get(url.href, what));
    return pointsOf(answer, range, this.fail(what));
  }

  private async withRetries<T>(attempt: () => Promise<T>): Promise<T> {
    const delays = this.options.retryDelaysMs ?? defaultRetryDelaysMs;
    for (let i = 0; ; i++) {
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof Transient) || i >= delays.length) throw error;
        await new Promise((resolve) => setTimeout(resolve, delays[i]));
      }
    }
  }

  private async get(url: string, what: string): Promise<unknown> {
    const { token, ca, cert, key } = this.options.credentials ?? {};
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const tls = { ...(ca && { ca }), ...(cert && { cert }), ...(key && { key }) };
    let response;
    try {
      response = await egressRequest(this.policy, url, {
        headers,
        tls,
        timeoutMs: this.options.timeoutSeconds * 1000,
        maxResponseBytes: maxAnswerBytes,
      });
    } catch (error) {
      // egressRequest's message names the whole query URL; the cause says what went wrong.
      const cause =
        (error as Error).cause instanceof Error ? ((error as Error).cause as Error) : (error as Error);
      if (error instanceof EgressRefusedError) throw new PrometheusError(this.message(error.message));
      throw new Transient(this.message(cause.message));
    }
    if (response.truncated)
      throw new PrometheusError(
        this.message(
          `the answer to the ${what} exceeds ${maxAnswerBytes / 1024 / 1024} MiB; lengthen spec.live.step or shorten the window`,
        ),
      );
    const body = parseJson(response.body);
    if (response.status >= 200 && response.status < 300) return body;
    const error = errorText(body) ?? `HTTP ${response.status} ${response.statusText}`.trim();
    const failure = `${what}: ${error}`;
    if (response.status >= 500 || response.status === 429) throw new Transient(this.message(failure));
    throw new PrometheusError(this.message(failure));
  }

  private message(text: string): string {
    return `Prometheus ${this.address}: ${text}`;
  }

  private fail(what: string): (text: string) => never {
    return (text) => {
      throw new PrometheusError(this.message(`${what} ${text}`));
    };
  }
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** Prometheus's own words for a refused query: "bad_data: 1:5: parse error: …". */
function errorText(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { errorType, error } = body as { errorType?: unknown; error?: unknown };
  if (typeof error !== 'string') return undefined;
  return typeof errorType === 'string' ? `${errorType}: ${error}` : error;
}

function pointsOf(answer: unknown, range: Range, fail: (text: string) => never): number[] {
  const data = (answer as { data?: { resultType?: unknown; result?: unknown } } | undefined)?.data;
  if (data?.resultType !== 'matrix' || !Array.isArray(data.result))
    fail(`did not answer with a matrix (resultType ${JSON.stringify(data?.resultType)})`);
  const series = data.result as { metric?: Record<string, string>; values?: unknown }[];
  if (series.length > 1)
    fail(`returned ${series.length} series; aggregate it to one, e.g. with sum or histogram_quantile`);
  const steps = Math.floor((range.end - range.start) / range.stepSeconds + 1e-9) + 1;
  const points = Array.from({ length: steps }, () => NaN);
  const values = series[0]?.values;
  if (values === undefined) return points;
  if (!Array.isArray(values)) fail('answered a series without values');
  for (const pair of values as unknown[]) {
    if (!Array.isArray(pair) || typeof pair[0] !== 'number' || typeof pair[1] !== 'string')
      fail(`answered a point that is not [time, "value"]: ${JSON.stringify(pair).slice(0, 80)}`);
    const [time, text] = pair as [number, string];
    const index = Math.round((time - range.start) / range.stepSeconds);
    // Prometheus writes ±Inf as "+Inf"/"-Inf", which Number() reads as NaN: both are dropped alike.
    if (index >= 0 && index < steps) points[index] = Number(text);
  }
  return points;
}
