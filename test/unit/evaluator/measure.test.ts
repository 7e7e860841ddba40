import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { measureEnergy } from '../../../src/evaluator/measure/energy.js';
import { measureLatency } from '../../../src/evaluator/measure/latency.js';
import { startNvml } from '../../../src/evaluator/measure/power/nvml.js';
import { measureThroughput } from '../../../src/evaluator/measure/throughput.js';
import { openModel, type LoadedModel } from '../../../src/evaluator/models.js';
import { temporaryDirectory } from '../../support/temporary-directory.js';

let model: LoadedModel;
const rows = 5;
const features = Float32Array.from(
  { length: rows * 7 },
  (_, i) => [40, 18, 200, 4000, 1, 0, 0][i % 7] as number,
);

before(async () => {
  model = await openModel('test/fixtures/penguins/teacher.onnx', 'candidate');
});
after(() => model.close());

test('latency returns one positive sample per request', async () => {
  const samples = await measureLatency(model, features, rows, { requests: 25, warmup: 3 });
  assert.equal(samples.length, 25);
  assert.ok(samples.every((ms) => ms > 0 && Number.isFinite(ms)));
});

test('throughput counts whole batches over at least the time budget', async () => {
  const result = await measureThroughput(model, features, rows, {
    batchSize: 16,
    concurrency: 3,
    durationMs: 150,
  });
  assert.equal(result.inferences, result.requests * 16);
  assert.ok(result.requests >= 3);
  assert.ok(result.seconds >= 0.15);
  assert.equal(result.concurrency, 3);
});

test('without RAPL or NVML, energy is estimated from CPU time at the configured watts per core', async () => {
  const missing = path.join(tmpdir(), 'pruneguard-no-powercap');
  const cpuBefore = process.cpuUsage();
  const result = await measureEnergy(
    async () =>
      (await measureThroughput(model, features, rows, { batchSize: 32, durationMs: 100 })).inferences,
    { executionProvider: 'cpu', raplRoot: missing, wattsPerCore: 12 },
  );
  const used = process.cpuUsage(cpuBefore);
  assert.equal(result.method, 'cpu-estimate');
  assert.ok(result.joules > 0 && result.joules <= ((used.user + used.system) / 1e6) * 12);
  assert.match(result.detail, /CPU-seconds × 12 W per core/);
  assert.ok(result.inferences > 0 && result.seconds >= 0.1);
});

test('RAPL package counters are summed, and a counter that wrapped is unwrapped', async () => {
  const root = await temporaryDirectory('powercap');
  const zone = (name: string) => path.join(root, name);
  for (const name of ['intel-rapl:0', 'intel-rapl:1', 'intel-rapl:0:0']) await mkdir(zone(name));
  await writeFile(path.join(zone('intel-rapl:0'), 'max_energy_range_uj'), '1000000000\n');
  await writeFile(path.join(zone('intel-rapl:0'), 'energy_uj'), '999000000\n');
  await writeFile(path.join(zone('intel-rapl:1'), 'max_energy_range_uj'), '1000000000\n');
  await writeFile(path.join(zone('intel-rapl:1'), 'energy_uj'), '5000000\n');
  // a subzone (core) of package 0: already inside the package figure
  await writeFile(path.join(zone('intel-rapl:0:0'), 'max_energy_range_uj'), '1000000000\n');
  await writeFile(path.join(zone('intel-rapl:0:0'), 'energy_uj'), '0\n');

  const result = await measureEnergy(
    async () => {
      await writeFile(path.join(zone('intel-rapl:0'), 'energy_uj'), '2999999\n'); // wrapped: +4 J
      await writeFile(path.join(zone('intel-rapl:1'), 'energy_uj'), '7500000\n'); // +2.5 J
      await writeFile(path.join(zone('intel-rapl:0:0'), 'energy_uj'), '900000000\n');
      return 10;
    },
    { executionProvider: 'cpu', raplRoot: root },
  );
  assert.equal(result.method, 'rapl');
  assert.equal(result.joules, 6.5);
  assert.equal(result.inferences, 10);
  assert.match(result.detail, /intel-rapl:0, intel-rapl:1/);
});

test('NVML is skipped when nvidia-smi cannot be run', async () => {
  assert.equal(await startNvml({ command: '/nonexistent/nvidia-smi' }), undefined);
  const result = await measureEnergy(async () => 1, {
    executionProvider: 'cuda',
    nvml: { command: '/nonexistent/nvidia-smi' },
    raplRoot: '/nonexistent',
  });
  assert.equal(result.method, 'cpu-estimate');
});

test('NVML reads GPU power where nvidia-smi works', { skip: await nvidiaSmiMissing() }, async () => {
  const result = await measureEnergy(() => new Promise((resolve) => setTimeout(() => resolve(1), 500)), {
    executionProvider: 'cuda',
    methods: ['nvml'],
  });
  assert.equal(result.method, 'nvml');
  assert.ok(result.joules > 0, result.detail);
});

async function nvidiaSmiMissing(): Promise<string | false> {
  return (await startNvml().then((meter) => meter?.stop()))
    ? false
    : 'nvidia-smi is not available on this machine';
}
