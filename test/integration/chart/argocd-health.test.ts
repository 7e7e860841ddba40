/**
 * The Argo CD health check of manifests/argocd/, run in glua (hack/lua/): gopher-lua, the
 * interpreter Argo CD embeds, sandboxed the way Argo CD runs a health script from argocd-cm (its
 * util/lua/lua.go: `obj` a global, only the base, table and a reduced os library). Each state is a
 * PrunedModelEvaluation written to a real API server and read back, so the script sees what Argo
 * CD's cache holds: defaults applied, the status the CRD accepts. The cases are the rows of the
 * table in docs/install.md, so the page and the script cannot drift apart.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import type { PrunedModelEvaluationStatus, Verdict } from '../../../src/api/v1alpha1/index.js';
import { runCommand, testCluster, testNamespace, type TestCluster } from '../../support/cluster.js';
import { installCrds, pruneguardCrdDir } from '../../support/crds.js';
import { temporaryDirectory } from '../../support/temporary-directory.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const healthScript = path.join(repoRoot, 'manifests/argocd/pruneguard-health.lua');
const configMapSnippet = path.join(repoRoot, 'manifests/argocd/argocd-cm-health.yaml');
const healthKey = 'resource.customizations.health.pruneguard.io_PrunedModelEvaluation';

/** Argo CD turns any other status into Unknown with "Lua returned an invalid health status". */
const healthStatuses = ['Healthy', 'Progressing', 'Degraded', 'Suspended', 'Missing', 'Unknown'];

/**
 * Runs the health script given as arg[1] on the Lua table returned by the file arg[2] and prints
 * the status, a newline and the message. The environment is Argo CD's: its base library, `table`,
 * an os library of time and date only, and no string library, whose methods strings lose too.
 */
const harness = `
local script, objectFile = arg[1], arg[2]
local env = { table = table, os = { time = os.time, date = os.date } }
for _, name in ipairs({ "assert", "collectgarbage", "dofile", "error", "getfenv", "getmetatable",
    "ipairs", "load", "loadfile", "loadstring", "module", "next", "pairs", "pcall", "print",
    "rawequal", "rawget", "rawset", "require", "select", "setfenv", "setmetatable", "tonumber",
    "tostring", "type", "unpack", "xpcall", "_VERSION" }) do
  env[name] = _G[name]
end
env._G = env
env.obj = dofile(objectFile)
local chunk = assert(loadfile(script))
setfenv(chunk, env)
local stringMetatable = getmetatable("")
local stringLibrary = stringMetatable.__index
stringMetatable.__index = nil
local ok, hs = pcall(chunk)
stringMetatable.__index = stringLibrary
if not ok then
  io.stderr:write("health script failed: " .. tostring(hs) .. "\\n")
  os.exit(2)
end
if type(hs) ~= "table" or type(hs.status) ~= "string" or (hs.message ~= nil and type(hs.message) ~= "string") then
  io.stderr:write("health script returned no {status = string, message = string}\\n")
  os.exit(3)
end
io.write(hs.status, "\\n", hs.message or "")
`;

/** A Lua string literal of the UTF-8 bytes, every byte outside printable ASCII as \\ddd. */
function luaString(text: string): string {
  const bytes = [...Buffer.from(text, 'utf8')].map((byte) =>
    byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c
      ? String.fromCharCode(byte)
      : `\\${String(byte).padStart(3, '0')}`,
  );
  return `"${bytes.join('')}"`;
}

/**
 * A JSON value as Argo CD hands it to Lua (decodeValue in util/lua/lua.go): objects become tables
 * keyed by string, arrays sequences from 1, numbers numbers, null nil.
 */
