import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RequestHistogram } from './request-histogram.js';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** The same observations through prom-client's Histogram and a RequestHistogram, each in its registry. */
function both(labelName?: 'backend') {
  const reference = new Registry();
  const ours = new Registry();
  const config = { name: 'router_test_seconds', help: 'A test histogram.', buckets: BUCKETS };
  const histogram = new Histogram({
    ...config,
    labelNames: labelName === undefined ? [] : [labelName],
    registers: [reference],
  });
  const requestHistogram = new RequestHistogram({ ...config, labelName, registers: [ours] });
  const observe = (value: number, labelValue: string): void => {
    if (labelName === undefined) histogram.observe(value);
    else histogram.observe({ [labelName]: labelValue }, value);
    requestHistogram.observe(value, labelValue);
  };
  return { reference, ours, observe, requestHistogram };
}

const observations = fc.array(
  fc.record({
    value: fc.oneof(fc.constantFrom(0, ...BUCKETS, 2, 30), fc.double({ min: 0, max: 5, noNaN: true })),
    labelValue: fc.constantFrom('a', 'b', 'c\\"d'),
  }),
  { maxLength: 60 },
);

describe('RequestHistogram', () => {
  it.each([undefined, 'backend'] as const)(
    'exports what prom-client exports for the same observations (label: %s), as text and as JSON',
    async (labelName) => {
      await fc.assert(
        fc.asyncProperty(observations, async (values) => {
          const { reference, ours, observe } = both(labelName);
          for (const { value, labelValue } of values) observe(value, labelValue);
          expect(await ours.metrics()).toBe(await reference.metrics());
          expect(await ours.getMetricsAsJSON()).toEqual(await reference.getMetricsAsJSON());
        }),
        { numRuns: 200 },
      );
    },
  );

  it('starts again from nothing when the registry resets its metrics', async () => {
    const { reference, ours, observe } = both('backend');
    observe(0.02, 'a');
    reference.resetMetrics();
    ours.resetMetrics();
    observe(0.3, 'b');
    expect(await ours.metrics()).toBe(await reference.metrics());
    expect(await ours.metrics()).not.toContain('backend="a"');
  });

  it('does not count a value that is not a finite number', async () => {
    const { requestHistogram } = both();
    requestHistogram.observe(Number.NaN);
    requestHistogram.observe(Number.POSITIVE_INFINITY);
    requestHistogram.observe(0.02);
    const { values } = await requestHistogram.get();
    expect(values.find((value) => value.metricName.endsWith('_count'))?.value).toBe(1);
  });
});
