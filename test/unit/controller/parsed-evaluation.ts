import { parsePrunedModelEvaluation, type PrunedModelEvaluation } from '../../../src/api/v1alpha1/index.js';

/**
 * ml/penguins, parsed with defaults: models on a claim, reference data in a ConfigMap, current data
 * over https; `spec` replaces or adds top-level spec fields.
 */
export function parsedEvaluation(spec: Record<string, unknown> = {}): PrunedModelEvaluation {
  return parsePrunedModelEvaluation(
    {
      apiVersion: 'pruneguard.io/v1alpha1',
      kind: 'PrunedModelEvaluation',
      metadata: { name: 'penguins', namespace: 'ml' },
      spec: {
        teacher: { uri: 'pvc://models/penguins/teacher.onnx' },
        candidate: { uri: 'pvc://models/penguins/pruned.onnx' },
        data: {
          reference: { uri: 'configmap://penguins-data/reference.csv' },
          current: { uri: 'https://data.example/current.csv' },
          features: ['a', 'b'],
        },
        schedule: { interval: '30m' },
        ...spec,
      },
    },
    'test',
  );
}
