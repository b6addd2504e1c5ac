import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore, type NewRun } from '../../../src/store/runStore';

export function tmpDir(prefix = 'sadpm-store-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function freshStore(): RunStore {
  return RunStore.open(tmpDir());
}

export function newRun(over: Partial<NewRun> & { cfg?: Partial<NewRun['config']> } = {}): NewRun {
  const { cfg, ...rest } = over;
  return {
    name: 'run',
    appVersion: '0.0.0-test',
    config: { dataset: 'builtin:shapes', preset: 'tiny', k: 2, lambda: 1, T: 100, seed: 0, steps: 10, ...cfg },
    ...rest,
  };
}
