/**
 * Sketch buckets travel in a Kubernetes status, so they are packed: each non-empty bucket is a
 * (gap to the previous non-empty key, count) pair of unsigned LEB128 varints, base64-encoded.
 * Plain JSON numbers would be 3–4× larger.
 */
import { describeValue } from './state-checks.js';

export interface KeyedCount {
  key: number;
  count: number;
}

export function encodeKeyedCounts(entries: KeyedCount[]): { firstKey: number; packed: string } {
  if (entries.length === 0) return { firstKey: 0, packed: '' };
  const bytes: number[] = [];
  const firstKey = entries[0]!.key;
  let previous = firstKey;
  for (const { key, count } of entries) {
    writeVarint(bytes, key - previous);
    writeVarint(bytes, count);
    previous = key;
  }
  return { firstKey, packed: Buffer.from(bytes).toString('base64') };
}

/** The keys a sketch's buckets may have: what its relative accuracy gives finite doubles. */
export interface KeyRange {
  lowest: number;
  highest: number;
}

/**
 * With `bucketKeys`, the entries must be what a sketch writes: keys distinct, ascending and within
 * the range, counts ≥ 1. That also bounds how many there can be, whatever the string's length.
 */
export function decodeKeyedCounts(
  firstKey: number,
  packed: string,
  where: string,
  bucketKeys?: KeyRange,
): KeyedCount[] {
  if (!Number.isSafeInteger(firstKey))
    throw new Error(`${where}.firstKey is ${describeValue(firstKey)}, expected an integer`);
  if (typeof packed !== 'string' || !base64.test(packed))
    throw new Error(`${where}.packed is ${describeValue(packed)}, expected base64 text`);
  const bytes = Buffer.from(packed, 'base64');
  const entries: KeyedCount[] = [];
  let position = 0;
  let key = firstKey;
  const read = (): number => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = bytes[position++];
      if (byte === undefined) throw new Error(`${where}: packed bucket counts are truncated`);
      value += (byte & 0x7f) * scale;
      // Eight 7-bit groups hold any count below 2^53; more would lose exactness.
      if (value > Number.MAX_SAFE_INTEGER || (byte >= 0x80 && scale === 2 ** 49))
        throw new Error(`${where}: a packed bucket count or key gap exceeds 2^53`);
      if (byte < 0x80) return value;
      scale *= 128;
    }
  };
  while (position < bytes.length) {
    const gap = read();
    key += gap;
    const count = read();
    if (bucketKeys) {
      if (entries.length === 0 ? gap !== 0 : gap === 0)
        throw new Error(`${where}: bucket ${entries.length} repeats a key or does not start at firstKey`);
      if (key < bucketKeys.lowest || key > bucketKeys.highest)
        throw new Error(
          `${where}: bucket key ${key} is outside [${bucketKeys.lowest}, ${bucketKeys.highest}], where finite values fall`,
        );
      if (count < 1) throw new Error(`${where}: bucket ${key} counts 0; empty buckets are not written`);
    }
    entries.push({ key, count });
  }
  return entries;
}

const base64 = /^[A-Za-z0-9+/]*={0,2}$/;

function writeVarint(bytes: number[], value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`cannot pack ${value}: not a count`);
  // Division rather than bit shifts: counts may exceed 2^31.
  while (value >= 0x80) {
    bytes.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  bytes.push(value);
}
