/**
 * Which checkpoints a retention policy keeps. Pure: the store shows the plan before deleting.
 * The newest checkpoint is always kept, because it is where a run resumes.
 */
import type { CheckpointRecord, RetentionPolicy } from '../shared/records';

export interface RetentionPlan {
  keep: { checkpoint: CheckpointRecord; why: string[] }[];
  remove: CheckpointRecord[];
  freedBytes: number;
}

export function planRetention(checkpoints: CheckpointRecord[], policy: RetentionPolicy): RetentionPlan {
  const sorted = [...checkpoints].sort((a, b) => a.step - b.step);
  const why = new Map<number, string[]>();
  const mark = (c: CheckpointRecord, reason: string) => {
    const list = why.get(c.id) ?? [];
    list.push(reason);
    why.set(c.id, list);
  };
  // Without keepLast only the latest is kept besides milestones and the best (a policy of just
  // milestones must prune the rest, not keep everything).
  const keepLast = Math.max(1, policy.keepLast ?? 1);
  for (const c of sorted.slice(-keepLast))
    mark(c, sorted.indexOf(c) === sorted.length - 1 ? 'latest' : `last ${keepLast}`);
  if (policy.milestoneEvery) {
    for (const c of sorted)
      if (c.step % policy.milestoneEvery === 0) mark(c, `milestone (every ${policy.milestoneEvery})`);
  }
  if (policy.bestBy) {
    let best: CheckpointRecord | undefined;
    for (const c of sorted) {
      const v = c.metrics[policy.bestBy];
      if (v === undefined || !Number.isFinite(v)) continue;
      if (!best || v < best.metrics[policy.bestBy]!) best = c;
    }
    if (best) mark(best, `best ${policy.bestBy} (${best.metrics[policy.bestBy]!.toPrecision(4)})`);
  }
  const keep = sorted.filter((c) => why.has(c.id)).map((c) => ({ checkpoint: c, why: why.get(c.id)! }));
  const remove = sorted.filter((c) => !why.has(c.id));
  return { keep, remove, freedBytes: remove.reduce((s, c) => s + c.bytes, 0) };
}
