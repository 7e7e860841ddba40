import { abortingOn, fieldManager } from '../actuators/kubernetes.js';
import { type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';

export interface LeaderElectionOptions {
  namespace: string;
  leaseName: string;
  identity: string;
  /** How long a standby waits, having seen the lease unchanged, before it takes over. */
  leaseDurationSeconds: number;
  /** How long the leader keeps leading without a successful renewal; below the lease duration. */
  renewDeadlineMs: number;
  /** How often the leader renews, and a standby tries to acquire. */
  retryPeriodMs: number;
}

/** client-go's defaults ("Core clients default this value to 15/10/2 seconds"). */
export const defaultLeaderElection = {
  leaseDurationSeconds: 15,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

/** The reason a leader's signal aborts when it could not renew: it must stop acting at once. */
export class LeadershipLost extends Error {
  override readonly name = 'LeadershipLost';
}

/**
 * Leader election on a coordination.k8s.io Lease, like client-go's: the holder renews every
 * retry period; others take over only after they have seen the same record unchanged for a full
 * lease duration (measured on their own clock, so clock skew between replicas does not matter).
 * Updates carry the resourceVersion, so two candidates can never both win.
 *
 * The leader steps down when it has not renewed within the renew deadline, counted from when it
 * sent the last renewal that succeeded (the server wrote it later, and a standby starts counting
 * later still). Every request is aborted at that deadline, so a hung one can neither keep the
 * leader leading nor renew the lease after it stepped down; with renewDeadline < leaseDuration,
 * the leader has stopped before any standby can take over.
 */
export class LeaderElector {
  private observed?: { record: string; holder: string; at: number };

  constructor(
    private readonly api: CoordinationV1Api,
    private readonly options: LeaderElectionOptions,
    private readonly log: Logger,
  ) {
    const { leaseDurationSeconds, renewDeadlineMs, retryPeriodMs } = options;
    // client-go's NewLeaderElector checks, with its JitterFactor of 1.2.
    if (!(retryPeriodMs > 0 && renewDeadlineMs > 1.2 * retryPeriodMs))
      throw new Error(
        `leader election: renewDeadline ${renewDeadlineMs} ms must exceed 1.2 × retryPeriod ${retryPeriodMs} ms`,
      );
    if (!(leaseDurationSeconds * 1000 > renewDeadlineMs))
      throw new Error(
        `leader election: leaseDuration ${leaseDurationSeconds} s must exceed renewDeadline ${renewDeadlineMs} ms`,
      );
  }

  /**
   * Waits for leadership, then runs `lead` with a signal that aborts when `stop` aborts or
   * leadership is lost (its reason then a `LeadershipLost`). On a stop, waits for `lead` to
   * finish and releases the lease so a successor need not wait. On a loss, rejects with the
   * `LeadershipLost` at once, as client-go's `Run` returns: what `lead` still has running must
   * not hold up the report.
   */
  async run(stop: AbortSignal, lead: (leading: AbortSignal) => Promise<void>): Promise<void> {
    const acquiredAt = await this.acquire(stop);
    if (acquiredAt === undefined) return;
    this.log.info({ lease: this.options.leaseName, identity: this.options.identity }, 'became leader');

    const leading = new AbortController();
    const onStop = () => leading.abort(stop.reason);
    if (stop.aborted) onStop();
    else stop.addEventListener('abort', onStop, { once: true });
    const renewing = this.keepRenewing(leading, acquiredAt);
    const led = lead(leading.signal);
    try {
      await Promise.race([led, aborted(leading.signal)]);
      if (leading.signal.reason instanceof LeadershipLost) {
        led.catch((error: unknown) =>
          this.log.warn({ err: error }, 'controllers failed while stepping down'),
        );
        throw leading.signal.reason;
      }
      await led;
    } finally {
      leading.abort();
      stop.removeEventListener('abort', onStop);
      await renewing;
      if (stop.aborted && !(leading.signal.reason instanceof LeadershipLost)) await this.release();
    }
  }

  /** Tries every retry period until it holds the lease; when it got it (performance.now()), or undefined if stopped. */
  private async acquire(stop: AbortSignal): Promise<number | undefined> {
    while (!stop.aborted) {
      const sentAt = performance.now();
      const attempt = timeout(this.options.renewDeadlineMs, stop);
      const acquired = await this.tryAcquireOrRenew(attempt.signal)
        .catch((error: unknown) => this.retryLater(error, stop))
        .finally(attempt.clear);
      if (acquired) return sentAt;
      await sleep(this.options.retryPeriodMs, stop);
    }
    return undefined;
  }

  /**
   * Renews every retry period until `leading` aborts; aborts it with `LeadershipLost` when the
   * renew deadline passes without a renewal (a timer, so a hung request cannot delay it), or at
   * once when the lease names another holder.
   */
  private async keepRenewing(leading: AbortController, acquiredAt: number): Promise<void> {
    const { leaseName, identity, renewDeadlineMs, retryPeriodMs } = this.options;
    let renewedAt = acquiredAt;
    let deadline: NodeJS.Timeout | undefined;
    const stepDown = (reason: string) => {
      if (leading.signal.aborted) return;
      const sinceRenewalMs = Math.round(performance.now() - renewedAt);
      this.log.error({ lease: leaseName, sinceRenewalMs }, `lost leadership: ${reason}`);
      leading.abort(new LeadershipLost(`lost leadership of lease ${leaseName}: ${reason}`));
    };
    const armDeadline = () => {
      clearTimeout(deadline);
      deadline = setTimeout(
        () => stepDown(`could not renew the lease within ${renewDeadlineMs / 1000} s`),
        renewedAt + renewDeadlineMs - performance.now(),
      );
    };
    armDeadline();
    try {
      while (!leading.signal.aborted) {
        await sleep(retryPeriodMs, leading.signal);
        if (leading.signal.aborted) return;
        const sentAt = performance.now();
        // The leading signal is the request's timeout: it aborts at the deadline.
        const renewed = await this.tryAcquireOrRenew(leading.signal).catch((error: unknown) => {
          if (!leading.signal.aborted)
            this.log.warn({ lease: leaseName, err: error }, 'could not renew the lease; retrying');
          return false;
        });
        if (leading.signal.aborted) return;
        if (renewed) {
          renewedAt = sentAt;
          armDeadline();
        } else if (this.observed && this.observed.holder !== identity) {
          stepDown(`the lease is held by ${this.observed.holder || 'no one'}`);
        }
      }
    } finally {
      clearTimeout(deadline);
    }
  }

  /** One round of client-go's tryAcquireOrRenew; `signal` aborts its requests. */
  async tryAcquireOrRenew(signal?: AbortSignal): Promise<boolean> {
    const { namespace, leaseName: name, identity, leaseDurationSeconds } = this.options;
    const options = signal && abortingOn(signal);
    const now = microTime(new Date());
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace }, options);
    } catch (error) {
      if (statusCode(error) !== 404) throw error;
      // Another candidate may create it first; then this one lost this round.
      try {
        await this.api.createNamespacedLease(
          {
            namespace,
            fieldManager,
            body: {
              metadata: { name, namespace },
              spec: {
                holderIdentity: identity,
                leaseDurationSeconds,
                acquireTime: now,
                renewTime: now,
                leaseTransitions: 0,
              },
            },
          },
          options,
        );
      } catch (createError) {
        if (statusCode(createError) === 409) return false;
        throw createError;
      }
      this.observed = { record: '', holder: identity, at: Date.now() };
      return true;
    }

    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.leaseTransitions]);
    if (this.observed?.record !== record) this.observed = { record, holder, at: Date.now() };
    const expired =
      Date.now() - this.observed.at > (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
    if (holder !== '' && holder !== identity && !expired) return false;

    const takingOver = holder !== identity;
    try {
      await this.api.replaceNamespacedLease(
        {
          name,
          namespace,
          fieldManager,
          body: {
            ...lease,
            spec: {
              ...spec,
              holderIdentity: identity,
              leaseDurationSeconds,
              renewTime: now,
              ...(takingOver ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
            },
          },
        },
        options,
      );
      this.observed = { record: '', holder: identity, at: Date.now() };
      return true;
    } catch (error) {
      if (statusCode(error) === 409) return false;
      throw error;
    }
  }

  private retryLater(error: unknown, stop: AbortSignal): false {
    if (!stop.aborted)
      this.log.warn(
        { lease: this.options.leaseName, err: error },
        'leader election: cannot reach the lease; retrying',
      );
    return false;
  }

  /** Hands the lease back (bounded by the renew deadline, so a hung server cannot hold up a shutdown). */
  private async release(): Promise<void> {
    const { namespace, leaseName: name, identity, renewDeadlineMs } = this.options;
    const attempt = timeout(renewDeadlineMs);
    const options = abortingOn(attempt.signal);
    try {
      const lease = await this.api.readNamespacedLease({ name, namespace }, options);
      if (lease.spec?.holderIdentity !== identity) return;
      await this.api.replaceNamespacedLease(
        {
          name,
          namespace,
          body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } },
          fieldManager,
        },
        options,
      );
      this.log.info({ lease: name }, 'released leadership');
    } catch (error) {
      this.log.warn({ lease: name, err: error }, 'could not release the lease');
    } finally {
      attempt.clear();
    }
  }
}

export function statusCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Lease times are MicroTime, which the API server parses with exactly six decimals; client-node
 * would send a Date with three, so the string goes through as is (it passes unknown types through).
 */
function microTime(date: Date): Date {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') as unknown as Date;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * A signal that aborts after `ms`, or with `parent`. Not `AbortSignal.any([parent,
 * AbortSignal.timeout(ms)])`: Node 20 lets the timeout signal inside be garbage-collected, and
 * then it never fires (a standby's request hung past its timeout that way).
 */
function timeout(ms: number, parent?: AbortSignal): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no answer within ${ms / 1000} s`)), ms);
  const follow = () => controller.abort(parent!.reason);
  if (parent?.aborted) follow();
  else parent?.addEventListener('abort', follow, { once: true });
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', follow);
    },
  };
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
