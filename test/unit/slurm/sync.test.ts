/** What a pull over ssh copies (issue 16): new and changed files whole, the messages file by its new bytes only. */
import { describe, expect, it } from 'vitest';
import { listArgs, parseListing, planPull } from '../../../src/app/executors/slurm/sync';

describe('pulling a run folder', () => {
  it("reads find's NUL-separated listing, names with blanks and newlines included", () => {
    expect(parseListing('engine.jsonl\u00001200\u0000samples/a b\nc.png\u000042\u0000')).toEqual([
      { path: 'engine.jsonl', size: 1200 },
      { path: 'samples/a b\nc.png', size: 42 },
    ]);
    expect(parseListing('')).toEqual([]);
    expect(() => parseListing('x\u0000big\u0000')).toThrow(/unexpected file listing entry "x"/);
  });

  it("lists every file but the node's store, relative to the run folder", () => {
    expect(listArgs('/scratch/r 1')).toEqual([
      '/scratch/r 1',
      '-mindepth',
      '1',
      '-name',
      '.sadpm-node',
      '-prune',
      '-o',
      '-type',
      'f',
      '-printf',
      '%P\\0%s\\0',
    ]);
  });

  it('plans: messages by their new bytes (or whole if replaced), other files when new or another size', () => {
    const local: Record<string, number> = {
      'engine.jsonl': 100,
      'checkpoints/ckpt-0000010.sadpm-ck': 500,
      'config.json': 7,
    };
    const remote = [
      { path: 'engine.jsonl', size: 180 },
      { path: 'checkpoints/ckpt-0000010.sadpm-ck', size: 500 },
      { path: 'checkpoints/ckpt-0000020.sadpm-ck', size: 500 },
      { path: 'checkpoints/.ckpt-0000030.sadpm-ck.4242.1.tmp', size: 100 },
      { path: 'config.json', size: 9 },
      { path: '../escape', size: 1 },
    ];
    expect(planPull(remote, (p) => local[p] ?? null)).toEqual([
      { path: 'engine.jsonl', from: 100, whole: false },
      { path: 'checkpoints/ckpt-0000020.sadpm-ck', from: 0, whole: true },
      { path: 'config.json', from: 0, whole: true },
    ]);
    const replaced = planPull([{ path: 'engine.jsonl', size: 50 }], () => 100);
    expect(replaced).toEqual([{ path: 'engine.jsonl', from: 0, whole: true }]);
    expect(planPull([{ path: 'engine.jsonl', size: 100 }], () => 100)).toEqual([]);
  });
});
