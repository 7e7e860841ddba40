import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';

import { decodeKeyedCounts, encodeKeyedCounts } from '../../../src/metrics/compact-counts.js';
import { QuantileSketch } from '../../../src/metrics/quantile-sketch.js';

const values = fc.array(
  fc.oneof(
    fc.double({ min: -1e6, max: 1e6, noNaN: true }),
    fc.double({ min: 1e-6, max: 10, noNaN: true }),
    fc.constant(0),
  ),
  { minLength: 1, maxLength: 300 },
);

function lowerQuantile(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

test('every quantile is within the relative accuracy of numpy-style lower quantiles', () => {
  fc.assert(
    fc.property(values, fc.double({ min: 0, max: 1, noNaN: true }), (xs, q) => {
      const sketch = new QuantileSketch(0.01);
      sketch.addAll(xs);
      const exact = lowerQuantile(
        [...xs].sort((a, b) => a - b),
        q,
      );
      const estimate = sketch.quantile(q);
      const allowed = Math.abs(exact) <= 1e-9 ? 1e-9 : 0.01 * Math.abs(exact) * (1 + 1e-12);
      assert.ok(Math.abs(estimate - exact) <= allowed, `q=${q}: ${estimate} vs ${exact}`);
    }),
  );
});

test('−0 and 0 are one value: min and max do not depend on which came first', () => {
  for (const values of [[-0, 0], [0, -0], [-0]]) {
    const sketch = new QuantileSketch(0.02);
    sketch.addAll(values);
    const one = new QuantileSketch(0.02);
    for (const value of values) one.add(value);
    for (const s of [sketch, one]) {
      assert.ok(Object.is(s.min, 0), `min of ${values.map(String).join(',')}`);
      assert.ok(Object.is(s.max, 0), `max of ${values.map(String).join(',')}`);
    }
  }
});

test('merging sketches equals sketching the union, in any order', () => {
  fc.assert(
    fc.property(values, values, values, (a, b, c) => {
      const sketchOf = (xs: number[]) => {
        const s = new QuantileSketch(0.02);
        s.addAll(xs);
        return s;
      };
      const whole = sketchOf([...a, ...b, ...c]);
      const leftFirst = sketchOf(a);
      leftFirst.merge(sketchOf(b));
      leftFirst.merge(sketchOf(c));
      const rightFirst = sketchOf(c);
      const bc = sketchOf(b);
      bc.merge(sketchOf(a));
      rightFirst.merge(bc);
      for (const merged of [leftFirst, rightFirst]) {
        assert.deepEqual(
          merged.buckets().map((x) => [x.order, x.count]),
          whole.buckets().map((x) => [x.order, x.count]),
        );
        assert.equal(merged.count, whole.count);
        assert.equal(merged.min, whole.min);
        assert.equal(merged.max, whole.max);
      }
    }),
  );
});

test('JSON round trip keeps every bucket, and NaN and infinities count as missing', () => {
  const sketch = new QuantileSketch(0.01);
  sketch.addAll([1, 2, 3, -4, 0, NaN, Infinity, -Infinity, 1e-12, 2 ** 40]);
  assert.equal(sketch.count, 7);
  assert.equal(sketch.missing, 3);
  assert.equal(sketch.zero, 2);
  const back = QuantileSketch.fromJSON(JSON.parse(JSON.stringify(sketch.toJSON())));
  assert.deepEqual(back.buckets(), sketch.buckets());
  assert.equal(back.quantile(0.5), sketch.quantile(0.5));
  assert.equal(back.min, -4);
  assert.equal(back.max, 2 ** 40);
});

test('an empty sketch has no quantiles and merging one changes nothing', () => {
  const empty = new QuantileSketch(0.01);
  assert.ok(Number.isNaN(empty.quantile(0.5)));
  const sketch = new QuantileSketch(0.01);
  sketch.addAll([5, 6]);
  sketch.merge(QuantileSketch.fromJSON(empty.toJSON()));
  assert.equal(sketch.count, 2);
  assert.equal(sketch.min, 5);
});

test('sketches with different accuracy refuse to merge', () => {
  assert.throws(
    () => new QuantileSketch(0.01).merge(new QuantileSketch(0.02)),
    /relative accuracy 0.02 into 0.01/,
  );
});

test('packed bucket counts survive counts beyond 32 bits', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 2 ** 52 })), {
        maxLength: 50,
      }),
      fc.integer({ min: -3000, max: 3000 }),
      (pairs, start) => {
        let key = start;
        const entries = pairs.map(([gap, count]) => ({ key: (key += gap), count }));
        const { firstKey, packed } = encodeKeyedCounts(entries);
        assert.deepEqual(decodeKeyedCounts(firstKey, packed, 'test'), entries);
      },
    ),
  );
});

test('addAll and add put every value in the bucket keyOf names, repeated values included', () => {
  const repeated = fc.array(
    fc.oneof(fc.constantFrom(1, 2, 15, 1500, 13.25, -7), fc.double({ min: -1e9, max: 1e9, noNaN: true })),
    {
      minLength: 1,
      maxLength: 500,
    },
  );
  fc.assert(
    fc.property(repeated, repeated, (first, second) => {
      const sketch = new QuantileSketch(0.02);
      sketch.addAll(first);
      for (const value of second) sketch.add(value);
      const expected = new Map<string, number>();
      for (const value of [...first, ...second]) {
        const side = value > 1e-9 ? 'positive' : value < -1e-9 ? 'negative' : 'zero';
        const name = side === 'zero' ? 'zero' : `${side} ${sketch.keyOf(value)}`;
        expected.set(name, (expected.get(name) ?? 0) + 1);
      }
      const state = sketch.toJSON();
      const actual = new Map<string, number>();
      for (const side of ['positive', 'negative'] as const)
        for (const { key, count } of decodeKeyedCounts(state[side].firstKey, state[side].packed, side))
          actual.set(`${side} ${key}`, count);
      if (state.zero > 0) actual.set('zero', state.zero);
      assert.deepEqual(new Map([...actual].sort()), new Map([...expected].sort()));
    }),
  );
});
