/**
 * Sketch buckets travel in a Kubernetes status, so they are packed: each non-empty bucket is a
 * (gap to the previous non-empty key, count) pair of unsigned LEB128 varints, base64-encoded.
 * Plain JSON numbers would be 3–4× larger.
 */

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

export function decodeKeyedCounts(firstKey: number, packed: string, where: string): KeyedCount[] {
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
      if (byte < 0x80) return value;
      scale *= 128;
    }
  };
  while (position < bytes.length) {
    key += read();
    entries.push({ key, count: read() });
  }
  return entries;
}

function writeVarint(bytes: number[], value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`cannot pack ${value}: not a count`);
  // Division rather than bit shifts: counts may exceed 2^31.
  while (value >= 0x80) {
    bytes.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  bytes.push(value);
}
