import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import {
  crdFileName,
  crdManifests,
  renderCrd,
  type CustomResourceDefinition,
} from '../../../src/api/v1alpha1/index.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
type Schema = { [key: string]: unknown };

function byPlural(plural: string): CustomResourceDefinition {
  const crd = crdManifests().find((candidate) => candidate.spec.names.plural === plural);
  assert.ok(crd, `no CRD for ${plural}`);
  return crd;
}

function openAPI(crd: CustomResourceDefinition): Schema {
  return crd.spec.versions[0]!.schema.openAPIV3Schema as Schema;
}

function at(schema: Schema, dotted: string): Schema {
  return dotted.split('.').reduce<Schema>((node, name) => {
    const child =
      name === 'items' && node.type === 'array'
        ? (node.items as Schema)
        : (node.properties as Record<string, Schema> | undefined)?.[name];
    assert.ok(child, `schema has no field ${dotted} (stopped at ${name})`);
    return child;
  }, schema);
}

/** Every node of the schema with its path. */
function* walk(schema: Schema, where = ''): Generator<[string, Schema]> {
  yield [where, schema];
  for (const [name, child] of Object.entries((schema.properties ?? {}) as Record<string, Schema>))
    yield* walk(child, `${where}.${name}`);
  if (schema.items) yield* walk(schema.items as Schema, `${where}[]`);
  if (typeof schema.additionalProperties === 'object')
    yield* walk(schema.additionalProperties as Schema, `${where}{}`);
}

