import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { DataWatch, EvaluationRun } from '../../../src/api/v1alpha1/index.js';
import {
  dataChange,
  nextCheck,
  recordVersions,
  sameWatch,
  versionsOf,
  type ObservedVersion,
} from '../../../src/controller/data-watch.js';
import { versionProbes } from '../../../src/controller/data-versions.js';
import { scheduledAtAnnotation, whenDue } from '../../../src/controller/due.js';
import { parsedEvaluation } from './parsed-evaluation.js';

const t0 = new Date('2026-11-29T10:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const changes = { enabled: true, checkInterval: '1m', settle: '30s' };
const current = 'https://data.example/current.csv';

function read(version?: string, problem?: string): ObservedVersion[] {
  return [
    { source: 'teacher', uri: 'pvc://models/penguins/teacher.onnx', problem: 'not watched' },
    { source: 'current', uri: current, ...(version ? { version } : {}), ...(problem ? { problem } : {}) },
  ];
}

function run(dataVersions?: Record<string, string>): EvaluationRun {
  const evaluation = parsedEvaluation();
  return {
    apiVersion: 'pruneguard.io/v1alpha1',
    kind: 'EvaluationRun',
    metadata: { name: 'penguins-00001', annotations: { [scheduledAtAnnotation]: t0.toISOString() } },
    spec: {
      evaluationName: 'penguins',
      generation: 1,
      shards: 1,
      ...(dataVersions ? { dataVersions } : {}),
      evaluationSpec: evaluation.spec,
    },
  };
}

describe('data changes', () => {
  it('a new version starts its settle time; the same version keeps it; an unreadable source keeps the last version', () => {
    const first = recordVersions(undefined, read('ETag "a"'), t0);
    assert.equal(first.sources[1]!.changedAt, t0.toISOString());
    assert.deepEqual(first.sources[0], {
      source: 'teacher',
      uri: 'pvc://models/penguins/teacher.onnx',
      problem: 'not watched',
    });
    const same = recordVersions(first, read('ETag "a"'), at(60));
    assert.equal(same.sources[1]!.changedAt, t0.toISOString());
    assert.ok(sameWatch(first, same), 'nothing new to write');
    const down = recordVersions(same, read(undefined, 'connect ECONNREFUSED'), at(120));
    assert.deepEqual(down.sources[1], {
      source: 'current',
      uri: current,
      version: 'ETag "a"',
      changedAt: t0.toISOString(),
      problem: 'connect ECONNREFUSED',
    });
    assert.ok(!sameWatch(same, down));
    const changed = recordVersions(down, read('ETag "b"'), at(180));
    assert.equal(changed.sources[1]!.changedAt, at(180).toISOString());
    assert.deepEqual(versionsOf(changed), { current: 'ETag "b"' });
  });

  it('another URI is another source: its version is new', () => {
    const first = recordVersions(undefined, read('ETag "a"'), t0);
    const moved = recordVersions(
      first,
      [{ source: 'current', uri: 'https://data.example/other.csv', version: 'ETag "a"' }],
      at(60),
    );
    assert.equal(moved.sources[0]!.changedAt, at(60).toISOString());
  });

  const cases: {
    name: string;
    watch: DataWatch | undefined;
    latest: EvaluationRun | undefined;
    lastCheck: Date | undefined;
    expect: ReturnType<typeof dataChange>;
  }[] = [
    {
      name: 'no run yet: the schedule starts the first one',
      watch: recordVersions(undefined, read('ETag "b"'), t0),
      latest: undefined,
      lastCheck: t0,
      expect: { due: false },
    },
    {
      name: 'the version the latest run saw',
      watch: recordVersions(undefined, read('ETag "a"'), t0),
      latest: run({ current: 'ETag "a"' }),
      lastCheck: at(600),
      expect: { due: false },
    },
    {
      name: 'a run that recorded no version: nothing to compare',
      watch: recordVersions(undefined, read('ETag "b"'), t0),
      latest: run(),
      lastCheck: at(600),
      expect: { due: false },
    },
    {
      name: 'a change not yet confirmed after settle: the read that can confirm it is due then',
      watch: recordVersions(undefined, read('ETag "b"'), t0),
      latest: run({ current: 'ETag "a"' }),
      lastCheck: at(10),
      expect: { due: false, at: at(30) },
    },
    {
      name: 'a change that held for settle starts a run',
      watch: recordVersions(undefined, read('ETag "b"'), t0),
      latest: run({ current: 'ETag "a"' }),
      lastCheck: at(30),
      expect: { due: true, detail: `current ${current} changed (ETag "a" → ETag "b")` },
    },
  ];
  for (const c of cases)
    it(c.name, () => assert.deepEqual(dataChange(c.watch, c.latest, changes, c.lastCheck), c.expect));

  it('switched off, nothing is read and nothing starts', () => {
    const off = { ...changes, enabled: false };
    const watch = recordVersions(undefined, read('ETag "b"'), t0);
    assert.deepEqual(dataChange(watch, run({ current: 'ETag "a"' }), off, at(600)), { due: false });
    assert.equal(nextCheck(off, t0), undefined);
  });

  it('reads every checkInterval, sooner when a change can be confirmed sooner', () => {
    assert.deepEqual(nextCheck(changes, undefined), new Date(0), 'never read: at once');
    assert.deepEqual(nextCheck(changes, t0), at(60));
    assert.deepEqual(nextCheck(changes, t0, at(30)), at(30));
    assert.deepEqual(nextCheck(changes, t0, at(90)), at(60));
  });

  it('the schedule comes before new data, new data before waiting', () => {
    const evaluation = parsedEvaluation();
    const latest = run({ current: 'ETag "a"' });
    const data = { due: true as const, detail: 'current changed' };
    assert.deepEqual(whenDue(evaluation, latest, at(31 * 60), data), { due: true, trigger: 'Schedule' });
    assert.deepEqual(whenDue(evaluation, latest, at(60), data), {
      due: true,
      trigger: 'DataChange',
      detail: 'current changed',
    });
    assert.deepEqual(whenDue(evaluation, latest, at(60)), { due: false, at: at(30 * 60) });
  });

  it('docs/evaluator.md says what the version of each scheme is, as the probes read it', () => {
    const docs = readFileSync(new URL('../../../docs/evaluator.md', import.meta.url), 'utf8');
    const rows = new Map(
      [...docs.matchAll(/^\| ([^|]+) \| ([^|]+) \|$/gm)].flatMap(([, schemes, version]) =>
        [...schemes!.matchAll(/`([a-z0-9]+):\/\/`/g)].map(([, scheme]) => [scheme!, version!]),
      ),
    );
    for (const [scheme, probe] of Object.entries(versionProbes))
      assert.equal(rows.get(scheme), probe.signal, `docs/evaluator.md, "Data changes": ${scheme}://`);
  });
});
