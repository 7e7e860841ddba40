{{- /*
The operator's rules, in a ClusterRole or, with watchNamespace, a Role in that namespace. They must
stay equal to manifests/install/rbac.yaml and to the tables of docs/security.md: tests compare them.
*/ -}}
{{- define "pruneguard.operatorRules" -}}
# Informer (list, watch) and reads of evaluations; patch adds and removes the cleanup finalizer.
- apiGroups: [pruneguard.io]
  resources: [prunedmodelevaluations]
  verbs: [get, list, watch, patch]
# The verdict, metrics and conditions, written through the status subresource only.
- apiGroups: [pruneguard.io]
  resources: [prunedmodelevaluations/status]
  verbs: [patch]
# Runs are owned by their evaluation with blockOwnerDeletion, which needs update on its finalizers.
- apiGroups: [pruneguard.io]
  resources: [prunedmodelevaluations/finalizers]
  verbs: [update]
# Starts runs, watches them, deletes finished runs beyond historyLimit.
- apiGroups: [pruneguard.io]
  resources: [evaluationruns]
  verbs: [get, list, watch, create, delete]
# Writes the run's phase; the per-run Role grants patch here, which RBAC allows only to a holder.
- apiGroups: [pruneguard.io]
  resources: [evaluationruns/status]
  verbs: [patch]
# Jobs, ServiceAccounts, Roles and RoleBindings are owned by their run with blockOwnerDeletion.
- apiGroups: [pruneguard.io]
  resources: [evaluationruns/finalizers]
  verbs: [update]
# Evaluation Jobs (one per run) and retraining Jobs; they go with their run or evaluation (owner references).
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create]
# Read only: why an evaluation pod failed (OOMKilled, image pull, exit code, termination message).
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
# Read only: the resourceVersion of a configmap:// model or data file, so a change starts a run.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get]
# Read only, a cache: a claim's pruneguard.io/data-version annotation, so new pvc:// files start a run.
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [list, watch]
# Read only: that a Secret named for credentials (spec.s3.credentialsSecret) is labelled pruneguard.io/credentials and has its keys; the evaluator gets the values from the kubelet.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
# Events on evaluations (RunStarted, Advance, VerdictPass, ...).
- apiGroups: [""]
  resources: [events]
  verbs: [create]
# The per-run evaluator ServiceAccount (it goes with its run) and the per-namespace pruneguard-retraining one.
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [create]
# The per-run evaluator Role (it goes with its run); RBAC's escalation check lets it hold only rules the operator holds itself.
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles]
  verbs: [create]
# Binds the per-run Role to the run's ServiceAccount; deleted as soon as the run has finished. No bind, no escalate.
- apiGroups: [rbac.authorization.k8s.io]
  resources: [rolebindings]
  verbs: [create, delete]
# Reads the Rollout a verdict steers and patches it (promote, abort, step).
- apiGroups: [argoproj.io]
  resources: [rollouts]
  verbs: [get, patch]
# Argo Rollouts takes promote and abort through the status subresource.
- apiGroups: [argoproj.io]
  resources: [rollouts/status]
  verbs: [patch]
# Reads a stable/canary Deployment pair and patches its replicas.
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, patch]
{{- end -}}
