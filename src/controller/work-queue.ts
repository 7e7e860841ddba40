/**
 * A rate-limited work queue with client-go's semantics: a key is queued at most once, is never
 * handed to two workers at the same time, and a key added while it is being processed is queued
 * again when that processing is done. Failed keys come back with per-key exponential backoff.
 */
export interface BackoffOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * The longest delay Node's timers take (2^31 − 1 ms, 24.8 days). A longer one fires after 1 ms
 * with a TimeoutOverflowWarning: an evaluation due in a month would be reconciled ~800 times a
 * second until then.
 */
export const maxTimerDelayMs = 2 ** 31 - 1;

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;

  constructor(private readonly backoff: BackoffOptions = { baseDelayMs: 5, maxDelayMs: 300_000 }) {}

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
    } else {
      this.queue.push(key);
    }
  }

  /** Adds the key after `delayMs`; an earlier pending schedule for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = Date.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    this.arm(key, at);
  }

  /**
   * Waits for `at` in steps of at most `maxTimerDelayMs`, re-arming until the key is due. Steps
   * rather than a clamp: a clamp would hand the key out early, and although a level-triggered
   * reconcile would only compute the remaining time and requeue, every caller of addAfter would
   * have to know that "after delayMs" means "after at most 24.8 days".
   */
  private arm(key: string, at: number): void {
    const remaining = at - Date.now();
    const step = Math.min(remaining, maxTimerDelayMs);
    const timer = setTimeout(() => {
      if (step < remaining) return this.arm(key, at);
      this.delayed.delete(key);
      this.add(key);
    }, step);
    this.delayed.set(key, { at, timer });
  }

  /** Re-queues a failed key after base × 2^failures, capped. */
  addRateLimited(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    const delay = Math.min(this.backoff.baseDelayMs * 2 ** failures, this.backoff.maxDelayMs);
    this.addAfter(key, delay);
    return delay;
  }

  /** Forgets a key's failure history after it succeeded. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  failureCount(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to process, or undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  get length(): number {
    return this.queue.length;
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }
}
