import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { rootCertificates } from 'node:tls';

import {
  EgressRefusedError,
  guardedRequest,
  redirectError,
  type EgressPolicy,
} from '../../security/egress.js';
import type { Source } from './source.js';

/**
 * `https://` (and `http://`, for in-cluster services and tests) through node's own client, so an
 * extra CA (a private registry, a test certificate) can be trusted with PRUNEGUARD_HTTPS_CA_FILE
 * on top of the public roots. Random reads use Range requests. Every request is checked against
 * the egress policy when it connects (a name that resolves to a refused address is stopped there),
 * and a redirect is an error: following it would go where the policy never looked.
 */
export function httpSource(uri: string, policy: EgressPolicy): Source {
  const url = new URL(uri);
  const caFile = process.env.PRUNEGUARD_HTTPS_CA_FILE;
  const ca =
    caFile && url.protocol === 'https:' ? [...rootCertificates, readFileSync(caFile, 'utf8')] : undefined;

  const request = (method: string, headers: Record<string, string> = {}): Promise<http.IncomingMessage> =>
    new Promise((resolve, reject) => {
      const onResponse = (response: http.IncomingMessage) => {
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve(response);
        response.resume();
        if (status >= 300 && status < 400) return reject(redirectError(uri, response));
        reject(new Error(`${uri}: HTTP ${status} ${response.statusMessage ?? ''}`.trim()));
      };
      let req: http.ClientRequest;
      try {
        req = guardedRequest(policy, url, { method, headers, ...(ca ? { ca } : {}) }, onResponse);
      } catch (error) {
        return reject(error);
      }
      req.on('error', (error) => {
        const Failure = error instanceof EgressRefusedError ? EgressRefusedError : Error;
        reject(new Failure(`${uri}: ${error.message}`, { cause: error }));
      });
      req.end();
    });

  return {
    uri,
    async size() {
      const response = await request('HEAD');
      response.resume();
      const length = Number(response.headers['content-length']);
      if (!Number.isFinite(length)) throw new Error(`${uri}: server did not send Content-Length`);
      return length;
    },
    async *stream() {
      yield* (await request('GET')) as AsyncIterable<Buffer>;
    },
    async read(start, end) {
      const response = await request('GET', { range: `bytes=${start}-${end - 1}` });
      const chunks: Buffer[] = [];
      for await (const chunk of response) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      // A server that ignores Range sends the whole file with 200.
      return response.statusCode === 206 ? body : body.subarray(start, end);
    },
  };
}
