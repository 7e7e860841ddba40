/**
 * pruneguard.io/v1alpha1: PrunedModelEvaluation (pme) and EvaluationRun (pmerun). Each type is
 * declared once with TypeBox; its TypeScript type is `Static<typeof Schema>` under the same name,
 * and crds/*.yaml are generated from the same schemas (`crdManifests`).
 */
export * from './thresholds.js';
export * from './core.js';
export * from './spec.js';
export * from './live.js';
export * from './sources.js';
export * from './object-storage.js';
export * from './status.js';
export * from './evaluation-run.js';
export * from './resources.js';
export * from './crds.js';
export * from './summary.js';
export * from './validation.js';
