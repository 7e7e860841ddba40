import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maxTimerDelayMs, WorkQueue } from '../../../src/controller/work-queue.js';

const year = 365 * 24 * 3_600_000;

describe('WorkQueue', () => {
  it('queues a key once however often it is added', async () => {
    const queue = new WorkQueue();
    queue.add('ns/a');
    queue.add('ns/a');
    queue.add('ns/b');
    assert.equal(queue.length, 2);
    assert.equal(await queue.get(), 'ns/a');
    assert.equal(await queue.get(), 'ns/b');
  });

  it('never hands out a key being processed, and re-queues it when processing ends', async () => {
    const queue = new WorkQueue();
    queue.add('ns/a');
    const key = await queue.get();
    queue.add('ns/a');
    assert.equal(queue.length, 0, 'the key is dirty, not queued, while processing');
    queue.done(key!);
    assert.equal(queue.length, 1);
    assert.equal(await queue.get(), 'ns/a');
  });

  it('wakes a waiting worker', async () => {
    const queue = new WorkQueue();
    const next = queue.get();
    queue.add('ns/a');
    assert.equal(await next, 'ns/a');
  });

  it('backs off failed keys exponentially, up to the cap, until forgotten', () => {
    const queue = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 50 });
    assert.deepEqual(
      [1, 2, 3, 4, 5].map(() => queue.addRateLimited('ns/a')),
      [10, 20, 40, 50, 50],
    );
    queue.forget('ns/a');
    assert.equal(queue.addRateLimited('ns/a'), 10);
    queue.shutDown();
  });

  it('keeps the earliest of two delayed adds', async () => {
    const queue = new WorkQueue();
    queue.addAfter('ns/a', 5_000);
    queue.addAfter('ns/a', 20);
    const started = Date.now();
    assert.equal(await queue.get(), 'ns/a');
    assert.ok(Date.now() - started < 4_000);
    queue.shutDown();
  });

  it('delivers a key added a year ahead once, a year later, in steps Node’s timers can take', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const queue = new WorkQueue();
    queue.addAfter('ns/a', year);
    t.mock.timers.tick(maxTimerDelayMs);
    assert.equal(queue.length, 0, 'delivered when the first timer step ended');
    t.mock.timers.tick(year - 1 - maxTimerDelayMs);
    assert.equal(queue.length, 0, 'delivered before its time');
    t.mock.timers.tick(1);
    assert.equal(queue.length, 1, 'not delivered at its time');
    assert.equal(await queue.get(), 'ns/a');
    queue.done('ns/a');
    t.mock.timers.tick(2 * year);
    assert.equal(queue.length, 0, 'delivered twice');
    queue.shutDown();
  });

  it('lets a sooner add replace a pending add a year ahead, and shutdown cancel it', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const queue = new WorkQueue();
    queue.addAfter('ns/a', year);
    t.mock.timers.tick(maxTimerDelayMs + 1);
    queue.addAfter('ns/a', 1_000);
    t.mock.timers.tick(1_000);
    assert.equal(queue.length, 1);

    const stopped = new WorkQueue();
    stopped.addAfter('ns/b', year);
    t.mock.timers.tick(maxTimerDelayMs);
    stopped.shutDown();
    t.mock.timers.tick(year);
    assert.equal(stopped.length, 0);
    queue.shutDown();
  });

  it('arms no timer that Node would fire at once with a TimeoutOverflowWarning', async () => {
    // Real timers: the mocked ones neither overflow nor warn.
    const warnings: string[] = [];
    // TimeoutOverflowWarning, and its siblings for negative and NaN delays in newer Node versions.
    const onWarning = (warning: Error) => {
      if (warning.name.startsWith('Timeout')) warnings.push(`${warning.name}: ${warning.message}`);
    };
    process.on('warning', onWarning);
    const queue = new WorkQueue();
    try {
      queue.addAfter('ns/a', year);
      queue.addAfter('ns/b', maxTimerDelayMs + 1);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(queue.length, 0, 'delivered at once');
    } finally {
      queue.shutDown();
      process.off('warning', onWarning);
    }
    assert.deepEqual(warnings, []);
  });

  it('releases waiting workers with undefined on shutdown', async () => {
    const queue = new WorkQueue();
    const waiting = queue.get();
    queue.shutDown();
    assert.equal(await waiting, undefined);
    queue.add('ns/a');
    assert.equal(await queue.get(), undefined);
  });
});
