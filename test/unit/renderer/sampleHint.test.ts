/** The gallery's hint while samples are still noise (issue 15): shown for young training runs only. */
import { describe, expect, it } from 'vitest';
import { NOISE_STEPS_SMALL, noiseHint } from '../../../src/renderer/src/sampleHint';
import { resolveRunConfig } from '../../../src/shared/config';
import { runRecord } from './fakeApi';

describe('the noise hint', () => {
  it('says how many steps the built-in shapes need, until the run has them', () => {
    expect(noiseHint(runRecord({ step: 200 }))).toMatch(/^Step 200: .*about 5,000 at batch 128/);
    expect(noiseHint(runRecord({ step: NOISE_STEPS_SMALL }))).toBeNull();
  });

  it('speaks of tens of thousands of steps for photographs, and says nothing for covariance heads', () => {
    const cifar = { dataset: '/d/cifar10.sadpm-ds', config: { ...resolveRunConfig({}), imageSize: 32 } };
    expect(noiseHint(runRecord({ ...cifar, step: 5000 }))).toMatch(/tens of thousands/);
    expect(noiseHint(runRecord({ ...cifar, step: 60_000 }))).toBeNull();
    expect(noiseHint(runRecord({ step: 10, kind: 'cov' }))).toBeNull();
  });
});
