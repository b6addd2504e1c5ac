/** What `sadpm train` and `sadpm sample` print about a builtin:shapes model's samples (issue 17: the demo). */
import { describe, expect, it } from 'vitest';
import { fmtShapeCheck, fmtShapeVerdict } from '../../../src/cli/progress';
import { LEARNED_MIN, learnedShapes } from '../../../src/engine/data/shapeCheck';

describe('shape check in words', () => {
  it('counts per class and the mean IoU', () => {
    const line = fmtShapeCheck({ n: 16, recognised: 11, byClass: [5, 1, 5], meanIou: 0.871 });
    expect(line).toMatch(/^shape check: 11 of 16 samples are recognisable shapes \(5 circles, 1 square, 5 triangles;/);
    expect(line).toMatch(/mean 0\.87/);
  });

  it('calls a model learned from LEARNED_MIN of its samples on, and says how to go on when not', () => {
    expect(LEARNED_MIN).toBe(0.5);
    expect(learnedShapes({ n: 16, recognised: 8 })).toBe(true);
    expect(learnedShapes({ n: 16, recognised: 7 })).toBe(false);
    expect(learnedShapes({ n: 0, recognised: 0 })).toBe(false);
    expect(fmtShapeVerdict({ n: 16, recognised: 12, byClass: [4, 4, 4], meanIou: 0.9 }, 3)).toBe(
      'the model learned the shapes: 12 of 16 samples (75%) are recognisable shapes (the bar is 50%)',
    );
    expect(fmtShapeVerdict({ n: 16, recognised: 7, byClass: [0, 7, 0], meanIou: 0.3 }, 3)).toBe(
      'the model has not learned the shapes yet: 7 of 16 samples (44%) are recognisable shapes (the bar is 50%); ' +
        'train longer: sadpm resume 3 --steps N',
    );
  });
});
