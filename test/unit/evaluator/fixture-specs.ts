/**
 * PrunedModelEvaluation manifests over the committed fixtures (test/fixtures/manifest.json), for
 * the pipeline and CLI tests. Hardware-dependent metrics (latency, throughput, power, carbon) are
 * measured but not graded, so that a test's verdict is about accuracy, drift and memory on any
 * machine; the fixtures' own README explains the data.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { parsePrunedModelEvaluation, type PrunedModelEvaluation } from '../../../src/api/v1alpha1/index.js';

export const fixtureManifest = JSON.parse(readFileSync('test/fixtures/manifest.json', 'utf8')) as {
  penguins: FixtureTask;
  flights: FixtureTask;
  corrupt: string;
  mismatchedInput: { model: string; inputWidth: number };
};

interface FixtureTask {
  models: Record<'teacher' | 'pruned-30' | 'pruned-70' | 'pruned-95', string>;
  data: Record<'reference' | 'current' | 'shifted', string>;
  rows: Record<'reference' | 'current' | 'shifted', number>;
  selection: {
    features: (string | { name: string })[];
    label: string | { name: string };
    sensitiveAttribute: string;
    slices: string[];
  };
  pruning: Record<string, { parameters: number; nonZero: number }>;
  accuracy: Record<string, Record<'reference' | 'current' | 'shifted', number>>;
}

export const hardwareMetricsOff = {
  p95LatencyMs: { enabled: false },
  throughputQps: { enabled: false },
  powerWatts: { enabled: false },
  carbonKgPer1M: { enabled: false },
};

export function fileUri(file: string): string {
  return pathToFileURL(path.resolve(file)).href;
}

export interface ManifestOptions {
  task?: 'penguins' | 'flights';
  teacher?: string;
  candidate?: 'pruned-30' | 'pruned-70' | 'pruned-95' | string;
  current?: 'current' | 'shifted';
  features?: string[];
  /** Default: the fixture's slices, except flights' origin (over 100 airports, beyond maxSliceValues). */
  slices?: string[];
  thresholds?: Record<string, unknown>;
  uri?: (file: string) => string;
}

/** What tests edit in a manifest before writing it. */
export interface ManifestObject extends Record<string, unknown> {
  spec: Record<string, unknown> & { data: Record<string, unknown> & { current: { uri: string } } };
}

/** The manifest as a person would write it (before defaults). */
export function fixtureManifestObject(options: ManifestOptions = {}): ManifestObject {
  const task = fixtureManifest[options.task ?? 'penguins'];
  const uri = options.uri ?? fileUri;
  const candidate = options.candidate ?? 'pruned-70';
  const features =
    options.features ?? task.selection.features.map((f) => (typeof f === 'string' ? f : f.name));
  const categorical = task.selection.features.flatMap((f) => (typeof f === 'string' ? [] : [f.name]));
  return {
    apiVersion: 'pruneguard.io/v1alpha1',
    kind: 'PrunedModelEvaluation',
    metadata: {
      name: `${options.task ?? 'penguins'}-${path.basename(candidate, '.onnx')}`,
      namespace: 'test',
    },
    spec: {
      teacher: { uri: uri(options.teacher ?? task.models.teacher) },
      candidate: { uri: uri(task.models[candidate as 'pruned-30'] ?? candidate) },
      data: {
        reference: { uri: uri(task.data.reference) },
        current: { uri: uri(task.data[options.current ?? 'current']) },
        features,
        categoricalFeatures: categorical.filter((name) => features.includes(name)),
        label: typeof task.selection.label === 'string' ? task.selection.label : task.selection.label.name,
        sensitiveAttribute: task.selection.sensitiveAttribute,
        slices:
          options.slices ??
          (options.task === 'flights'
            ? task.selection.slices.filter((s) => s !== 'origin')
            : task.selection.slices),
      },
      schedule: { interval: '30m' },
      thresholds: { ...hardwareMetricsOff, ...options.thresholds },
    },
  };
}

export function fixtureEvaluation(options: ManifestOptions = {}): PrunedModelEvaluation {
  return parsePrunedModelEvaluation(fixtureManifestObject(options), 'test manifest');
}
