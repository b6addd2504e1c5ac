import { describe, expect, it } from 'vitest';
import { nonNegativeInt, parseArgs } from '../../../src/cli/args';

describe('integer flags >= 0 (--seed, --gpus)', () => {
  const parse = (...argv: string[]) => parseArgs(['strip', ...argv]);
  it('reads 0 and positive integers, and the fallback when absent', () => {
    expect(nonNegativeInt(parse('--seed', '0'), 'seed', 5)).toBe(0);
    expect(nonNegativeInt(parse('--gpus', '2'), 'gpus')).toBe(2);
    expect(nonNegativeInt(parse(), 'seed', 5)).toBe(5);
  });
  it('names the flag and the value it refused', () => {
    for (const bad of ['-1', '1.5', 'two']) {
      expect(() => nonNegativeInt(parse('--gpus', bad), 'gpus')).toThrow(
        new RegExp(`^--gpus: expected .*, got '${bad}'$`),
      );
    }
  });
});