describe('generated CRDs', () => {
  it('crds/*.yaml and the chart’s copy are up to date (regenerate with: npx tsx scripts/generate-crds.ts)', async () => {
    for (const directory of ['crds', 'charts/pruneguard/crds'])
      for (const crd of crdManifests()) {
        const file = path.join(root, directory, crdFileName(crd));
        const onDisk = await readFile(file, 'utf8').catch(() => '<missing>');
        assert.equal(onDisk, renderCrd(crd), `${path.relative(root, file)} is stale`);
      }
  });

  it('render as YAML that reads back to the same object', () => {
    for (const crd of crdManifests())
      assert.deepEqual(yaml.load(renderCrd(crd)), JSON.parse(JSON.stringify(crd)));
  });

  it('name the group, kinds, short names and category', () => {
    const pme = byPlural('prunedmodelevaluations');
    assert.equal(pme.metadata.name, 'prunedmodelevaluations.pruneguard.io');
    assert.equal(pme.spec.names.kind, 'PrunedModelEvaluation');
    assert.deepEqual(pme.spec.names.shortNames, ['pme']);
    assert.deepEqual(pme.spec.names.categories, ['pruneguard']);
    assert.equal(pme.spec.scope, 'Namespaced');
    const run = byPlural('evaluationruns');
    assert.equal(run.spec.names.kind, 'EvaluationRun');
    assert.deepEqual(run.spec.names.shortNames, ['pmerun']);
    for (const crd of [pme, run]) {
      assert.equal(crd.spec.versions.length, 1);
      assert.equal(crd.spec.versions[0]!.name, 'v1alpha1');
      assert.deepEqual(crd.spec.versions[0]!.subresources, { status: {} });
    }
  });

  it('default every threshold to the design table, so the stored object shows the effective values', () => {
    const design: Record<string, [number, number]> = {
      accuracyDrop: [0.02, 0.05],
      negativeFlipRate: [0.02, 0.05],
      classRecallDrop: [0.05, 0.1],
      calibrationChange: [0.02, 0.05],
      p95LatencyMs: [100, 200],
      memoryRatio: [0.5, 0.7],
      powerWatts: [150, 300],
      energyPer1kInferencesJoules: [150, 600],
      demographicParity: [0.01, 0.05],
      psi: [0.1, 0.25],
      missingValueIncrease: [0.01, 0.05],
      throughputQps: [1000, 500],
      carbonKgPer1M: [1, 5],
    };
    const thresholds = at(openAPI(byPlural('prunedmodelevaluations')), 'spec.thresholds');
    const expected = Object.fromEntries(
      Object.entries(design).map(([metric, [target, warning]]) => [
        metric,
        { target, warning, enabled: true },
      ]),
    );
    assert.deepEqual(thresholds.default, expected);
    for (const [metric, [target, warning]] of Object.entries(design)) {
      assert.equal(at(thresholds, `${metric}.target`).default, target, metric);
      assert.equal(at(thresholds, `${metric}.warning`).default, warning, metric);
    }
  });

  it('default energy and policy as documented', () => {
    const spec = at(openAPI(byPlural('prunedmodelevaluations')), 'spec');
    assert.deepEqual(at(spec, 'energy').default, { gridIntensityKgPerKWh: 0.4, pue: 1.2 });
    assert.deepEqual(at(spec, 'policy').default, {
      onPass: 'advance',
      onWarning: 'hold',
      onCritical: 'rollback',
      consecutiveBreaches: 2,
      failedRunLimit: 3,
      onFailure: 'hold',
      retryAborted: false,
      dryRun: false,
    });
    assert.equal(at(spec, 'historyLimit').default, 5);
    assert.equal(at(spec, 'policy.consecutiveBreaches').minimum, 1);
    assert.equal(at(spec, 'runtime.parallelism').minimum, 1);
    assert.equal(at(spec, 'runtime.parallelism').maximum, 32);
    assert.deepEqual(at(spec, 'runtime.accelerator').enum, ['cpu', 'nvidia.com/gpu']);
  });

  it('are structural: every node typed, unions only as int-or-string, no JSON-Schema-only keywords', () => {
    for (const crd of crdManifests()) {
      for (const [where, node] of walk(openAPI(crd))) {
        const intOrString = node['x-kubernetes-int-or-string'] === true;
        assert.ok(node.type !== undefined || intOrString, `${crd.spec.names.kind}${where}: no type`);
        if (node.anyOf !== undefined) assert.ok(intOrString, `${crd.spec.names.kind}${where}: anyOf`);
        for (const forbidden of ['const', 'patternProperties', '$id', 'examples', 'uniqueItems'])
          assert.equal(node[forbidden], undefined, `${crd.spec.names.kind}${where}: ${forbidden}`);
        assert.notEqual(
          node.additionalProperties,
          false,
          `${crd.spec.names.kind}${where}: additionalProperties false`,
        );
        for (const required of (node.required ?? []) as string[])
          assert.ok(
            (node.properties as Record<string, unknown>)[required],
            `${crd.spec.names.kind}${where}: required ${required} is not a property`,
          );
      }
    }
  });

  it('bound every list and string in the spec, which keeps the CEL cost estimate under budget', () => {
    const spec = at(openAPI(byPlural('prunedmodelevaluations')), 'spec');
    for (const [where, node] of walk(spec, 'spec')) {
      if (node.type === 'array') assert.ok(typeof node.maxItems === 'number', `${where}: no maxItems`);
      if (node.type === 'string' && node.enum === undefined)
        assert.ok(typeof node.maxLength === 'number', `${where}: no maxLength`);
    }
  });

  it('give every CEL rule a message a person can read', () => {
    let rules = 0;
    for (const crd of crdManifests()) {
      for (const [where, node] of walk(openAPI(crd))) {
        for (const rule of (node['x-kubernetes-validations'] ?? []) as Schema[]) {
          rules += 1;
          assert.ok(typeof rule.rule === 'string' && rule.rule.length > 0, `${where}: empty rule`);
          assert.ok(
            rule.message !== undefined || rule.messageExpression !== undefined,
            `${where}: ${rule.rule} has no message`,
          );
        }
      }
    }
    assert.ok(rules >= 15, `only ${rules} CEL rules`);
  });

  it('keep one threshold-order rule per metric, in the metric’s direction', () => {
    const thresholds = at(openAPI(byPlural('prunedmodelevaluations')), 'spec.thresholds');
    const rule = (metric: string) =>
      (at(thresholds, metric)['x-kubernetes-validations'] as Schema[])[0]!.rule;
    assert.equal(rule('accuracyDrop'), 'self.warning >= self.target');
    assert.equal(rule('carbonKgPer1M'), 'self.warning >= self.target');
    assert.equal(rule('throughputQps'), 'self.warning <= self.target');
  });

  it('strip the CEL rules and defaults from the spec snapshot a run carries', () => {
    const snapshot = at(openAPI(byPlural('evaluationruns')), 'spec.evaluationSpec');
    for (const [where, node] of walk(snapshot, 'spec.evaluationSpec')) {
      assert.equal(node['x-kubernetes-validations'], undefined, `${where}: CEL rule in snapshot`);
      assert.equal(node.default, undefined, `${where}: default in snapshot`);
    }
    assert.ok(
      (snapshot.required as string[]).includes('thresholds'),
      'a snapshot is complete, thresholds included',
    );
  });

  it('print columns whose JSONPaths exist in the schema', () => {
    const expected: Record<string, string[]> = {
      prunedmodelevaluations: ['Verdict', 'AccuracyDrop', 'P95', 'PSI', 'Live', 'LastRun', 'Status', 'Age'],
      evaluationruns: ['Evaluation', 'Phase', 'Shards', 'Started', 'Age'],
    };
    for (const [plural, names] of Object.entries(expected)) {
      const crd = byPlural(plural);
      const columns = crd.spec.versions[0]!.additionalPrinterColumns;
      assert.deepEqual(
        columns.filter((column) => (column.priority ?? 0) === 0).map((column) => column.name),
        names,
      );
      for (const column of columns) {
        if (column.jsonPath === '.metadata.creationTimestamp') continue;
        // `list[?(@.key=="value")].field`: the list's items must have that field.
        const path = column.jsonPath.slice(1).replace(/\[\?\(@\.\w+=="\w+"\)\]/, '.items');
        const field = at(openAPI(crd), path);
        if (column.type === 'date') assert.equal(field.format, 'date-time', column.name);
      }
    }
  });
});
