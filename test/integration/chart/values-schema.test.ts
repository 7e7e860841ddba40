/**
 * charts/pruneguard/values.schema.json, checked with the real helm (hack/helm/) the way users meet
 * it: the defaults and every documented example lint and render, and a misspelt key, a wrong type
 * or a value outside its range makes `helm lint` and `helm template` fail with the field's path.
 * The schema and values.yaml describe the same keys, and the schema's lists come from the code.
 */
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { pino } from 'pino';
import { metricNames } from '../../../src/api/v1alpha1/index.js';
import { sourceSchemeNames } from '../../../src/api/v1alpha1/sources.js';
import { runCommand } from '../../support/cluster.js';
import { temporaryDirectory } from '../../support/temporary-directory.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const chartDir = path.join(repoRoot, 'charts/pruneguard');

type Json = Record<string, unknown>;

interface Schema {
  $schema?: string;
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  items?: Schema;
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  definitions?: Record<string, Schema>;
}

/**
 * Helm gives every chart `global`, and a chart used as a dependency gets its parent's: a schema
 * that refuses unknown keys must name it, although values.yaml has nothing to put there.
 */
const helmOwned = new Set(['global']);

/** Objects handed to Kubernetes as they are: checked there, so open here. */
const openObjects = new Set(['resources']);

let helmBinary: string;
let schema: Schema;
let values: Json;
let scratch: string;

async function helm(args: string[]): Promise<{ code: number; output: string }> {
  const result = await runCommand(helmBinary, args);
  return { code: result.code, output: `${result.stdout}${result.stderr}` };
}

/** `helm lint --strict` and `helm template` with these values files and flags; both must pass. */
async function accepts(what: string, args: string[]): Promise<void> {
  for (const command of [
    ['lint', '--strict', chartDir],
    ['template', 'pruneguard', chartDir],
  ]) {
    const { code, output } = await helm([...command, ...args]);
    assert.equal(code, 0, `${what}: helm ${command[0]} failed:\n${output}`);
  }
}

let valuesFiles = 0;
async function valuesFile(content: string): Promise<string> {
  const file = path.join(scratch, `values-${++valuesFiles}.yaml`);
  await writeFile(file, content);
  return file;
}

function resolve(node: Schema): Schema {
  if (node.$ref === undefined) return node;
  const name = /^#\/definitions\/(.+)$/.exec(node.$ref)?.[1];
  const target = name === undefined ? undefined : schema.definitions?.[name];
  assert.ok(target, `unresolvable $ref ${node.$ref}`);
  return resolve(target);
}

