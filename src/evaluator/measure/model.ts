import type { LoadedModel } from '../models.js';

/** What a measurement needs from a model: only a way to run it. */
export type RunnableModel = Pick<LoadedModel, 'predict'>;

/**
 * `count` rows taken in turn from row-major [rows × width] features, wrapping around, so a
 * measurement can run longer than the data is deep.
 */
export function cycleRows(features: Float32Array, rows: number, start: number, count: number): Float32Array {
  const width = features.length / rows;
  const out = new Float32Array(count * width);
  for (let i = 0; i < count; i++) {
    const row = (start + i) % rows;
    out.set(features.subarray(row * width, (row + 1) * width), i * width);
  }
  return out;
}
