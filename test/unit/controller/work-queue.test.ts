import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkQueue } from '../../../src/controller/work-queue.js';

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

  it('releases waiting workers with undefined on shutdown', async () => {
    const queue = new WorkQueue();
    const waiting = queue.get();
    queue.shutDown();
    assert.equal(await waiting, undefined);
    queue.add('ns/a');
    assert.equal(await queue.get(), undefined);
  });
});
