/**
 * The schemes and formats of src/api/v1alpha1/sources.ts are the only list of each: the CRDs the
 * API server gets, the controller's volumes, the egress policy and the evaluator's readers must
 * all agree with them.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import {
  dataFormatExtensions,
  dataFormats,
  mountedSchemes,
  mountRoot,
  networkSchemes,
  sourceSchemeNames,
  sourceSchemes,
  type MountedScheme,
} from '../../../src/api/v1alpha1/sources.js';
import { mountedVolumes, sourceMounts } from '../../../src/controller/evaluation-job.js';
import { formatFor, formats } from '../../../src/evaluator/data/formats.js';
import { readers } from '../../../src/evaluator/sources/index.js';
import { checkUri, clusterEgressDefaults, localEgressDefaults } from '../../../src/security/egress.js';
import { parsedEvaluation } from '../controller/parsed-evaluation.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
type Node = { [key: string]: unknown };

/** Every value of `key` anywhere under `node`, with the property name it sits under. */
function* fields(node: unknown, key: string, under = ''): Generator<[string, unknown]> {
  if (typeof node !== 'object' || node === null) return;
  for (const [name, child] of Object.entries(node as Node)) {
    if (name === key) yield [under, child];
    yield* fields(child, key, name);
  }
}

/** The CRDs as the API server gets them: the generated files in crds/. */
const crds = readdirSync(path.join(root, 'crds'))
  .filter((file) => file.endsWith('.yaml'))
  .flatMap((file) => yaml.loadAll(readFileSync(path.join(root, 'crds', file), 'utf8')));

/** A URI of the scheme that every reader and the egress policy take as well formed. */
const sample = (scheme: string) =>
  sourceSchemes[scheme as keyof typeof sourceSchemes]?.delivery === 'local'
    ? `${scheme}:///data/x.csv`
    : `${scheme}://name/x.csv`;

describe('the registry of sources', () => {
  it('is the CRDs’ URI pattern: every registered scheme and nothing else', () => {
    const uriPatterns = [...fields(crds, 'properties')].flatMap(([, properties]) => {
      const uri = (properties as Record<string, Node>).uri;
      return uri?.pattern === undefined ? [] : [uri.pattern as string];
    });
    assert.ok(uriPatterns.length >= 8, 'teacher, candidate, reference and current in both CRDs');
    const unregistered = ['s4', 'gs', 'ftp', 'htt', 'httpss', 'ttp', 'HTTP', 'pvcs', 'config'];
    for (const pattern of uriPatterns) {
      const accepts = (scheme: string) => new RegExp(pattern).test(sample(scheme));
      for (const scheme of sourceSchemeNames) assert.ok(accepts(scheme), `${pattern} refuses ${scheme}://`);
      for (const scheme of unregistered) assert.ok(!accepts(scheme), `${pattern} accepts ${scheme}://`);
    }
  });

  it('has a reader in the evaluator for every scheme', () => {
    assert.deepEqual(Object.keys(readers).sort(), [...sourceSchemeNames].sort());
  });

  it('has the controller mount a volume for every mounted scheme, and for no other', () => {
    assert.deepEqual(Object.keys(mountedVolumes).sort(), [...mountedSchemes].sort());
    for (const scheme of sourceSchemeNames) {
      const { volumes, volumeMounts } = sourceMounts([sample(scheme)]);
      if (sourceSchemes[scheme].delivery !== 'mounted') {
        assert.deepEqual(volumes, [], `${scheme}:// is not mounted`);
        continue;
      }
      assert.equal(volumes.length, 1, `${scheme}:// gets one volume`);
      assert.deepEqual(volumeMounts, [
        { name: volumes[0]!.name, mountPath: `${mountRoot(scheme as MountedScheme)}/name`, readOnly: true },
      ]);
    }
  });

  it('is what the egress policy knows: its defaults, and host checks on network schemes only', () => {
    assert.deepEqual(localEgressDefaults.schemes, sourceSchemeNames);
    assert.deepEqual(
      clusterEgressDefaults.schemes,
      sourceSchemeNames.filter((scheme) => sourceSchemes[scheme].delivery !== 'local'),
    );
    const noHosts = { ...localEgressDefaults, hosts: ['allowed.example'] };
    for (const scheme of sourceSchemeNames) {
      const refused = checkUri(noHosts, sample(scheme));
      if ((networkSchemes as string[]).includes(scheme))
        assert.match(refused ?? '', /not an allowed host/, scheme);
      else assert.equal(refused, undefined, scheme);
    }
  });

  it('accepts http:// in a spec, as docs/evaluator.md says (in-cluster services)', () => {
    const evaluation = parsedEvaluation({
      teacher: { uri: 'http://models.ml.svc.cluster.local/penguins/teacher.onnx' },
    });
    assert.equal(evaluation.spec.teacher.uri, 'http://models.ml.svc.cluster.local/penguins/teacher.onnx');
    assert.equal(checkUri(clusterEgressDefaults, evaluation.spec.teacher.uri), undefined);
  });
});

describe('the registry of data formats', () => {
  it('is the CRDs’ data.format enum and the evaluator’s readers', () => {
    const enums = [...fields(crds, 'format')]
      .map(([, format]) => (typeof format === 'object' ? (format as Node).enum : undefined))
      .filter((values) => values !== undefined);
    assert.ok(enums.length >= 2, 'spec.data.format in both CRDs');
    for (const values of enums) assert.deepEqual(values, dataFormats);
    assert.deepEqual(Object.keys(formats).sort(), [...dataFormats].sort());
  });

  it('picks each format by its extensions, in any case, ignoring a query', () => {
    for (const format of dataFormats)
      for (const extension of dataFormatExtensions[format]) {
        assert.equal(formatFor(`https://x/data${extension}`), formats[format], extension);
        assert.equal(formatFor(`https://x/DATA${extension.toUpperCase()}?v=2`), formats[format], extension);
      }
    assert.throws(
      () => formatFor('pvc://d/data.txt'),
      /set format to one of csv, jsonl, json, parquet, arrow/,
    );
  });
});
