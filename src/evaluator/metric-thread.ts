/**
 * The metric engine on its own thread. onnxruntime-node runs a session on the calling thread, so
 * with the metrics inline every batch would wait for its metrics before the next inference could
 * start; here the main thread reads, encodes and infers while this worker updates the
 * accumulator with the batch before. On a machine with a spare core the metrics cost no wall
 * time; on one core they cost what they would inline (see docs/evaluator.md, `make bench`).
 *
 * The worker runs this same file. Batches travel in packs of about `packRows` rows or `packBytes`
 * bytes (batch-packing.ts) and are applied in order, so the result equals an inline pass exactly.
 * At most `maxInFlight` packs wait, which bounds memory.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

import type { EvaluationBatch } from '../metrics/batch.js';
import { EvaluationAccumulator, type EvaluationState } from '../metrics/evaluation.js';
import type { EvaluationOptions } from '../metrics/options.js';
import { BatchPacker, BatchUnpacker, type Pack } from './batch-packing.js';

/** A pack is posted once this many rows or bytes wait, whichever comes first. */
const packRows = 65_536;
const packBytes = 8 << 20;
const maxInFlight = 2;

type ToWorker = { kind: 'pack'; pack: Pack } | { kind: 'finish' };
type FromWorker =
  | { kind: 'ready' }
  | { kind: 'applied'; buffer: ArrayBuffer }
  | { kind: 'finished'; state: EvaluationState }
  | { kind: 'failed'; message: string };

interface WorkerInput {
  pruneguardMetricThread: true;
  options: Partial<EvaluationOptions>;
}

export class MetricThread {
  private readonly worker: Worker;
  private inFlight = 0;
  private failure: Error | undefined;
  private closed = false;
  /** Callers of update() waiting for a pack to be applied. */
  private readonly waiting: (() => void)[] = [];
  private finished: { resolve: (state: EvaluationState) => void; reject: (error: Error) => void } | undefined;
  private readonly packer = new BatchPacker();
  private readonly spareBuffers: ArrayBuffer[] = [];

  private ready: (() => void) | undefined;

  private constructor(options: Partial<EvaluationOptions>) {
    const input: WorkerInput = { pruneguardMetricThread: true, options };
    this.worker = startWorker(new URL(import.meta.url), input);
    this.worker.on('message', (message: FromWorker) => this.received(message));
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`the metric thread exited with code ${code} before it finished`));
    });
  }

  /** A metric thread that has loaded the engine, so the first batches do not wait for it. */
  static async start(options: Partial<EvaluationOptions>): Promise<MetricThread> {
    const thread = new MetricThread(options);
    await new Promise<void>((resolve) => (thread.ready = resolve));
    if (thread.failure) {
      await thread.close();
      throw thread.failure;
    }
    return thread;
  }

  /**
   * Queues a batch, posting a pack once enough rows wait; waits while `maxInFlight` packs are
   * unapplied. The batch's arrays must not change afterwards (they are copied when packed).
   */
  async update(batch: EvaluationBatch): Promise<void> {
    if (this.failure) throw this.failure;
    this.packer.add(batch);
    if (this.packer.rows >= packRows || this.packer.bytes >= packBytes) await this.post();
  }

  /** Every queued batch applied: the accumulator, on this thread. */
  async finish(): Promise<EvaluationAccumulator> {
    if (this.packer.rows > 0) await this.post();
    if (this.failure) throw this.failure;
    const state = await new Promise<EvaluationState>((resolve, reject) => {
      this.finished = { resolve, reject };
      this.worker.postMessage({ kind: 'finish' } satisfies ToWorker);
    });
    return EvaluationAccumulator.fromJSON(state);
  }

  private async post(): Promise<void> {
    while (this.inFlight >= maxInFlight && !this.failure)
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (this.failure) throw this.failure;
    const { pack, transfer } = this.packer.take(this.spareBuffers.pop());
    this.inFlight++;
    this.worker.postMessage({ kind: 'pack', pack } satisfies ToWorker, transfer);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.finished = undefined;
    await this.worker.terminate();
  }

  private received(message: FromWorker): void {
    if (message.kind === 'ready') {
      this.started();
    } else if (message.kind === 'applied') {
      this.spareBuffers.push(message.buffer);
      this.inFlight--;
      this.wake();
    } else if (message.kind === 'finished') {
      const finished = this.finished;
      this.finished = undefined;
      finished?.resolve(message.state);
    } else {
      this.fail(new Error(message.message));
    }
  }

  private started(): void {
    const ready = this.ready;
    this.ready = undefined;
    ready?.();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.started();
    const finished = this.finished;
    this.finished = undefined;
    finished?.reject(this.failure);
    this.wake();
  }

  private wake(): void {
    for (const wake of this.waiting.splice(0)) wake();
  }
}

/**
 * Compiled, the worker runs this file. From the TypeScript sources (tests, benchmarks, `make demo`)
 * Node 20 does not pass tsx's loader on to workers, so the worker registers it before importing.
 */
function startWorker(url: URL, input: WorkerInput): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData: input });
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: input });
}

/** The worker side: apply each pack's batches in order. */
function serve(input: WorkerInput): void {
  const port = parentPort!;
  const accumulator = new EvaluationAccumulator(input.options);
  const unpacker = new BatchUnpacker();
  let failed = false;
  port.on('message', (message: ToWorker) => {
    if (failed) return;
    try {
      if (message.kind === 'finish') {
        port.postMessage({ kind: 'finished', state: accumulator.toJSON() } satisfies FromWorker);
        return;
      }
      for (const batch of unpacker.unpack(message.pack)) accumulator.update(batch);
      const buffer = message.pack.buffer;
      port.postMessage({ kind: 'applied', buffer } satisfies FromWorker, [buffer]);
    } catch (error) {
      failed = true;
      port.postMessage({ kind: 'failed', message: (error as Error).message } satisfies FromWorker);
    }
  });
  port.postMessage({ kind: 'ready' } satisfies FromWorker);
}

if (!isMainThread && (workerData as Partial<WorkerInput> | null)?.pruneguardMetricThread)
  serve(workerData as WorkerInput);
