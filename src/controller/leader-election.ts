import { fieldManager } from '../actuators/kubernetes.js';
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';

export interface LeaderElectionOptions {
  namespace: string;
  leaseName: string;
  identity: string;
  leaseDurationSeconds: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const defaultLeaderElection = {
  leaseDurationSeconds: 15,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

/**
 * Leader election on a coordination.k8s.io Lease, like client-go's: the holder renews every
 * retry period; others take over only after they have seen the same record unchanged for a full
 * lease duration (measured on their own clock, so clock skew between replicas does not matter).
 * Updates carry the resourceVersion, so two candidates can never both win.
 */
export class LeaderElector {
  private observed?: { record: string; at: number };

  constructor(
    private readonly api: CoordinationV1Api,
    private readonly options: LeaderElectionOptions,
    private readonly log: Logger,
  ) {}

  /**
   * Waits for leadership, then runs `lead` with a signal that aborts when leadership is lost or
   * `stop` aborts. Releases the lease on a clean stop so a successor need not wait.
   */
  async run(stop: AbortSignal, lead: (lost: AbortSignal) => Promise<void>): Promise<void> {
    while (
      !stop.aborted &&
      !(await this.tryAcquireOrRenew().catch((error: unknown) => this.retryLater(error)))
    ) {
      await sleep(this.options.retryPeriodMs, stop);
    }
    if (stop.aborted) return;
    this.log.info({ lease: this.options.leaseName, identity: this.options.identity }, 'became leader');

    const lost = new AbortController();
    const onStop = () => lost.abort();
    stop.addEventListener('abort', onStop, { once: true });
    const renewing = this.keepRenewing(lost);
    try {
      await lead(lost.signal);
    } finally {
      lost.abort();
      stop.removeEventListener('abort', onStop);
      await renewing;
      if (stop.aborted) await this.release();
    }
  }

  private async keepRenewing(lost: AbortController): Promise<void> {
    let lastRenew = Date.now();
    while (!lost.signal.aborted) {
      await sleep(this.options.retryPeriodMs, lost.signal);
      if (lost.signal.aborted) return;
      if (await this.tryAcquireOrRenew().catch(() => false)) {
        lastRenew = Date.now();
      } else if (Date.now() - lastRenew > this.options.renewDeadlineMs) {
        this.log.error(
          { lease: this.options.leaseName },
          'lost leadership: could not renew the lease in time',
        );
        lost.abort();
      }
    }
  }

  async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, leaseName: name, identity, leaseDurationSeconds } = this.options;
    const now = microTime(new Date());
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (statusCode(error) !== 404) throw error;
      // Another candidate may create it first; then this one lost this round.
      try {
        await this.api.createNamespacedLease({
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
        });
      } catch (createError) {
        if (statusCode(createError) === 409) return false;
        throw createError;
      }
      return true;
    }

    const spec = lease.spec ?? {};
    const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.leaseTransitions]);
    if (this.observed?.record !== record) this.observed = { record, at: Date.now() };
    const holder = spec.holderIdentity ?? '';
    const expired =
      Date.now() - this.observed.at > (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
    if (holder !== '' && holder !== identity && !expired) return false;

    const takingOver = holder !== identity;
    try {
      await this.api.replaceNamespacedLease({
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
      });
      return true;
    } catch (error) {
      if (statusCode(error) === 409) return false;
      throw error;
    }
  }

  private retryLater(error: unknown): false {
    this.log.warn(
      { lease: this.options.leaseName, err: error },
      'leader election: cannot reach the lease; retrying',
    );
    return false;
  }

  private async release(): Promise<void> {
    const { namespace, leaseName: name, identity } = this.options;
    try {
      const lease = await this.api.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity !== identity) return;
      await this.api.replaceNamespacedLease({
        name,
        namespace,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } },
        fieldManager,
      });
      this.log.info({ lease: name }, 'released leadership');
    } catch (error) {
      this.log.warn({ lease: name, err: error }, 'could not release the lease');
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
