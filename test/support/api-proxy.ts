import net from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * A TCP proxy on 127.0.0.1 in front of the API server, to take the server away from the clients
 * that use it and no one else: `refuse()` closes the port and drops every connection (the server
 * is down), `stall()` keeps connections open but forwards nothing and answers no new one (the
 * server hangs, as a SIGSTOPped kube-apiserver does), `resume()` forwards again. TLS passes
 * through untouched (the serving certificate names 127.0.0.1, whatever the port).
 */
export class ApiProxy {
  private readonly pairs = new Set<{ client: net.Socket; upstream?: net.Socket }>();
  private readonly server = net.createServer((client) => this.accept(client));
  private state: 'forwarding' | 'stalled' | 'refusing' = 'forwarding';
  /** Connections accepted so far. */
  connections = 0;

  private constructor(
    private readonly target: { host: string; port: number },
    readonly port: number,
  ) {}

  /** Starts a proxy to the server of `kc`'s current cluster. */
  static async start(kc: KubeConfig): Promise<ApiProxy> {
    const url = new URL(kc.getCurrentCluster()!.server);
    const probe = net.createServer();
    const port = await new Promise<number>((resolve) =>
      probe.listen(0, '127.0.0.1', () => resolve((probe.address() as net.AddressInfo).port)),
    );
    await new Promise((resolve) => probe.close(resolve));
    const proxy = new ApiProxy({ host: url.hostname, port: Number(url.port) }, port);
    await proxy.listen();
    return proxy;
  }

  /** A copy of `kc` (same user and CA) whose current cluster is reached through this proxy. */
  kubeConfig(kc: KubeConfig): KubeConfig {
    return kubeConfigThrough(kc, this.port);
  }

  /** The server is down: the port refuses connections and every open one is reset. */
  async refuse(): Promise<void> {
    this.state = 'refusing';
    // close() waits for open connections to end, so they are dropped before it is awaited.
    const closed = new Promise((resolve) => this.server.close(resolve));
    for (const pair of this.pairs) this.drop(pair);
    await closed;
  }

  /** The server hangs: open connections carry nothing more, new ones are accepted and left waiting. */
  stall(): void {
    this.state = 'stalled';
    for (const { client, upstream } of this.pairs) {
      client.unpipe();
      upstream?.unpipe();
      client.pause();
      upstream?.pause();
    }
  }

  /** The server is back: waiting and new connections are forwarded again. */
  async resume(): Promise<void> {
    if (this.state === 'forwarding') return;
    const wasRefusing = this.state === 'refusing';
    this.state = 'forwarding';
    if (wasRefusing) await this.listen();
    for (const pair of this.pairs) this.forward(pair);
  }

  close(): Promise<void> {
    return this.refuse();
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  private accept(client: net.Socket): void {
    this.connections++;
    const pair: { client: net.Socket; upstream?: net.Socket } = { client };
    this.pairs.add(pair);
    client.on('error', () => this.drop(pair));
    client.on('close', () => this.drop(pair));
    if (this.state === 'refusing') return this.drop(pair);
    client.pause();
    if (this.state === 'forwarding') this.forward(pair);
  }

  private forward(pair: { client: net.Socket; upstream?: net.Socket }): void {
    if (!pair.upstream) {
      const upstream = net.connect(this.target);
      pair.upstream = upstream;
      upstream.on('error', () => this.drop(pair));
      upstream.on('close', () => this.drop(pair));
    }
    pair.client.pipe(pair.upstream);
    pair.upstream.pipe(pair.client);
    pair.client.resume();
    pair.upstream.resume();
  }

  private drop(pair: { client: net.Socket; upstream?: net.Socket }): void {
    if (!this.pairs.delete(pair)) return;
    pair.client.destroy();
    pair.upstream?.destroy();
  }
}

/** A copy of `kc` (same user and CA) whose current cluster is reached at 127.0.0.1:`port`. */
export function kubeConfigThrough(kc: KubeConfig, port: number): KubeConfig {
  const current = kc.getCurrentCluster()!;
  const copy = new KubeConfig();
  copy.loadFromOptions({
    clusters: kc.clusters.map((c) =>
      c.name === current.name ? { ...c, server: `https://127.0.0.1:${port}` } : c,
    ),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.getCurrentContext(),
  });
  return copy;
}
