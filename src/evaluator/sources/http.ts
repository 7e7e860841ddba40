import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type net from 'node:net';
import { rootCertificates } from 'node:tls';

import {
  EgressRefusedError,
  guardedRequest,
  redactUri,
  redirectError,
  type EgressPolicy,
} from '../../security/egress.js';
import { deadlineMessage } from '../deadline.js';
import { seconds, sourceTimeouts, type Source, type SourceOptions, type SourceTimeouts } from './source.js';

/**
 * `https://` (and `http://`, for in-cluster services and tests) through node's own client, so an
 * extra CA (a private registry, a test certificate) can be trusted with PRUNEGUARD_HTTPS_CA_FILE
 * on top of the public roots. Random reads use Range requests. Every request is checked against
 * the egress policy when it connects (a name that resolves to a refused address is stopped there),
 * and a redirect is an error: following it would go where the policy never looked. Every request
 * runs under the connect and idle timeouts and the evaluation's deadline (`SourceOptions`).
 */
export function httpSource(uri: string, policy: EgressPolicy, options: SourceOptions = {}): Source {
  const url = new URL(uri);
  const shown = redactUri(uri);
  const limits = sourceTimeouts(options);
  const caFile = process.env.PRUNEGUARD_HTTPS_CA_FILE;
  const ca =
    caFile && url.protocol === 'https:' ? [...rootCertificates, readFileSync(caFile, 'utf8')] : undefined;

  /** Resolves once a 2xx response's headers are in; its body is read through `Exchange.body`. */
  const request = (method: string, headers: Record<string, string> = {}): Promise<Exchange> =>
    new Promise((resolve, reject) => {
      const exchange = new Exchange(shown, limits, options.deadline);
      const onResponse = (response: http.IncomingMessage) => {
        exchange.responded(response);
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve(exchange);
        exchange.close();
        if (status >= 300 && status < 400) return reject(redirectError(uri, response));
        reject(new Error(`${shown}: HTTP ${status} ${response.statusMessage ?? ''}`.trim()));
      };
      let req: http.ClientRequest;
      try {
        req = guardedRequest(policy, url, { method, headers, ...(ca ? { ca } : {}) }, onResponse);
      } catch (error) {
        return reject(error);
      }
      exchange.watch(req, url.protocol === 'https:');
      req.on('error', (error) => {
        exchange.close();
        if (error === exchange.failure) return reject(error);
        const Failure = error instanceof EgressRefusedError ? EgressRefusedError : Error;
        reject(new Failure(`${shown}: ${error.message}`, { cause: error }));
      });
      req.end();
    });

  return {
    uri,
    async size() {
      const exchange = await request('HEAD');
      exchange.close();
      const length = Number(exchange.response!.headers['content-length']);
      if (!Number.isFinite(length)) throw new Error(`${shown}: server did not send Content-Length`);
      return length;
    },
    async *stream() {
      yield* (await request('GET')).body();
    },
    async read(start, end) {
      const exchange = await request('GET', { range: `bytes=${start}-${end - 1}` });
      const chunks: Buffer[] = [];
      for await (const chunk of exchange.body()) chunks.push(chunk);
      const body = Buffer.concat(chunks);
      // A server that ignores Range sends the whole file with 200.
      return exchange.response!.statusCode === 206 ? body : body.subarray(start, end);
    },
  };
}

type Stage = 'connecting' | 'handshaking' | 'waiting' | 'body';

/**
 * One request's clock. Connecting (name lookup, TCP, TLS) has `connectMs`; then every wait for
 * bytes, the response's head and each chunk of its body, has `idleMs`, armed only while the
 * reader waits, so a slow consumer never looks like a slow server; the deadline holds
 * throughout. Whichever fires destroys the request with `failure`, a message naming the URI, the
 * limit and how far the exchange got.
 */
class Exchange {
  response?: http.IncomingMessage;
  failure?: Error;
  private request?: http.ClientRequest;
  private stage: Stage = 'connecting';
  private bytes = 0;
  private timer?: NodeJS.Timeout;
  private readonly onDeadline = () => this.stop(`${deadlineMessage(this.deadline!)} (${this.progress()})`);

  constructor(
    private readonly uri: string,
    private readonly limits: SourceTimeouts,
    private readonly deadline: AbortSignal | undefined,
  ) {}

  /** Starts the clocks on a request that has not connected yet. */
  watch(request: http.ClientRequest, tls: boolean): void {
    this.request = request;
    this.arm(this.limits.connectMs);
    request.once('socket', (socket: net.Socket) => {
      socket.once('connect', () => {
        if (tls) this.stage = 'handshaking';
        else this.connected();
      });
      if (tls) socket.once('secureConnect', () => this.connected());
    });
    if (this.deadline?.aborted) queueMicrotask(this.onDeadline);
    else this.deadline?.addEventListener('abort', this.onDeadline, { once: true });
  }

  responded(response: http.IncomingMessage): void {
    this.response = response;
    this.stage = 'body';
    clearTimeout(this.timer);
  }

  /** The body, each wait for a chunk on the idle clock; errors name the URI. */
  async *body(): AsyncGenerator<Buffer> {
    const chunks = this.response![Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    try {
      for (;;) {
        this.arm(this.limits.idleMs);
        const next = await chunks.next();
        clearTimeout(this.timer);
        if (next.done) return;
        this.bytes += next.value.length;
        yield next.value;
      }
    } catch (error) {
      throw this.failure ?? new Error(`${this.uri}: ${(error as Error).message}`, { cause: error });
    } finally {
      this.close();
    }
  }

  /** Stops the clocks and lets go of the connection (a body not read to the end is dropped). */
  close(): void {
    this.stopClocks();
    if (this.response && !this.response.complete) this.response.destroy();
  }

  private connected(): void {
    this.stage = 'waiting';
    this.arm(this.limits.idleMs);
  }

  private arm(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.stop(this.stalled()), ms);
  }

  private stalled(): string {
    const { connectMs, idleMs } = this.limits;
    switch (this.stage) {
      case 'connecting':
        return `not connected within ${seconds(connectMs)}`;
      case 'handshaking':
        return `TLS handshake not finished within ${seconds(connectMs)} (TCP connect ok)`;
      case 'waiting':
        return `no response within ${seconds(idleMs)} (connect ok)`;
      case 'body':
        return `no data within ${seconds(idleMs)} (${this.progress()})`;
    }
  }

  private progress(): string {
    switch (this.stage) {
      case 'connecting':
        return 'not connected yet';
      case 'handshaking':
        return 'TCP connect ok, TLS handshake unfinished';
      case 'waiting':
        return 'connect ok, no response yet';
      case 'body':
        return `response ok, ${this.bytes} bytes received`;
    }
  }

  private stopClocks(): void {
    clearTimeout(this.timer);
    this.deadline?.removeEventListener('abort', this.onDeadline);
  }

  private stop(why: string): void {
    if (this.failure) return;
    this.failure = new Error(`${this.uri}: ${why}`);
    this.stopClocks();
    (this.response ?? this.request)?.destroy(this.failure);
  }
}
