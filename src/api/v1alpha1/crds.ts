/**
 * The CustomResourceDefinitions, generated from the TypeBox schemas; crds/*.yaml are their
 * rendering (scripts/generate-crds.ts) and a unit test fails when those files are stale.
 */
import type { TSchema } from '@sinclair/typebox';
import yaml from 'js-yaml';
import { metricDefinitions } from './thresholds.js';
import {
  category,
  EvaluationRun,
  evaluationRunNames,
  group,
  PrunedModelEvaluation,
  prunedModelEvaluationNames,
  version,
  type ResourceNames,
} from './resources.js';
import { toStructuralSchema, type JsonSchemaProps } from './structural.js';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

/**
 * Headline metrics come from status.summary (display strings the controller writes with
 * `summarize`), because a printer column's JSONPath cannot select status.metrics[?(@.name==...)].
 * `kubectl get pme -o wide` adds the other metrics and the target.
 */
function summaryColumn(name: string, metric: keyof typeof metricDefinitions, priority = 0): PrinterColumn {
  return {
    name,
    type: 'string',
    jsonPath: `.status.summary.${metric}`,
    description: `${metric}: ${metricDefinitions[metric].description}`,
    ...(priority > 0 ? { priority } : {}),
  };
}

export const prunedModelEvaluationColumns: PrinterColumn[] = [
  { name: 'Verdict', type: 'string', jsonPath: '.status.verdict' },
  summaryColumn('AccuracyDrop', 'accuracyDrop'),
  summaryColumn('P95', 'p95LatencyMs'),
  summaryColumn('PSI', 'psi'),
  {
    name: 'Live',
    type: 'string',
    jsonPath: '.status.liveVerdict',
    description:
      'The worst grade of the spec.live serving metrics (canary against baseline, from Prometheus).',
  },
  { name: 'LastRun', type: 'date', jsonPath: '.status.lastRun.completedAt' },
  {
    name: 'Status',
    type: 'string',
    jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
    description:
      'Why the evaluation is or is not ready: Graded, FirstRunRunning, RunPending, InvalidSpec, SpecRefused, …',
  },
  age,
  summaryColumn('NegativeFlips', 'negativeFlipRate', 1),
  summaryColumn('Memory', 'memoryRatio', 1),
  summaryColumn('Throughput', 'throughputQps', 1),
  summaryColumn('Power', 'powerWatts', 1),
  summaryColumn('Parity', 'demographicParity', 1),
  summaryColumn('Carbon', 'carbonKgPer1M', 1),
  { name: 'Breaches', type: 'integer', jsonPath: '.status.consecutiveBreaches', priority: 1 },
  { name: 'Rollout', type: 'string', jsonPath: '.spec.target.rollout.name', priority: 1 },
  { name: 'Stable', type: 'string', jsonPath: '.spec.target.deploymentPair.stable', priority: 1 },
];

export const evaluationRunColumns: PrinterColumn[] = [
  { name: 'Evaluation', type: 'string', jsonPath: '.spec.evaluationName' },
  { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
  { name: 'Shards', type: 'integer', jsonPath: '.spec.shards' },
  { name: 'Started', type: 'date', jsonPath: '.status.startedAt' },
  age,
  { name: 'Completed', type: 'date', jsonPath: '.status.completedAt', priority: 1 },
  { name: 'Provider', type: 'string', jsonPath: '.status.executionProvider', priority: 1 },
  { name: 'Reason', type: 'string', jsonPath: '.status.failure.reason', priority: 1 },
];

function rootSchema(schema: TSchema, kind: string): JsonSchemaProps {
  const structural = toStructuralSchema(schema);
  const properties = structural.properties as Record<string, JsonSchemaProps>;
  // The API server owns apiVersion and kind; a CRD may only type them.
  properties.apiVersion = { type: 'string', description: 'APIVersion of this object.' };
  properties.kind = { type: 'string', description: 'Kind of this object.' };
  return {
    ...structural,
    description: `${kind} (${group}/${version}).`,
    required: ['spec'],
  };
}

function customResourceDefinition(names: ResourceNames, schema: TSchema, columns: PrinterColumn[]) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${names.plural}.${group}` },
    spec: {
      group,
      names: { ...names, shortNames: [...names.shortNames], categories: [category] },
      scope: 'Namespaced',
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: rootSchema(schema, names.kind) },
          subresources: { status: {} },
          additionalPrinterColumns: columns,
        },
      ],
    },
  };
}

export type CustomResourceDefinition = ReturnType<typeof customResourceDefinition>;

export function crdManifests(): CustomResourceDefinition[] {
  return [
    customResourceDefinition(prunedModelEvaluationNames, PrunedModelEvaluation, prunedModelEvaluationColumns),
    customResourceDefinition(evaluationRunNames, EvaluationRun, evaluationRunColumns),
  ];
}

/** crds/<group>_<plural>.yaml, as controller-gen names them. */
export function crdFileName(crd: CustomResourceDefinition): string {
  return `${crd.spec.group}_${crd.spec.names.plural}.yaml`;
}

export function renderCrd(crd: CustomResourceDefinition): string {
  const header = '# Generated by scripts/generate-crds.ts from src/api/v1alpha1. Do not edit.\n';
  return header + yaml.dump(crd, { sortKeys: true, lineWidth: -1, noRefs: true });
}
