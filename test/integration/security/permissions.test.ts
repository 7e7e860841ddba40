/**
 * What each identity of pruneguard may do, as a real API server says: manifests/install/ is applied,
 * and `kubectl auth can-i --list` for the operator, a run's evaluation pods and the retraining
 * ServiceAccount is compared with the snapshots in docs/security.md ("What kubectl auth can-i --list
 * shows", which also says how the output is normalized). The per-run identity is built by
 * evaluatorAccess() and created as the operator, so this also shows that the operator's own
 * permissions pass RBAC's escalation check for it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CustomObjectsApi } from '@kubernetes/client-node';

import {
  apiVersion,
  evaluationRunNames,
  group,
  parsePrunedModelEvaluation,
  version,
  type EvaluationRun,
} from '../../../src/api/v1alpha1/index.js';
import { evaluatorAccess } from '../../../src/controller/evaluator-access.js';
import { eventually, testCluster, testNamespace, type TestCluster } from '../../support/cluster.js';
import { installCrds } from '../../support/crds.js';
import { penguinsEvaluation } from '../controller/fixtures.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const installDir = path.join(repoRoot, 'manifests/install');
const operatorNamespace = 'pruneguard-system';
const operator = `system:serviceaccount:${operatorNamespace}:pruneguard-operator`;

/** The fenced block under `heading` (a whole line) in docs/security.md. */
async function snapshot(heading: string): Promise<string[]> {
  const lines = (await readFile(path.join(repoRoot, 'docs/security.md'), 'utf8')).split('\n');
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `docs/security.md has no heading "${heading}"`);
  const open = lines.findIndex((line, i) => i > start && line.startsWith('```'));
  const close = lines.findIndex((line, i) => i > open && line.startsWith('```'));
  return lines.slice(open + 1, close);
}

/**
 * `kubectl auth can-i --list` as `user` in `namespace`, one line per row: the columns joined by
 * single spaces (a non-resource row starts with a space), the header dropped, sorted, repeats once.
 */
async function canIList(cluster: TestCluster, namespace: string, user: string): Promise<string[]> {
  const listed = await cluster.kubectl(['auth', 'can-i', '--list', '-n', namespace, `--as=${user}`]);
  assert.equal(listed.code, 0, listed.stderr);
  const rows = listed.stdout
    .split('\n')
    .slice(1)
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const columns = /^(\S*)\s+(\[[^\]]*\])\s+(\[[^\]]*\])\s+(\[[^\]]*\])\s*$/.exec(line);
      assert.ok(columns, `unexpected kubectl auth can-i --list row: ${line}`);
      return columns.slice(1).join(' ');
    });
  return [...new Set(rows)].sort();
}

function without(rows: string[], ...others: string[][]): string[] {
  const known = new Set(others.flat());
  return rows.filter((row) => !known.has(row));
}

async function canI(cluster: TestCluster, namespace: string, user: string, ...what: string[]) {
  return (await cluster.kubectl(['auth', 'can-i', ...what, '-n', namespace, `--as=${user}`])).stdout.trim();
}

