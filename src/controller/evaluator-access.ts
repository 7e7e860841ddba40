import type { V1Role, V1RoleBinding, V1ServiceAccount } from '@kubernetes/client-node';
import { apiVersion, evaluationRunNames, group, type EvaluationRun } from '../api/v1alpha1/index.js';
import { labels, ownerReference } from './evaluation-job.js';

/**
 * The identity of one run's evaluation pods: a ServiceAccount, a Role and a RoleBinding, all named
 * after the run and owned by it. The Role names the run in `resourceNames`, so a pod can read its
 * own EvaluationRun and write its status and nothing else: not another run's status, not any other
 * object. The operator deletes the RoleBinding as soon as the run is finished (a Job's pods and
 * their tokens outlive it), and the garbage collector removes all three with the run.
 *
 * Every pod of the run shares this identity (an Indexed Job has one pod template), so a shard could
 * write another shard's entry of the same run; the API refuses a second, different write of an
 * entry (ShardStatus's CEL rule), and the operator checks each entry's digest (grade-run.ts).
 */
export interface EvaluatorAccess {
  serviceAccount: V1ServiceAccount;
  role: V1Role;
  roleBinding: V1RoleBinding;
}

/** The rules of a run's Role: what `kubectl auth can-i --list` shows for its ServiceAccount. */
export function evaluatorRules(run: string) {
  return [
    { apiGroups: [group], resources: [evaluationRunNames.plural], verbs: ['get'], resourceNames: [run] },
    {
      apiGroups: [group],
      resources: [`${evaluationRunNames.plural}/status`],
      verbs: ['patch'],
      resourceNames: [run],
    },
  ];
}

/** `serviceAccountName`: an existing account to bind instead of the run's own (custom ServiceAccounts, when allowed). */
export function evaluatorAccess(
  run: EvaluationRun,
  serviceAccountName = run.metadata.name!,
): EvaluatorAccess {
  const name = run.metadata.name!;
  const metadata = {
    name,
    namespace: run.metadata.namespace!,
    labels: {
      [labels.evaluation]: run.spec.evaluationName,
      [labels.run]: name,
      [labels.component]: 'evaluator',
      [labels.managedBy]: 'pruneguard',
    },
    ownerReferences: [ownerReference({ apiVersion, kind: evaluationRunNames.kind, metadata: run.metadata })],
  };
  return {
    serviceAccount: { apiVersion: 'v1', kind: 'ServiceAccount', metadata },
    role: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata, rules: evaluatorRules(name) },
    roleBinding: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccountName, namespace: run.metadata.namespace! }],
    },
  };
}
