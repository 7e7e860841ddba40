/**
 * The permission tables of docs/security.md are the RBAC of manifests/install/ and the per-run Role
 * of src/controller/evaluator-access.ts, rule for rule, so the page cannot drift from what is
 * installed. test/integration/chart/ holds the chart's rendering against the same tables, and
 * test/integration/security/permissions.test.ts the `kubectl auth can-i --list` snapshots against a
 * real API server.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

import { evaluatorRules } from '../../../src/controller/evaluator-access.js';
import {
  canonical,
  permissionTables,
  section,
  securityDoc,
  tableRules,
  type Rule,
} from '../../support/security-doc.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const installDir = path.join(repoRoot, 'manifests/install');

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
  subjects?: { kind: string; name: string }[];
}

function installObjects(): K8sObject[] {
  return readdirSync(installDir)
    .filter((file) => file.endsWith('.yaml'))
    .flatMap((file) => yaml.loadAll(readFileSync(path.join(installDir, file), 'utf8')) as K8sObject[])
    .filter((doc) => doc !== null && doc !== undefined);
}

function installed(kind: string, name: string): K8sObject {
  const found = installObjects().filter((o) => o.kind === kind && o.metadata.name === name);
  assert.equal(found.length, 1, `manifests/install/ has ${found.length} ${kind} ${name}`);
  return found[0]!;
}

const tables = permissionTables;

function documented(heading: string): Rule[] {
  const rows = tableRules(section(securityDoc, heading));
  for (const { rule, why } of rows)
    assert.ok(why.length > 10, `${heading}: ${canonical([rule])[0]} has no why`);
  return rows.map((row) => row.rule);
}

test('the operator table is the ClusterRole of manifests/install/rbac.yaml', () => {
  assert.deepEqual(
    canonical(documented(tables.operator)),
    canonical(installed('ClusterRole', 'pruneguard-operator').rules!),
  );
});

test('the leader-election table is the Role of manifests/install/rbac.yaml', () => {
  assert.deepEqual(
    canonical(documented(tables.leaderElection)),
    canonical(installed('Role', 'pruneguard-operator-leader-election').rules!),
  );
});

test('the evaluation-pod table is evaluatorRules() of src/controller/evaluator-access.ts', () => {
  assert.deepEqual(canonical(documented(tables.evaluator)), canonical(evaluatorRules('<run>')));
});

test('the retraining ServiceAccount has no permissions, and nothing in manifests/install/ binds it', () => {
  const lines = section(securityDoc, tables.retraining);
  assert.ok(
    lines.find((line) => line.trim() !== '')?.startsWith('None.'),
    'the section does not start with "None."',
  );
  assert.ok(!lines.some((line) => line.startsWith('|')), 'the section has a table of permissions');
  const bindings = installObjects().filter(
    (o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding',
  );
  for (const binding of bindings)
    assert.ok(
      !(binding.subjects ?? []).some((subject) => subject.name === 'pruneguard-retraining'),
      `${binding.kind} ${binding.metadata.name} binds pruneguard-retraining`,
    );
  const args = installed('Deployment', 'pruneguard-operator') as unknown as {
    spec: { template: { spec: { containers: { args: string[] }[] } } };
  };
  assert.ok(
    args.spec.template.spec.containers[0]!.args.includes(
      '--retraining-service-account=pruneguard-retraining',
    ),
  );
});

test('every rule of manifests/install/rbac.yaml and of the chart has a one-line why above it', () => {
  for (const file of ['manifests/install/rbac.yaml', 'charts/pruneguard/templates/_operator-rules.tpl']) {
    const lines = readFileSync(path.join(repoRoot, file), 'utf8').split('\n');
    const undocumented = lines
      .map((line, i) => ({ line, before: lines[i - 1] ?? '', number: i + 1 }))
      .filter(({ line, before }) => /^\s*- apiGroups:/.test(line) && !/^\s*# \S/.test(before))
      .map(({ number }) => `${file}:${number}`);
    assert.deepEqual(undocumented, [], 'rules without a comment');
  }
});

/**
 * What `kubectl auth can-i --list` prints for rules, normalized as the snapshots are: `resource.group`
 * (the core group has no suffix) with `/subresource`, then non-resource URLs, names and verbs.
 */
function canIRows(rules: Rule[]): string[] {
  return rules
    .flatMap((rule) =>
      rule.apiGroups.flatMap((group) =>
        rule.resources.map((resource) => {
          const [plural, subresource] = resource.split('/');
          const name = `${plural}${group ? `.${group}` : ''}${subresource ? `/${subresource}` : ''}`;
          return `${name} [] [${(rule.resourceNames ?? []).join(' ')}] [${rule.verbs.join(' ')}]`;
        }),
      ),
    )
    .sort();
}

function snapshot(heading: string): string[] {
  const lines = section(securityDoc, heading);
  const open = lines.findIndex((line) => line.startsWith('```'));
  const close = lines.findIndex((line, i) => i > open && line.startsWith('```'));
  assert.ok(open >= 0 && close > open, `no fenced block under ${heading}`);
  return lines.slice(open + 1, close);
}

test('the kubectl auth can-i snapshots say what the tables say', () => {
  assert.deepEqual(
    snapshot('#### can-i: operator, in a namespace with evaluations'),
    canIRows(documented(tables.operator)),
  );
  assert.deepEqual(
    snapshot('#### can-i: operator, in the lease namespace, besides the above'),
    canIRows(documented(tables.leaderElection)),
  );
  assert.deepEqual(snapshot('#### can-i: evaluation pods of a run'), canIRows(documented(tables.evaluator)));
  assert.deepEqual(snapshot('#### can-i: retraining Jobs'), []);
});