function isMap(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Keys of values.yaml the schema does not describe, and schema properties values.yaml lacks. */
function drift(valuesNode: Json, schemaNode: Schema, where = ''): string[] {
  const node = resolve(schemaNode);
  const properties = node.properties ?? {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(valuesNode)) {
    const path = where ? `${where}.${key}` : key;
    const property = properties[key];
    if (property === undefined) {
      if (node.additionalProperties === false) problems.push(`${path}: in values.yaml, not in the schema`);
      continue;
    }
    if (isMap(value)) problems.push(...drift(value, property, path));
  }
  for (const key of Object.keys(properties)) {
    const path = where ? `${where}.${key}` : key;
    if (!(key in valuesNode) && !(where === '' && helmOwned.has(key)))
      problems.push(`${path}: in the schema, not in values.yaml`);
  }
  return problems;
}

/** Objects of the schema with named properties that still take any other key. */
function openNamedObjects(schemaNode: Schema, where = ''): string[] {
  const node = resolve(schemaNode);
  const own = node.properties && node.additionalProperties !== false && where !== '' ? [where] : [];
  return [
    ...own,
    ...Object.entries(node.properties ?? {}).flatMap(([key, property]) =>
      openNamedObjects(property, where ? `${where}.${key}` : key),
    ),
    ...(node.items ? openNamedObjects(node.items, `${where}[]`) : []),
  ];
}

/** The schema node of a dotted path of values. */
function schemaAt(dotted: string): Schema {
  return dotted.split('.').reduce<Schema>((node, key) => {
    const property = resolve(node).properties?.[key];
    assert.ok(property, `the schema has no ${dotted}`);
    return property;
  }, schema);
}

/** `--set` and `--set-json` arguments of the helm commands in docs/install.md's shell blocks. */
function documentedHelmArgs(markdown: string): string[][] {
  const blocks = [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
  const commands = blocks
    .flatMap((block) => block.replace(/\\\n\s*/g, ' ').split('\n'))
    .filter((line) => /^helm (install|upgrade)\b.*charts\/pruneguard/.test(line.trim()));
  return commands.map((command) => {
    const words = command.trim().split(/\s+/);
    return words.flatMap((word, i) =>
      ['--set', '--set-json', '--set-string'].includes(word) ? [word, words[i + 1]!] : [],
    );
  });
}

/** Rows of the values table in docs/install.md whose text gives an example, e.g. `{team: x}`. */
function documentedExamples(markdown: string): [string, unknown][] {
  return [...markdown.matchAll(/^\| `([\w.]+)` \|.*\be\.g\. `([^`]+)`/gm)].map((match) => [
    match[1]!,
    yaml.load(match[2]!),
  ]);
}

describe('values.schema.json of the Helm chart', () => {
  before(async () => {
    const built = await runCommand('bash', [path.join(repoRoot, 'hack/helm/build.sh')]);
    assert.equal(built.code, 0, `hack/helm/build.sh failed: ${built.stderr}`);
    helmBinary = path.join(built.stdout.trim().split('\n').at(-1)!, 'helm');
    schema = JSON.parse(await readFile(path.join(chartDir, 'values.schema.json'), 'utf8')) as Schema;
    values = yaml.load(await readFile(path.join(chartDir, 'values.yaml'), 'utf8')) as Json;
    scratch = await temporaryDirectory('values-schema');
  });

  it('is draft-07 and describes exactly the keys of values.yaml', () => {
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
    assert.deepEqual(drift(values, schema), []);
    assert.deepEqual(
      openNamedObjects(schema).filter((where) => !openObjects.has(where)),
      [],
      'objects with named keys must refuse others (additionalProperties: false), or be listed in openObjects',
    );
  });

  it('takes its lists of schemes, metrics and log levels from the code that reads them', () => {
    assert.deepEqual(schemaAt('security.egress.schemes').items?.enum, sourceSchemeNames);
    assert.deepEqual(schemaAt('prometheusRule.metrics').items?.enum, [...metricNames]);
    assert.deepEqual(schemaAt('logLevel').enum, [...Object.keys(pino.levels.values), 'silent']);
  });

  it('accepts the defaults, everything enabled, and the examples of docs/install.md and manifests/argocd/', async () => {
    await accepts('the defaults', []);
    await accepts('everything enabled', [
      '--set',
      'serviceMonitor.enabled=true,prometheusRule.enabled=true,grafanaDashboard.enabled=true',
    ]);

    const install = await readFile(path.join(repoRoot, 'docs/install.md'), 'utf8');
    const commands = documentedHelmArgs(install);
    assert.ok(
      commands.some((args) => args.length > 0),
      'no helm command with --set found in docs/install.md',
    );
    for (const args of commands) await accepts(`docs/install.md: helm ${args.join(' ')}`, args);

    const examples = documentedExamples(install);
    assert.ok(examples.length >= 4, `only ${examples.length} examples found in the values table`);
    for (const [key, example] of examples)
      await accepts(`docs/install.md: ${key} e.g. ${JSON.stringify(example)}`, [
        '--set-json',
        `${key}=${JSON.stringify(example)}`,
      ]);

    const application = yaml.load(
      await readFile(path.join(repoRoot, 'manifests/argocd/application.yaml'), 'utf8'),
    ) as { spec: { source: { helm: { valuesObject: Json } } } };
    await accepts('manifests/argocd/application.yaml valuesObject', [
      '--values',
      await valuesFile(yaml.dump(application.spec.source.helm.valuesObject)),
    ]);
  });

  it('makes helm lint and helm template fail on a wrong value, naming it', async () => {
    const cases: { what: string; values: string; message: RegExp }[] = [
      {
        what: 'a string for a number',
        values: 'replicas: two',
        message: /at '\/replicas': got string, want integer/,
      },
      {
        what: 'a misspelt top-level key',
        values: 'replica: 2',
        message: /at '': additional properties 'replica' not allowed/,
      },
      {
        what: 'a misspelt nested key',
        values: 'security:\n  egress:\n    host: x',
        message: /at '\/security\/egress': additional properties 'host' not allowed/,
      },
      {
        what: 'a pull policy Kubernetes does not know',
        values: 'image:\n  pullPolicy: Sometimes',
        message: /at '\/image\/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'/,
      },
      {
        what: 'a log level pino does not know',
        values: 'logLevel: verbose',
        message: /at '\/logLevel': value must be one of 'trace', /,
      },
      { what: 'no replicas', values: 'replicas: 0', message: /at '\/replicas': minimum: got 0, want 1/ },
      {
        what: 'a port above 65535',
        values: 'port: 80800',
        message: /at '\/port': maximum: got 80,?800, want 65,?535/,
      },
      {
        what: 'an unknown scheme',
        values: 'security:\n  egress:\n    schemes: [https, ftp]',
        message: /at '\/security\/egress\/schemes\/1': value must be one of 'pvc', /,
      },
      {
        what: 'no egress host at all',
        values: 'security:\n  egress:\n    hosts: []',
        message: /at '\/security\/egress\/hosts': minItems: got 0, want 1/,
      },
      {
        what: 'a metric the operator does not grade',
        values: 'prometheusRule:\n  metrics: [accuracy]',
        message: /at '\/prometheusRule\/metrics\/0': value must be one of 'accuracyDrop', /,
      },
      {
        what: 'an unquoted boolean as a label value',
        values: 'nodeSelector:\n  gpu: true',
        message: /at '\/nodeSelector\/gpu': got boolean, want string/,
      },
      {
        what: 'a misspelt key of a pull secret',
        values: 'imagePullSecrets:\n  - nam: regcred',
        message:
          /at '\/imagePullSecrets\/0': (missing property 'name'|additional properties 'nam' not allowed)/,
      },
      {
        what: 'a namespace that is no DNS label',
        values: 'watchNamespace: Models',
        message: /at '\/watchNamespace': '?Models'? does not match pattern/,
      },
      {
        what: 'a number for an image tag',
        values: 'image:\n  tag: 1.10',
        message: /at '\/image\/tag': got number, want string/,
      },
    ];
    const problems: string[] = [];
    for (const { what, values: content, message } of cases) {
      const file = await valuesFile(`${content}\n`);
      for (const command of [
        ['lint', '--strict', chartDir],
        ['template', 'pruneguard', chartDir],
      ]) {
        const { code, output } = await helm([...command, '--values', file]);
        if (code === 0) problems.push(`${what}: helm ${command[0]} passed`);
        else if (!message.test(output))
          problems.push(`${what}: helm ${command[0]} said\n${output.trim()}\ninstead of ${message}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it('lets the chart be a dependency of another chart, whose global values it receives', async () => {
    const umbrella = path.join(scratch, 'umbrella');
    await cp(chartDir, path.join(umbrella, 'charts/pruneguard'), { recursive: true });
    await writeFile(
      path.join(umbrella, 'Chart.yaml'),
      yaml.dump({
        apiVersion: 'v2',
        name: 'platform',
        version: '1.0.0',
        dependencies: [{ name: 'pruneguard', version: '0.1.0' }],
      }),
    );
    await writeFile(
      path.join(umbrella, 'values.yaml'),
      yaml.dump({ global: { imageRegistry: 'registry.example.com' }, pruneguard: { replicas: 3 } }),
    );
    const rendered = await helm(['template', 'platform', umbrella]);
    assert.equal(rendered.code, 0, rendered.output);
    assert.match(rendered.output, /replicas: 3\n/);

    const misspelt = await helm(['template', 'platform', umbrella, '--set', 'pruneguard.replica=3']);
    assert.notEqual(misspelt.code, 0, 'a misspelt subchart value was accepted');
    assert.match(misspelt.output, /pruneguard:\n- at '': additional properties 'replica' not allowed/);
  });
});
