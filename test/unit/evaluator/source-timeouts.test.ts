/**
 * The connect and idle timeouts and the deadline of every source, against real servers and files
 * that stall (stalling-servers.ts; named pipes stand in for a file system that stops answering).
 * Limits are shortened through the options the evaluator passes, never slept through.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { openTable } from '../../../src/evaluator/data/open.js';
import { evaluationDeadline } from '../../../src/evaluator/deadline.js';
import {
  defaultSourceTimeouts,
  openSource,
  readAll,
  type Source,
  type SourceOptions,
} from '../../../src/evaluator/sources/index.js';
import { localEgressDefaults } from '../../../src/security/egress.js';
import { temporaryDirectory } from '../../support/temporary-directory.js';
import {
  dribble,
  headersThenSilence,
  httpServer,
  silentServer,
  unacceptingServer,
} from './stalling-servers.js';

const short: SourceOptions = { timeouts: { connectMs: 200, idleMs: 200 } };
const sourceOf = (uri: string, options: SourceOptions = short) =>
  openSource(uri, localEgressDefaults, options);

/** The rejection's message, and that it came well before any default limit. */
async function failure(read: Promise<unknown>): Promise<string> {
  const started = Date.now();
  const error = await read.then(
    () => assert.fail('expected the read to fail'),
    (error: unknown) => error as Error,
  );
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 3_000, `took ${elapsed} ms`);
  return error.message;
}

/** Every way a source is read: streamed, a Range read, its size. */
const reads: [string, (source: Source) => Promise<unknown>][] = [
  ['stream', (source) => readAll(source)],
  ['read', (source) => source.read(0, 10)],
  ['size', (source) => source.size()],
];

test('the defaults: 10 s to connect, 30 s without a byte', () => {
  assert.deepEqual(defaultSourceTimeouts, { connectMs: 10_000, idleMs: 30_000 });
});

