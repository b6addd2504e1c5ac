/** The run-config resolver the CLI (--config, flags) and the app (runs.validate / runs.create) share. */
import { describe, expect, it } from 'vitest';
import { nearestConfigField, resolveRunConfig, RunConfigError } from '../../../src/shared/config';

function issuesOf(input: Record<string, unknown>): { field: string; message: string }[] {
  try {
    resolveRunConfig(input);
  } catch (err) {
    if (err instanceof RunConfigError) return err.issues;
    throw err;
  }
  return [];
}

describe('resolveRunConfig', () => {
  it('refuses unknown fields, naming each and the nearest valid field', () => {
    // zod drops unknown keys: "lamda": 5 used to train with lambda = 1.
    expect(issuesOf({ preset: 'tiny', lamda: 5 })).toEqual([
      { field: 'lamda', message: "unknown field 'lamda' (did you mean 'lambda'?)" },
    ]);
    expect(issuesOf({ checkpoint_every: 10, Gapt0: 4, colour: 'red' })).toEqual([
      { field: 'checkpoint_every', message: "unknown field 'checkpoint_every' (did you mean 'checkpointEvery'?)" },
      { field: 'Gapt0', message: "unknown field 'Gapt0' (did you mean 'gapT0'?)" },
      { field: 'colour', message: "unknown field 'colour'" },
    ]);
    expect(() => resolveRunConfig({ lamda: 5 })).toThrow("lamda: unknown field 'lamda' (did you mean 'lambda'?)");
  });

  it('suggests only names within a typo of the given one', () => {
    expect(nearestConfigField('lr')).toBe('lr');
    expect(nearestConfigField('betastart')).toBe('betaStart');
    expect(nearestConfigField('emaDecy')).toBe('emaDecay');
    expect(nearestConfigField('learningRate')).toBeUndefined();
  });

  it('refuses k > T (the SA loss spans k consecutive steps), and accepts k = T', () => {
    expect(issuesOf({ T: 4, k: 5, gapT0: 4, sampleSteps: 4 })).toEqual([
      { field: 'k', message: 'k (5) must be <= T (4): the SA loss spans k consecutive steps' },
    ]);
    expect(resolveRunConfig({ T: 4, k: 4, gapT0: 4, sampleSteps: 4 }).k).toBe(4);
  });
});
