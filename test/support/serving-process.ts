/**
 * A model server's metrics without the model: the child process test/support/serving.ts starts.
 * It generates its own traffic, per variant (stable, canary) at a set rate with latencies drawn
 * (seeded) from a log-normal distribution of a set median and spread, and records each request as
 * a real server would, with prom-client, on GET /metrics. POST /variants/<variant> with
 * {"ratePerSecond", "medianMs", "sigma"} changes a variant while it runs.
 * Usage: node --import tsx serving-process.ts <port> '<{"stable": {...}, "canary": {...}}>'
 */
import http from 'node:http';
import { Counter, Histogram, Registry } from 'prom-client';
import { gaussian, seededRandom } from '../../scripts/fixtures/random.js';

export const variants = ['stable', 'canary'] as const;
export type Variant = (typeof variants)[number];

export interface Traffic {
  ratePerSecond: number;
  medianMs: number;
  /** σ of ln(latency): 0.2 is a tight server, 0.6 a noisy one. */
  sigma: number;
}

const registry = new Registry();
const duration = new Histogram({
  name: 'inference_request_duration_seconds',
  help: 'Time to answer one inference request.',
  labelNames: ['variant'],
  buckets: [0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 1],
  registers: [registry],
});
const requests = new Counter({
  name: 'inference_requests_total',
  help: 'Inference requests answered.',
  labelNames: ['variant'],
  registers: [registry],
});

const [port, config] = process.argv.slice(2);
const traffic = JSON.parse(config ?? '{}') as Record<Variant, Traffic>;
const random = seededRandom(Number(port));
const owed: Record<Variant, number> = { stable: 0, canary: 0 };
const tickMs = 100;

setInterval(() => {
  for (const variant of variants) {
    const { ratePerSecond, medianMs, sigma } = traffic[variant];
    owed[variant] += (ratePerSecond * tickMs) / 1000;
    for (; owed[variant] >= 1; owed[variant]--) {
      duration.observe({ variant }, (medianMs / 1000) * Math.exp(sigma * gaussian(random)));
      requests.inc({ variant });
    }
  }
}, tickMs);

http
  .createServer((request, response) => {
    const variant = /^\/variants\/(stable|canary)$/.exec(request.url ?? '')?.[1] as Variant | undefined;
    if (request.method === 'GET' && request.url === '/metrics') {
      void registry.metrics().then((text) => {
        response.writeHead(200, { 'content-type': registry.contentType });
        response.end(text);
      });
    } else if (request.method === 'POST' && variant) {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        traffic[variant] = { ...traffic[variant], ...(JSON.parse(body) as Partial<Traffic>) };
        response.end();
      });
    } else {
      response.writeHead(404).end();
    }
  })
  .listen(Number(port), '127.0.0.1');
