/**
 * Several processes opening one new data folder at once (a sweep's cells, or `sadpm train` twice side by side):
 * each must find the schema complete, none may fail on a table another one just created.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RunStore } from '../../src/store/runStore';
import { SCHEMA_VERSION } from '../../src/store/migrations';

const PROCESSES = 6;

function opener(script: string, root: string, i: number): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, root, String(i)], { stdio: 'pipe' });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    child.on('close', (code) => done({ code, out }));
  });
}

describe('opening a new data folder from several processes at once', () => {
  it('migrates it exactly once; every process opens it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sadpm-open-'));
    const root = join(dir, 'data');
    const go = join(dir, 'go');
    const script = join(dir, 'open.mts');
    // Every process waits at a barrier (the 'go' file) after loading, so the opens start within milliseconds.
    writeFileSync(
      script,
      `import { existsSync, writeFileSync } from 'node:fs';
import { RunStore } from ${JSON.stringify(resolve('src/store/runStore.ts'))};
const [root, i] = process.argv.slice(2);
writeFileSync(${JSON.stringify(dir)} + '/ready-' + i, '');
while (!existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 2));
const store = RunStore.open(root);
console.log('version', store.schemaVersion());
store.close();
`,
    );
    const runs = Array.from({ length: PROCESSES }, (_, i) => opener(script, root, i));
    while (Array.from({ length: PROCESSES }, (_, i) => existsSync(join(dir, `ready-${i}`))).some((r) => !r)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    writeFileSync(go, '');
    const results = await Promise.all(runs);
    for (const r of results) {
      expect(r.out, r.out).toContain(`version ${SCHEMA_VERSION}`);
      expect(r.code).toBe(0);
    }
    const store = RunStore.open(root);
    expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
    store.close();
  }, 120_000);
});