/** Creates `objects` as `user` with kubectl, as that user's own request. */
async function createAs(cluster: TestCluster, user: string, objects: object[]): Promise<void> {
  const created = await cluster.kubectl(
    ['create', `--as=${user}`, '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  );
  assert.equal(created.code, 0, created.stderr);
}

describe('permissions of manifests/install/ on a real API server', () => {
  let cluster: TestCluster;
  let everyServiceAccount: string[];

  before(async () => {
    cluster = await testCluster();
    await installCrds(cluster);
    const applied = await cluster.kubectl(['apply', '--server-side', '-f', installDir]);
    assert.equal(applied.code, 0, applied.stderr);
    // The RBAC authorizer sees new bindings through its informers, a moment after they are written.
    for (const [namespace, verb, resource] of [
      [operatorNamespace, 'create', 'leases.coordination.k8s.io'],
      ['default', 'watch', 'prunedmodelevaluations.pruneguard.io'],
    ] as const)
      await eventually(`the operator to be allowed to ${verb} ${resource} in ${namespace}`, async () =>
        (await canI(cluster, namespace, operator, verb, resource)) === 'yes' ? true : undefined,
      );
    // A ServiceAccount nothing binds (it need not exist): what every ServiceAccount gets anyway.
    const nobody = `system:serviceaccount:${operatorNamespace}:nobody-${randomBytes(3).toString('hex')}`;
    everyServiceAccount = await canIList(cluster, operatorNamespace, nobody);
  });

  after(async () => {
    await cluster.kubectl(['delete', '--ignore-not-found', '--wait=false', '-f', installDir]);
  });

  it('gives every ServiceAccount only Kubernetes’ defaults', async () => {
    assert.deepEqual(everyServiceAccount, await snapshot('#### can-i: every ServiceAccount'));
  });

  it('gives the operator what docs/security.md lists, and the Lease only in its namespace', async (t) => {
    const namespace = await testNamespace(t, cluster);
    const anywhere = without(await canIList(cluster, namespace, operator), everyServiceAccount);
    assert.deepEqual(anywhere, await snapshot('#### can-i: operator, in a namespace with evaluations'));
    const leaseNamespace = without(
      await canIList(cluster, operatorNamespace, operator),
      everyServiceAccount,
      anywhere,
    );
    assert.deepEqual(
      leaseNamespace,
      await snapshot('#### can-i: operator, in the lease namespace, besides the above'),
    );
  });

  it('gives a run’s evaluation pods their own run and nothing else', async (t) => {
    const namespace = await testNamespace(t, cluster);
    const objects = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
    const createRun = async (name: string) =>
      (await objects.createNamespacedCustomObject({
        group,
        version,
        namespace,
        plural: evaluationRunNames.plural,
        body: {
          apiVersion,
          kind: evaluationRunNames.kind,
          metadata: { name },
          spec: {
            evaluationName: 'penguins',
            generation: 1,
            shards: 1,
            evaluationSpec: parsePrunedModelEvaluation(penguinsEvaluation('penguins'), 'penguins').spec,
          },
        },
      })) as EvaluationRun;
    const run = await createRun('penguins-00001');
    await createRun('penguins-00002');

    const access = evaluatorAccess(run);
    await createAs(cluster, operator, [access.serviceAccount, access.role, access.roleBinding]);
    const evaluator = `system:serviceaccount:${namespace}:${run.metadata.name}`;
    await eventually('the run’s RoleBinding to take effect', async () =>
      (await canI(cluster, namespace, evaluator, 'get', 'evaluationruns.pruneguard.io/penguins-00001')) ===
      'yes'
        ? true
        : undefined,
    );

    const rows = without(await canIList(cluster, namespace, evaluator), everyServiceAccount).map((row) =>
      row.replaceAll(run.metadata.name!, '<run>'),
    );
    assert.deepEqual(rows, await snapshot('#### can-i: evaluation pods of a run'));

    const status = ['--subresource=status'];
    assert.deepEqual(
      {
        'patch its own run’s status': await canI(
          cluster,
          namespace,
          evaluator,
          'patch',
          'evaluationruns.pruneguard.io/penguins-00001',
          ...status,
        ),
        'patch another run’s status': await canI(
          cluster,
          namespace,
          evaluator,
          'patch',
          'evaluationruns.pruneguard.io/penguins-00002',
          ...status,
        ),
        'get another run': await canI(
          cluster,
          namespace,
          evaluator,
          'get',
          'evaluationruns.pruneguard.io/penguins-00002',
        ),
        'patch its own run': await canI(
          cluster,
          namespace,
          evaluator,
          'patch',
          'evaluationruns.pruneguard.io/penguins-00001',
        ),
      },
      {
        'patch its own run’s status': 'yes',
        'patch another run’s status': 'no',
        'get another run': 'no',
        'patch its own run': 'no',
      },
    );
  });

  it('gives the retraining ServiceAccount nothing', async (t) => {
    const namespace = await testNamespace(t, cluster);
    await createAs(cluster, operator, [
      {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'pruneguard-retraining', namespace },
        automountServiceAccountToken: false,
      },
    ]);
    const retraining = `system:serviceaccount:${namespace}:pruneguard-retraining`;
    const rows = without(await canIList(cluster, namespace, retraining), everyServiceAccount);
    assert.deepEqual(rows, await snapshot('#### can-i: retraining Jobs'));
  });
});
