import { describe, expect, it } from 'vitest';
import { ActivityReporter } from '../../../src/engine/train/activity';
import { EngineMessageSchema, type EngineMessage } from '../../../src/shared/engineMessages';

describe('activity messages', () => {
  it('sends a change of activity once, thins step progress to one per interval, always sends the last step', () => {
    const sent: EngineMessage[] = [];
    let now = 0;
    const r = new ActivityReporter(
      (m) => sent.push(m),
      200,
      () => now,
    );
    r.enter(0, 'training');
    r.enter(5, 'training');
    expect(sent).toEqual([{ type: 'activity', step: 0, activity: 'training' }]);
    r.enter(10, 'sampling');
    const onStep = r.progress(10, 'sampling');
    for (let k = 1; k <= 50; k++) {
      now += 30;
      onStep(k, 50);
    }
    const steps = sent
      .filter((m) => m.type === 'activity' && m.activity === 'sampling' && m.done !== undefined)
      .map((m) => (m as { done: number }).done);
    // 50 steps 30 ms apart: one message per ~200 ms, plus the last.
    expect(steps.length).toBeGreaterThanOrEqual(7);
    expect(steps.length).toBeLessThanOrEqual(9);
    expect(steps.at(-1)).toBe(50);
    r.enter(10, 'training');
    expect(sent.at(-1)).toEqual({ type: 'activity', step: 10, activity: 'training' });
    for (const m of sent) expect(EngineMessageSchema.parse(m)).toEqual(m);
  });
});
