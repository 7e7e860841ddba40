import { readFile } from 'node:fs/promises';
import https from 'node:https';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeConfigThrough } from './api-proxy.js';
import type { LocalControlPlane } from './controlplane.js';

/** One request a client sent through the proxy: a watch counts once, when it opens. */
export interface CountedRequest {
  /** performance.now() when the request arrived. */
  at: number;
  method: string;
  /** The path without its query: `/apis/batch/v1/namespaces/a/jobs`. */
  path: string;
  watch: boolean;
  /** Milliseconds until the API server's response headers came back (undefined until they do). */
  ms?: number;
}

/**
 * An HTTPS proxy on 127.0.0.1 in front of the API server that counts the requests of the one
 * client sent through it (ApiProxy passes TLS through and so sees connections, not requests). It
 * terminates TLS with the API server's own serving certificate, which names 127.0.0.1, so the
 * client's kubeconfig needs nothing but the port changed; requests go upstream with their own
 * credentials (a bearer token: client certificates do not cross a terminating proxy).
 */
export class CountingProxy {
  private constructor(
    private readonly server: https.Server,
    readonly port: number,
    readonly requests: readonly CountedRequest[],
    private readonly sockets: Set<net.Socket>,
  ) {}

  static async start(plane: LocalControlPlane): Promise<CountingProxy> {
    const read = (name: string) => readFile(`${plane.workDir}/${name}`);
    const [cert, key, ca] = await Promise.all([read('serving.crt'), read('serving.key'), read('ca.crt')]);
    const upstream = new URL(plane.server);
    // Upstream connections are reused, so the proxy adds no handshake of its own to a request.
    const agent = new https.Agent({ ca, keepAlive: true, maxSockets: 256 });
    const requests: CountedRequest[] = [];
    const sockets = new Set<net.Socket>();
    const server = https.createServer({ cert, key }, (req, res) => {
      const path = req.url ?? '/';
      const query = new URLSearchParams(path.split('?')[1] ?? '');
      const counted: CountedRequest = {
        at: performance.now(),
        method: req.method ?? 'GET',
        path: path.split('?')[0]!,
        watch: query.get('watch') === 'true' || query.get('watch') === '1',
      };
      requests.push(counted);
      const forwarded = https.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path,
          headers: req.headers,
          agent,
        },
        (answer) => {
          counted.ms = performance.now() - counted.at;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          // A watch's headers come before its first event, and its client waits for them.
          res.flushHeaders();
          answer.pipe(res);
        },
      );
      forwarded.on('error', (error) => {
        if (!res.headersSent) res.writeHead(502);
        res.end(error.message);
      });
      res.on('close', () => forwarded.destroy());
      req.pipe(forwarded);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    server.on('connection', (socket: net.Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    return new CountingProxy(server, (server.address() as net.AddressInfo).port, requests, sockets);
  }

  /** A copy of `kc` (same user and CA) whose current cluster is reached through this proxy. */
  kubeConfig(kc: KubeConfig): KubeConfig {
    return kubeConfigThrough(kc, this.port);
  }

  /** The requests that arrived in [from, to) (performance.now() times). */
  between(from: number, to = Infinity): CountedRequest[] {
    return this.requests.filter((r) => r.at >= from && r.at < to);
  }

  async close(): Promise<void> {
    const closed = new Promise((resolve) => this.server.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}

/** `verb resource` of a request, as the API server's audit log would name it (`create jobs`, `patch prunedmodelevaluations/status`). */
export function requestKind(request: CountedRequest): string {
  const parts = request.path.split('/').filter(Boolean);
  // /api/v1/... or /apis/<group>/<version>/...
  const rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  const namespaced = rest[0] === 'namespaces' && rest.length > 2;
  const [resource, name, subresource] = namespaced ? rest.slice(2) : rest;
  const verb = request.watch
    ? 'watch'
    : request.method === 'GET'
      ? name
        ? 'get'
        : 'list'
      : request.method === 'POST'
        ? 'create'
        : request.method === 'PATCH'
          ? 'patch'
          : request.method === 'PUT'
            ? 'update'
            : request.method === 'DELETE'
              ? name
                ? 'delete'
                : 'deletecollection'
              : request.method.toLowerCase();
  return `${verb} ${resource ?? request.path}${subresource ? `/${subresource}` : ''}`;
}