function luaValue(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return luaString(value);
  if (Array.isArray(value)) return `{${value.map(luaValue).join(', ')}}`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([key, item]) => `[${luaString(key)}] = ${luaValue(item)}`)
    .join(', ')}}`;
}

let glua: string;
let scratch: string;
let runs = 0;

/** The health Argo CD would show for this object, or the interpreter's complaint. */
async function health(
  object: unknown,
  script = healthScript,
): Promise<{ status: string; message: string } | { error: string }> {
  const objectFile = path.join(scratch, `object-${++runs}.lua`);
  await writeFile(objectFile, `return ${luaValue(object)}\n`);
  const result = await runCommand(glua, [path.join(scratch, 'harness.lua'), script, objectFile]);
  if (result.code !== 0) return { error: `${result.stderr}${result.stdout}`.trim() };
  const newline = result.stdout.indexOf('\n');
  return { status: result.stdout.slice(0, newline), message: result.stdout.slice(newline + 1) };
}

type Json = Record<string, unknown>;

/** RFC 7386, as `kubectl patch --type=merge` applies it. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const merged: Json =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Json) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else merged[key] = mergePatch(merged[key], value);
  }
  return merged;
}

const at = '2026-11-28T10:00:00Z';
type Condition = NonNullable<PrunedModelEvaluationStatus['conditions']>[number];

function condition(
  type: string,
  status: Condition['status'],
  reason: string,
  message: string,
  observedGeneration = 1,
): Condition {
  return { type, status, reason, message, observedGeneration, lastTransitionTime: at };
}

function graded(verdict: Verdict, explanation: string): PrunedModelEvaluationStatus {
  return {
    observedGeneration: 1,
    verdict,
    explanation,
    lastRun: { name: 'penguins-p70-00001', startedAt: at, completedAt: at, samples: 333 },
    conditions: [
      condition('Ready', 'True', 'Graded', `penguins-p70-00001: ${verdict}`),
      condition(
        'Degraded',
        verdict === 'Critical' || verdict === 'Warning' ? 'True' : 'False',
        verdict,
        explanation,
      ),
      condition('EvaluationFailed', 'False', 'RunSucceeded', 'penguins-p70-00001 graded'),
    ],
  };
}

const unschedulable =
  'penguins-p70-00001-0-x7k2q: Unschedulable: 0/3 nodes are available: 3 Insufficient memory.';

interface Case {
  /** The first column of the row of docs/install.md's table this case shows. */
  row: string;
  what: string;
  /** A JSON merge patch of the example's spec before creation. */
  createdWith?: Json;
  /** A JSON merge patch of the spec after creation, so that metadata.generation is 2. */
  specChange?: Json;
  status?: PrunedModelEvaluationStatus;
  health: string;
  message: RegExp;
}

const cases: Case[] = [
  {
    row: '`spec.suspend: true`',
    what: 'suspended after a Critical verdict',
    specChange: { suspend: true },
    status: graded('Critical', 'accuracyDrop 9.40% > 5% warning'),
    health: 'Suspended',
    message: /^spec\.suspend: no new runs and no actions; last verdict Critical$/,
  },
  {
    row: '`Ready=False` reason `SpecRefused`, for the current spec',
    what: 'a spec the operator refuses',
    status: {
      conditions: [
        condition(
          'Ready',
          'False',
          'SpecRefused',
          'spec.runtime.image ghcr.io/acme/evaluator:1 is not allowed (--allowed-evaluator-images)',
        ),
      ],
    },
    health: 'Degraded',
    message: /^SpecRefused: spec\.runtime\.image ghcr\.io\/acme\/evaluator:1 is not allowed/,
  },
  {
    row: 'no verdict yet',
    what: 'just created',
    health: 'Progressing',
    message: /^waiting for the first graded run$/,
  },
  {
    row: 'no verdict yet',
    what: 'the first run waiting for a node',
    status: { conditions: [condition('Ready', 'False', 'RunPending', unschedulable)] },
    health: 'Progressing',
    message: /^waiting for the first graded run \(penguins-p70-00001-0-x7k2q: Unschedulable: 0\/3 nodes/,
  },
  {
    row: 'a verdict of an older spec',
    what: 'the candidate changed after a Critical verdict',
    specChange: { candidate: { uri: 'pvc://models/penguins/pruned-60.onnx' } },
    status: graded('Critical', 'accuracyDrop 9.40% > 5% warning'),
    health: 'Progressing',
    message: /^evaluating generation 2; the verdict Critical is of generation 1$/,
  },
  {
    row: 'a verdict of an older spec',
    what: 'a refused spec fixed since',
    createdWith: { runtime: { image: 'ghcr.io/acme/evaluator:1' } },
    specChange: { runtime: { image: null } },
    status: {
      ...graded('Pass', 'all 6 graded metrics meet their targets'),
      conditions: [condition('Ready', 'False', 'SpecRefused', 'spec.runtime.image is not allowed')],
    },
    health: 'Progressing',
    message: /^evaluating generation 2; the verdict Pass is of generation 1$/,
  },
  {
    row: 'verdict `Critical`',
    what: 'Critical, with the next scheduled run pending',
    status: {
      ...graded('Critical', 'accuracyDrop 9.40% > 5% warning (and 2 more critical)'),
      conditions: [condition('Ready', 'False', 'RunPending', unschedulable)],
    },
    health: 'Degraded',
    message: /^Critical: accuracyDrop 9\.40% > 5% warning \(and 2 more critical\)$/,
  },
  {
    row: 'verdict `Inconclusive`',
    what: 'the last run was OOMKilled',
    status: {
      observedGeneration: 1,
      verdict: 'Inconclusive',
      explanation:
        'Inconclusive: penguins-p70-00002: penguins-p70-00002-0-abcde: the evaluator exceeded its memory limit (exit code 137)',
      conditions: [
        condition(
          'Ready',
          'False',
          'OOMKilled',
          'penguins-p70-00002: the evaluator exceeded its memory limit',
        ),
        condition(
          'EvaluationFailed',
          'True',
          'OOMKilled',
          'penguins-p70-00002: the evaluator exceeded its memory limit',
        ),
      ],
    },
    health: 'Degraded',
    message: /^Inconclusive: OOMKilled: penguins-p70-00002: the evaluator exceeded its memory limit$/,
  },
  {
    row: 'verdict `Inconclusive`',
    what: 'nothing could be graded',
    status: graded('Inconclusive', 'nothing could be graded: no metric was computed or enabled'),
    health: 'Degraded',
    message: /^Inconclusive: nothing could be graded: no metric was computed or enabled$/,
  },
  {
    row: '`EvaluationFailed=True` reason `ActionFailed`',
    what: 'a Pass the target could not be advanced on',
    status: {
      ...graded('Pass', 'all 6 graded metrics meet their targets'),
      conditions: [
        condition(
          'EvaluationFailed',
          'True',
          'ActionFailed',
          'Advance: Deployment penguins-classifier-canary not found',
        ),
      ],
    },
    health: 'Degraded',
    message: /^Pass, but ActionFailed: Advance: Deployment penguins-classifier-canary not found$/,
  },
  {
    row: 'verdict `Warning`',
    what: 'Warning',
    status: graded('Warning', 'p95LatencyMs 31.2 ms > 20 ms target'),
    health: 'Healthy',
    message: /^Warning: p95LatencyMs 31\.2 ms > 20 ms target$/,
  },
  {
    row: 'verdict `Pass`',
    what: 'Pass',
    status: graded('Pass', 'all 6 graded metrics meet their targets, overall and in 3 slices'),
    health: 'Healthy',
    message: /^Pass: all 6 graded metrics meet their targets, overall and in 3 slices$/,
  },
];

/** Rows of the "Argo CD health" table of docs/install.md: first column → health. */
async function documentedRows(): Promise<Map<string, string>> {
  const page = await readFile(path.join(repoRoot, 'docs/install.md'), 'utf8');
  const section = /^### Argo CD health\n([\s\S]*?)(?=^#)/m.exec(page)?.[1];
  assert.ok(section, 'docs/install.md has no "### Argo CD health" section');
  const rows = [...section.matchAll(/^\| (.+?) \| (\w+) \|/gm)].filter((row) => row[2] !== 'health');
  return new Map(rows.map((row) => [row[1]!, row[2]!]));
}

describe('the Argo CD health check of PrunedModelEvaluations', () => {
  let cluster: TestCluster;

  before(async () => {
    const built = await runCommand('bash', [path.join(repoRoot, 'hack/lua/build.sh')]);
    assert.equal(built.code, 0, `hack/lua/build.sh failed: ${built.stderr}`);
    glua = path.join(built.stdout.trim().split('\n').at(-1)!, 'glua');
    scratch = await temporaryDirectory('argocd-health');
    await writeFile(path.join(scratch, 'harness.lua'), harness);
    cluster = await testCluster();
    await installCrds(cluster, [pruneguardCrdDir]);
  });

  it('is embedded verbatim in the argocd-cm snippet, under the key Argo CD looks up', async () => {
    const snippet = yaml.load(await readFile(configMapSnippet, 'utf8')) as {
      kind: string;
      metadata: { name: string };
      data: Record<string, string>;
    };
    assert.equal(snippet.kind, 'ConfigMap');
    assert.equal(snippet.metadata.name, 'argocd-cm');
    assert.deepEqual(Object.keys(snippet.data), [healthKey]);
    assert.equal(snippet.data[healthKey], await readFile(healthScript, 'utf8'));
  });

  it('runs scripts as narrowly as Argo CD: no string library, no io, a {status, message} of strings', async () => {
    const object = { metadata: { name: 'x' } };
    for (const [script, complaint] of [
      [
        'return { status = string.format("%s", "Healthy") }',
        /index a non-table object\(nil\) with key 'format'/,
      ],
      ['return { status = ("Healthy"):lower() }', /index a non-table object\(string\) with key 'lower'/],
      ['io.write("x") return { status = "Healthy" }', /index a non-table object\(nil\) with key 'write'/],
      ['return { status = "Healthy", message = 3 }', /returned no \{status = string, message = string\}/],
    ] as const) {
      const file = path.join(scratch, `control-${++runs}.lua`);
      await writeFile(file, script);
      const result = await health(object, file);
      assert.ok('error' in result, `${script} ran, but Argo CD would refuse it`);
      assert.match(result.error, complaint);
    }
    const allowed = path.join(scratch, 'allowed.lua');
    await writeFile(allowed, 'return { status = "Healthy", message = obj.metadata.name .. tostring(#{1}) }');
    assert.deepEqual(await health(object, allowed), { status: 'Healthy', message: 'x1' });
  });

  it('gives each state of an evaluation the health docs/install.md tables', async (t) => {
    const namespace = await testNamespace(t, cluster);
    const example = yaml.load(
      await readFile(path.join(repoRoot, 'manifests/examples/penguins-cpu-deployment.yaml'), 'utf8'),
    ) as { apiVersion: string; kind: string; spec: Json };
    const documented = await documentedRows();
    const problems: string[] = [];

    for (const [index, testCase] of cases.entries()) {
      const name = `penguins-p70-${index}`;
      const kubectl = async (args: string[], input?: string): Promise<Json> => {
        const result = await cluster.kubectl([...args, '-n', namespace, '-o', 'json'], input);
        assert.equal(result.code, 0, `${testCase.what}: kubectl ${args.join(' ')}: ${result.stderr}`);
        return JSON.parse(result.stdout) as Record<string, unknown>;
      };
      let live = await kubectl(
        ['create', '-f', '-'],
        JSON.stringify({
          ...example,
          metadata: { name },
          spec: mergePatch(example.spec, testCase.createdWith ?? {}),
        }),
      );
      if (testCase.specChange)
        live = await kubectl([
          'patch',
          'pme',
          name,
          '--type=merge',
          '-p',
          JSON.stringify({ spec: testCase.specChange }),
        ]);
      if (testCase.status)
        live = await kubectl([
          'patch',
          'pme',
          name,
          '--subresource=status',
          '--type=merge',
          '-p',
          JSON.stringify({ status: testCase.status }),
        ]);
      const expectedGeneration = testCase.specChange ? 2 : 1;
      assert.equal((live.metadata as { generation: number }).generation, expectedGeneration, testCase.what);

      const result = await health(live);
      if ('error' in result) {
        problems.push(`${testCase.what}: ${result.error}`);
        continue;
      }
      assert.ok(healthStatuses.includes(result.status), `${testCase.what}: ${result.status}`);
      if (result.status !== testCase.health || !testCase.message.test(result.message))
        problems.push(
          `${testCase.what}: ${result.status} "${result.message}", expected ${testCase.health} ${testCase.message}`,
        );
      if (documented.get(testCase.row) !== testCase.health)
        problems.push(
          `${testCase.what}: docs/install.md has ${documented.has(testCase.row) ? `${documented.get(testCase.row)} for` : 'no row'} "${testCase.row}"`,
        );
    }
    const shown = new Set(cases.map((testCase) => testCase.row));
    for (const row of documented.keys()) if (!shown.has(row)) problems.push(`no case shows the row "${row}"`);
    assert.deepEqual(problems, []);
  });

  it('adds itself to an existing argocd-cm with kubectl patch, keeping the other keys', async (t) => {
    const namespace = await testNamespace(t, cluster);
    const existing = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'argocd-cm', namespace },
      data: { url: 'https://argocd.example.com', 'timeout.reconciliation': '180s' },
    };
    const created = await cluster.kubectl(['create', '-f', '-'], JSON.stringify(existing));
    assert.equal(created.code, 0, created.stderr);
    const patched = await cluster.kubectl([
      '-n',
      namespace,
      'patch',
      'configmap',
      'argocd-cm',
      '--patch-file',
      configMapSnippet,
      '-o',
      'json',
    ]);
    assert.equal(patched.code, 0, patched.stderr);
    const data = (JSON.parse(patched.stdout) as { data: Record<string, string> }).data;
    assert.deepEqual(Object.keys(data).sort(), [healthKey, 'timeout.reconciliation', 'url']);
    assert.equal(data[healthKey], await readFile(healthScript, 'utf8'));
  });
});