describe('http(s) sources', () => {
  test('a connect that never completes fails at the connect timeout', async () => {
    const server = await unacceptingServer();
    const uri = `${server.url}/current.csv`;
    try {
      for (const [, read] of reads)
        assert.equal(await failure(read(sourceOf(uri))), `${uri}: not connected within 0.2 s`);
    } finally {
      server.close();
    }
  });

  test('https to a server that accepts and never speaks TLS fails at the connect timeout, after TCP', async () => {
    const server = await silentServer();
    const uri = `https://127.0.0.1:${server.port}/model.onnx`;
    try {
      assert.equal(
        await failure(readAll(sourceOf(uri))),
        `${uri}: TLS handshake not finished within 0.2 s (TCP connect ok)`,
      );
    } finally {
      server.close();
    }
  });

  test('a server that accepts and never answers fails at the idle timeout, connect ok', async () => {
    const server = await silentServer();
    const uri = `${server.url}/current.csv`;
    try {
      for (const [, read] of reads)
        assert.equal(await failure(read(sourceOf(uri))), `${uri}: no response within 0.2 s (connect ok)`);
    } finally {
      server.close();
    }
  });

  test('headers, then silence, fails at the idle timeout with the bytes received', async () => {
    const silentAfterHead = await httpServer(headersThenSilence());
    const silentAfterLine = await httpServer(headersThenSilence('a,b\n'));
    try {
      assert.equal(
        await failure(readAll(sourceOf(`${silentAfterHead.url}/x.csv`))),
        `${silentAfterHead.url}/x.csv: no data within 0.2 s (response ok, 0 bytes received)`,
      );
      assert.equal(
        await failure(sourceOf(`${silentAfterLine.url}/x.csv`).read(0, 100)),
        `${silentAfterLine.url}/x.csv: no data within 0.2 s (response ok, 4 bytes received)`,
      );
      // Through the table reader, as the evaluator reads data, the label comes first.
      const table = openTable(`${silentAfterLine.url}/current.csv`, { ...short, label: 'current data' });
      assert.equal(
        await failure(table.next()),
        `current data ${silentAfterLine.url}/current.csv: no data within 0.2 s (response ok, 4 bytes received)`,
      );
    } finally {
      silentAfterHead.close();
      silentAfterLine.close();
    }
  });

  test('a slow response that keeps progressing succeeds: each wait is under the idle timeout', async () => {
    const file = await readFile('test/fixtures/penguins/reference.csv');
    const server = await httpServer(dribble(file, 12, 60));
    try {
      const started = Date.now();
      assert.deepEqual(Buffer.from(await readAll(sourceOf(`${server.url}/current.csv`))), file);
      assert.ok(Date.now() - started >= 600, 'the dribble took its time');
    } finally {
      server.close();
    }
  });

  test('a slow reader is not a slow server: time spent on the bytes already received does not count', async () => {
    const body = Buffer.alloc(4 << 20, 'x');
    const server = await httpServer((_request, response) => response.end(body));
    try {
      let received = 0;
      let pauses = 0;
      for await (const chunk of sourceOf(`${server.url}/big.csv`, { timeouts: { idleMs: 100 } }).stream()) {
        received += chunk.length;
        // The evaluator busy with a batch: the server is held back by flow control, not stalled.
        if (pauses < 3 && received > (pauses + 1) << 20) {
          pauses++;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
      assert.equal(received, body.length);
      assert.equal(pauses, 3);
    } finally {
      server.close();
    }
  });

  test('the deadline stops a source that trickles forever, within the idle timeout', async () => {
    const server = await httpServer(dribble(Buffer.alloc(0), 1, 20, true));
    const silent = await silentServer();
    try {
      const deadline = evaluationDeadline(0.3);
      const message = await failure(
        readAll(sourceOf(`${server.url}/current.csv`, { timeouts: { idleMs: 1000 }, deadline })),
      );
      assert.match(
        message,
        /^http:\/\/127\.0\.0\.1:\d+\/current\.csv: runtime\.timeoutSeconds \(0\.3 s\) passed \(response ok, \d+ bytes received\)$/,
      );
      // Once it has passed, nothing more is waited for.
      assert.equal(
        await failure(readAll(sourceOf(`${silent.url}/model.onnx`, { deadline }))),
        `${silent.url}/model.onnx: runtime.timeoutSeconds (0.3 s) passed (not connected yet)`,
      );
    } finally {
      server.close();
      silent.close();
    }
  });
});

describe('file, pvc:// and configmap:// sources (a named pipe: a file system that does not answer)', () => {
  let root: string;
  let fifo: string;

  before(async () => {
    root = await temporaryDirectory('stalled-files');
    await promisify(execFile)('mkfifo', [path.join(root, 'current.csv')]);
    fifo = path.join(root, 'current.csv');
    process.env.PRUNEGUARD_PVC_ROOT = path.dirname(root);
  });

  after(() => {
    delete process.env.PRUNEGUARD_PVC_ROOT;
  });

  /** Opens the pipe's other end, which completes an open still waiting on it; close() then ends it. */
  const writer = () => open(fifo, 'w');

  test('an open that never returns fails at the connect timeout, naming the URI and the path', async () => {
    const uri = `pvc://${path.basename(root)}/current.csv`;
    const message = await failure(readAll(sourceOf(uri)));
    assert.equal(message, `${uri}: not opened within 0.2 s (${fifo})`);
    // Let the open still blocked in the thread pool finish; the source closes what it returns.
    await (await writer()).close();
  });

  test('a read that never returns fails at the idle timeout, with the bytes read so far', async () => {
    const reading = readAll(sourceOf(fifo));
    const end = await writer();
    try {
      await end.write('a,b\n');
      assert.equal(await failure(reading), `${fifo}: no data within 0.2 s (${fifo}, 4 bytes read)`);
    } finally {
      await end.close();
    }
  });

  test('the deadline stops a file read too', async () => {
    const uri = `file://${fifo}`;
    const reading = readAll(sourceOf(uri, { timeouts: { idleMs: 5000 }, deadline: evaluationDeadline(0.3) }));
    const end = await writer();
    try {
      assert.equal(
        await failure(reading),
        `${uri}: runtime.timeoutSeconds (0.3 s) passed (${fifo}, 0 bytes read)`,
      );
    } finally {
      await end.close();
    }
  });
});
