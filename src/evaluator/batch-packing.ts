import type { DatasetRole, EvaluationBatch, Screening } from '../metrics/batch.js';
import type { TextColumn } from '../metrics/text-column.js';

/**
 * Evaluation batches packed into one buffer for the metric thread: posting a message costs about
 * as much as the metrics of a thousand rows, and each transferred buffer adds to it, so several
 * batches travel together with all their arrays copied into a single transferred ArrayBuffer.
 * Copying also matters for correctness: a column may be a view into a larger buffer (an Arrow
 * record batch) that later batches still read.
 *
 * A text column's value table travels only when it differs from the one sent last for that
 * column, so a table shared by many batches is cloned once. The receiver gives each buffer back
 * once applied, so packing allocates nothing in the steady state.
 */
export interface Pack {
  batches: PackedBatch[];
  buffer: ArrayBuffer;
}

interface PackedArray {
  type: 'float64' | 'float32' | 'int32';
  byteOffset: number;
  length: number;
}

interface PackedText {
  codes: PackedArray;
  /** Present when the column's table changed since the last batch sent. */
  values?: string[];
}

interface PackedBatch {
  dataset: DatasetRole;
  rows: number;
  outputWidth: number;
  numericFeatures: [string, PackedArray][];
  categoricalFeatures: [string, PackedText][];
  teacherScores: PackedArray;
  candidateScores: PackedArray;
  labels?: PackedArray;
  sensitive?: PackedText;
  slices: [string, PackedText][];
  /** A few counts: it travels as it is, in the message. */
  screening?: Screening;
}

type NumberArray = Float64Array | Float32Array | Int32Array;

const arrayTypes = { float64: Float64Array, float32: Float32Array, int32: Int32Array } as const;

function typeOf(array: NumberArray): PackedArray['type'] {
  return array instanceof Float64Array ? 'float64' : array instanceof Float32Array ? 'float32' : 'int32';
}

/** Every view starts 8-byte aligned. */
function aligned(bytes: number): number {
  return Math.ceil(bytes / 8) * 8;
}

/**
 * The sending side: batches are added as they come, laid out in a pack that `take` copies into
 * one buffer. Remembers the value table last sent for each text column.
 */
export class BatchPacker {
  private readonly sentTables = new Map<string, string[]>();
  private batches: PackedBatch[] = [];
  private arrays: { array: NumberArray; at: PackedArray }[] = [];
  /** Rows and bytes added since the last `take`: what the sender holds until then. */
  rows = 0;
  bytes = 0;

  /** Lays out a batch; its arrays must not change before `take` copies them. */
  add(batch: EvaluationBatch): void {
    const place = (array: NumberArray): PackedArray => {
      const at: PackedArray = { type: typeOf(array), byteOffset: this.bytes, length: array.length };
      this.arrays.push({ array, at });
      this.bytes += aligned(array.byteLength);
      return at;
    };
    const text = (key: string, column: TextColumn): PackedText => {
      const packed: PackedText = { codes: place(column.codes) };
      if (this.sentTables.get(key) !== column.values) {
        this.sentTables.set(key, column.values);
        packed.values = column.values;
      }
      return packed;
    };
    const entry: PackedBatch = {
      dataset: batch.dataset,
      rows: batch.rows,
      outputWidth: batch.outputWidth,
      numericFeatures: Object.entries(batch.numericFeatures).map(([name, values]) => [name, place(values)]),
      categoricalFeatures: Object.entries(batch.categoricalFeatures).map(([name, column]) => [
        name,
        text(`feature ${name}`, column),
      ]),
      teacherScores: place(batch.teacherScores),
      candidateScores: place(batch.candidateScores),
      slices: Object.entries(batch.slices).map(([name, column]) => [name, text(`slice ${name}`, column)]),
    };
    if (batch.labels) entry.labels = place(batch.labels);
    if (batch.sensitive) entry.sensitive = text('sensitive', batch.sensitive);
    if (batch.screening) entry.screening = batch.screening;
    this.batches.push(entry);
    this.rows += batch.rows;
  }

  /**
   * The batches added since the last call, copied into one buffer: `spare` (a buffer the receiver
   * gave back) when it is large enough.
   */
  take(spare?: ArrayBuffer): { pack: Pack; transfer: ArrayBuffer[] } {
    // Sized up to a power of two so that buffers given back fit the next packs.
    const buffer =
      spare && spare.byteLength >= this.bytes
        ? spare
        : new ArrayBuffer(2 ** Math.ceil(Math.log2(Math.max(this.bytes, 8))));
    for (const { array, at } of this.arrays)
      new arrayTypes[at.type](buffer, at.byteOffset, at.length).set(array as never);
    const pack = { batches: this.batches, buffer };
    this.batches = [];
    this.arrays = [];
    this.rows = 0;
    this.bytes = 0;
    return { pack, transfer: [buffer] };
  }
}

/** The receiving side: the batches again, their arrays views of the pack's buffer. */
export class BatchUnpacker {
  private readonly tables = new Map<string, string[]>();

  unpack(pack: Pack): EvaluationBatch[] {
    const view = (at: PackedArray) => new arrayTypes[at.type](pack.buffer, at.byteOffset, at.length);
    const text = (key: string, packed: PackedText): TextColumn => {
      if (packed.values) this.tables.set(key, packed.values);
      const values = this.tables.get(key);
      if (values === undefined) throw new Error(`packed batch: no value table for ${key}`);
      return { codes: view(packed.codes) as Int32Array, values };
    };
    return pack.batches.map((packed) => {
      const batch: EvaluationBatch = {
        dataset: packed.dataset,
        rows: packed.rows,
        outputWidth: packed.outputWidth,
        numericFeatures: Object.fromEntries(
          packed.numericFeatures.map(([name, at]) => [name, view(at) as Float64Array]),
        ),
        categoricalFeatures: Object.fromEntries(
          packed.categoricalFeatures.map(([name, column]) => [name, text(`feature ${name}`, column)]),
        ),
        teacherScores: view(packed.teacherScores) as Float32Array,
        candidateScores: view(packed.candidateScores) as Float32Array,
        slices: Object.fromEntries(
          packed.slices.map(([name, column]) => [name, text(`slice ${name}`, column)]),
        ),
      };
      if (packed.labels) batch.labels = view(packed.labels) as Float64Array;
      if (packed.sensitive) batch.sensitive = text('sensitive', packed.sensitive);
      if (packed.screening) batch.screening = packed.screening;
      return batch;
    });
  }
}
