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

export interface BackoffOptions {
  initialMs: number;
  capMs: number;
  factor: number;
  /** Each delay is its base plus up to `jitter` times the base, at random. */
  jitter: number;
  /** A failure this long after the previous one starts again from `initialMs`. */
  resetAfterMs: number;
}

/**
 * client-go's reflector restarts list/watch with exactly this backoff (tools/cache/reflector.go,
 * `NewReflectorWithOptions`: `wait.NewExponentialBackoffManager(800*time.Millisecond,
 * 30*time.Second, 2*time.Minute, 2.0, 1.0, reflectorClock)`): with the server down it settles at
 * one attempt every 30–60 s, and after two minutes without a failure it counts the server as
 * healthy again.
 */
export const listWatchBackoff: BackoffOptions = {
  initialMs: 800,
  capMs: 30_000,
  factor: 2,
  jitter: 1,
  resetAfterMs: 120_000,
};

/**
 * Exponential backoff with jitter, a cap and a reset, as apimachinery's
 * `exponentialBackoffManagerImpl` with `Backoff.Step` (pkg/util/wait/backoff.go): the delay is the
 * base plus up to `jitter` × base at random; the base grows by `factor` until it would pass the
 * cap, and stays at the cap; a call more than `resetAfterMs` after the previous one starts from
 * the initial base. The clock and the random source are injected so the sequence can be tested.
 */
export class Backoff {
  private baseMs: number;
  private lastAt: number;

  constructor(
    private readonly options: BackoffOptions = listWatchBackoff,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {
    this.baseMs = options.initialMs;
    this.lastAt = now();
  }

  /** The delay before the next attempt, after a failure now. */
  next(): number {
    const { initialMs, capMs, factor, jitter, resetAfterMs } = this.options;
    const now = this.now();
    if (now - this.lastAt > resetAfterMs) this.baseMs = initialMs;
    this.lastAt = now;
    const base = this.baseMs;
    this.baseMs = Math.min(base * factor, capMs);
    return base + this.random() * jitter * base;
  }
}

/**
 * A list-watch cache of one resource type. client-node re-lists by itself when the watch expires
 * (410 Gone) and re-watches when the server closes it; on any other error it stops, and this
 * restarts it after a `Backoff` (client-go's reflector's). A re-list reports deletions that
 * happened while disconnected, so no event is lost, only coalesced: handlers are level-triggered.
 */
export class ResourceInformer<T extends object> {
  // client-node's informer types want KubernetesObject; TypeBox-derived types are structurally the same JSON.
  private readonly informer: Informer<KubernetesObject> & ObjectCache<KubernetesObject>;
  private stopped = true;
  private synced = false;
  private readonly syncWaiters = new Set<(synced: boolean) => void>();
  private failures = 0;
  private failuresInARow = 0;
  private restartTimer?: NodeJS.Timeout;

  constructor(
    kc: KubeConfig,
    readonly path: string,
    list: ListPromise<KubernetesObject>,
    events: ResourceEvents<T>,
    private readonly log: Logger,
    labelSelector?: string,
    private readonly backoff = new Backoff(),
  ) {
    this.informer = makeInformer(kc, path, list, labelSelector);
    this.informer.on('add', (o) => events.onChange(o as T));
    this.informer.on('update', (o) => events.onChange(o as T));
    this.informer.on('delete', (o) => events.onDelete(o as T));
    // Not 'connect' to reset the backoff: client-node emits it before every list, failed or
    // not, so the delay stayed at its first value (119 restarts a minute with the server down).
    this.informer.on('error', (error: unknown) => this.failed(error));
  }

  /**
   * Lists and watches, retrying with backoff; resolves `true` once the cache holds a complete
   * list (client-go's `WaitForCacheSync`), `false` if `stop()` is called or `signal` aborts first.
   */
  start(signal?: AbortSignal): Promise<boolean> {
    this.stopped = false;
    void this.listAndWatch();
    return new Promise((resolve) => {
      if (this.synced) return resolve(true);
      const done = (synced: boolean) => {
        this.syncWaiters.delete(done);
        signal?.removeEventListener('abort', aborted);
        resolve(synced);
      };
      const aborted = () => done(false);
      if (signal?.aborted) return resolve(false);
      signal?.addEventListener('abort', aborted, { once: true });
      this.syncWaiters.add(done);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.synced = false;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    for (const waiter of [...this.syncWaiters]) waiter(false);
    await this.informer.stop();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace) as T | undefined;
  }

  list(namespace?: string): readonly T[] {
    return this.informer.list(namespace) as readonly KubernetesObject[] as readonly T[];
  }

  private async listAndWatch(): Promise<void> {
    const failuresBefore = this.failures;
    try {
      // Resolves once the list is in the cache and the watch is open, or after reporting an error.
      await this.informer.start();
    } catch (error) {
      this.failed(error);
      return;
    }
    // client-node opens the watch after its list even when stop() came during the list: close it.
    if (this.stopped) return this.informer.stop();
    if (this.failures !== failuresBefore) return;
    if (this.failuresInARow > 0)
      this.log.info({ resource: this.path, failures: this.failuresInARow }, 'watch restored');
    this.failuresInARow = 0;
    this.synced = true;
    for (const waiter of [...this.syncWaiters]) waiter(true);
  }

  private failed(error: unknown): void {
    this.failures++;
    if (this.stopped) return;
    this.failuresInARow++;
    // One restart at a time: an error reported while one is pending changes nothing.
    if (this.restartTimer !== undefined) return;
    const delay = this.backoff.next();
    this.log.warn(
      { resource: this.path, err: error, retryInMs: Math.round(delay) },
      'watch failed; restarting',
    );
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopped) void this.listAndWatch();
    }, delay);
    this.restartTimer.unref();
  }
}
