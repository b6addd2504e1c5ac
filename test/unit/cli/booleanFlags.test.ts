import { describe, expect, it } from 'vitest';
import { configFields, configFromFlags, parseArgs } from '../../../src/cli/args';

describe('boolean config flags (--random-flip)', () => {
  const values = (argv: string[]) => configFromFlags(parseArgs(['train', ...argv]).flags).values;

  it('is listed as a boolean field', () => {
    expect(configFields().find((f) => f.key === 'randomFlip')).toMatchObject({ flag: 'random-flip', kind: 'boolean' });
  });

  it('alone means true, =true/=false set it, and it does not swallow the next flag', () => {
    expect(values(['--random-flip', '--steps', '5'])).toEqual({ randomFlip: true, steps: 5 });
    expect(values(['--random-flip=false'])).toEqual({ randomFlip: false });
    expect(values(['--random-flip=true'])).toEqual({ randomFlip: true });
    expect(values(['--steps', '5'])).toEqual({ steps: 5 });
  });

  it('refuses other values, naming the flag', () => {
    expect(() => values(['--random-flip=maybe'])).toThrow(
      "--random-flip: expected true or false (or the flag alone for true), got 'maybe'",
    );
  });
});
