import {
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ListPromise,
  type ObjectCache,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';

export interface ResourceEvents<T> {
  onChange(object: T): void;
  onDelete(object: T): void;
}

/**
 * A list-watch cache of one resource type. client-node re-lists by itself when the watch expires
 * (410 Gone) and re-watches when the server closes it; on any other error the informer stops, so
 * this restarts it with backoff. A re-list reports deletions that happened while disconnected,
 * so no event is lost, only coalesced: handlers are level-triggered.
 */
export class ResourceInformer<T extends object> {
  // client-node's informer types want KubernetesObject; TypeBox-derived types are structurally the same JSON.
  private readonly informer: Informer<KubernetesObject> & ObjectCache<KubernetesObject>;
  private restartDelayMs = 500;
  private stopped = false;
  private restartTimer?: NodeJS.Timeout;

  constructor(
    kc: KubeConfig,
    readonly path: string,
    list: ListPromise<KubernetesObject>,
    events: ResourceEvents<T>,
    private readonly log: Logger,
    labelSelector?: string,
  ) {
    this.informer = makeInformer(kc, path, list, labelSelector);
    this.informer.on('add', (o) => events.onChange(o as T));
    this.informer.on('update', (o) => events.onChange(o as T));
    this.informer.on('delete', (o) => events.onDelete(o as T));
    this.informer.on('connect', () => {
      this.restartDelayMs = 500;
    });
    this.informer.on('error', (error: unknown) => this.restart(error));
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.informer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.informer.stop();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace) as T | undefined;
  }

  list(namespace?: string): readonly T[] {
    return this.informer.list(namespace) as readonly KubernetesObject[] as readonly T[];
  }

  private restart(error: unknown): void {
    if (this.stopped) return;
    const delay = this.restartDelayMs;
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, 30_000);
    this.log.warn({ resource: this.path, err: error, retryInMs: delay }, 'watch failed; restarting');
    this.restartTimer = setTimeout(() => {
      this.informer.start().catch((e: unknown) => this.restart(e));
    }, delay);
    this.restartTimer.unref();
  }
}
