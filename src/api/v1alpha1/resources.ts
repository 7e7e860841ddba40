/**
 * The two kinds as whole objects, and the names by which Kubernetes knows them.
 */
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import { object, ObjectMeta, type CelRule } from './core.js';
import { EvaluationRunSpec, EvaluationRunStatus, evaluationRunRules } from './evaluation-run.js';
import { PrunedModelEvaluationSpec } from './spec.js';
import { PrunedModelEvaluationStatus } from './status.js';

export const group = 'pruneguard.io';
export const version = 'v1alpha1';
export const apiVersion = `${group}/${version}`;
export const category = 'pruneguard';

export interface ResourceNames {
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
}

export const prunedModelEvaluationNames = {
  kind: 'PrunedModelEvaluation',
  listKind: 'PrunedModelEvaluationList',
  plural: 'prunedmodelevaluations',
  singular: 'prunedmodelevaluation',
  shortNames: ['pme'],
} as const satisfies ResourceNames;

export const evaluationRunNames = {
  kind: 'EvaluationRun',
  listKind: 'EvaluationRunList',
  plural: 'evaluationruns',
  singular: 'evaluationrun',
  shortNames: ['pmerun'],
} as const satisfies ResourceNames;

function resource<K extends string, Spec extends TObject, Status extends TObject>(
  kind: K,
  spec: Spec,
  status: Status,
  rules: CelRule[] = [],
) {
  const properties = {
    apiVersion: Type.Literal(apiVersion),
    kind: Type.Literal(kind),
    metadata: ObjectMeta,
    spec,
    status: Type.Optional(status),
  } satisfies TProperties;
  return object(properties, { rules });
}

/**
 * A run is named `<evaluation>-<sequence of 5 digits>` and names its Job, whose name becomes a
 * label value (at most 63 characters); so an evaluation name is at most 57.
 */
export const maxEvaluationNameLength = 57;

export function runName(evaluationName: string, sequence: number): string {
  return `${evaluationName}-${String(sequence).padStart(5, '0')}`;
}

export const PrunedModelEvaluation = resource(
  prunedModelEvaluationNames.kind,
  PrunedModelEvaluationSpec,
  PrunedModelEvaluationStatus,
  [
    {
      rule: `self.metadata.name.size() <= ${maxEvaluationNameLength}`,
      message: `metadata.name must be at most ${maxEvaluationNameLength} characters: runs append -NNNNN and name a Job (63 at most)`,
      fieldPath: '.metadata',
    },
  ],
);

export const EvaluationRun = resource(
  evaluationRunNames.kind,
  EvaluationRunSpec,
  EvaluationRunStatus,
  evaluationRunRules,
);

export type PrunedModelEvaluation = Static<typeof PrunedModelEvaluation>;
export type EvaluationRun = Static<typeof EvaluationRun>;
