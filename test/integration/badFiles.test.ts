/**
 * Bad input where the store expects its own files: a corrupt or foreign file in place of a checkpoint
 * or a packed dataset gets a clear error that names the file and what is wrong with it.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CheckpointRecord, DatasetRecord, RunRecord } from '../../src/shared/records';

const BIN = resolve(__dirname, '../../bin/sadpm.mjs');
const dir = mkdtempSync(join(tmpdir(), 'sadpm-bad-'));
const env = { ...process.env, EGL_PLATFORM: 'surfaceless', SADPM_HOME: join(dir, 'home') };
const small = [
  '--preset',
  'tiny',
  '--T',
  '100',
  '--batch',
  '2',
  '--sample-n',
  '2',
  '--sample-steps',
  '2',
  '--gap-t0',
  '4',
  '--gap-batch',
  '2',
  '--log-every',
  '1',
];

function sadpm(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function show(ref: string): { run: RunRecord; checkpoints: CheckpointRecord[] } {
  const r = sadpm(['show', ref, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

describe('corrupt or foreign files', () => {
  it('a checkpoint replaced by another file, or cut short: resume and sample refuse with the reason; the run is unchanged', () => {
    const t = sadpm(['train', ...small, '--steps', '2', '--checkpoint-every', '1', '--json']);
    expect(t.code, t.stderr).toBe(0);
    const { run, checkpoints } = show('1');
    const ck = checkpoints.at(-1)!;
    const good = readFileSync(ck.path);
    // A foreign file: a PNG where the checkpoint should be.
    const png = readFileSync(join(run.runDir, 'samples', 'step-0000002-ddim2-ema-seed0-n2.png'));
    writeFileSync(ck.path, png);
    const r1 = sadpm(['resume', '1', '--steps', '4']);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(
      new RegExp(
        `cannot resume from its last checkpoint \\(step 2\\): checkpoint ${ck.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a SA-DPM checkpoint \\(bad magic`,
      ),
    );
    expect(sadpm(['sample', '1', '--n', '1', '--steps', '2']).stderr).toMatch(
      /checkpoint .*ckpt-0000002\.sadpm-ck: not a SA-DPM checkpoint \(bad magic/,
    );
    // Cut short (a torn copy): named as truncated.
    writeFileSync(ck.path, good);
    truncateSync(ck.path, good.length - 100);
    expect(sadpm(['resume', '1', '--steps', '4']).stderr).toMatch(
      /cannot resume from its last checkpoint \(step 2\): checkpoint .*: truncated \(expected \d+ bytes, file is \d+\)/,
    );
    expect(sadpm(['sample', '1', '--n', '1', '--steps', '2']).stderr).toMatch(/checkpoint .*: truncated/);
    // Garbage in the header.
    const bad = Buffer.from(good);
    bad.write('{{{{', 12, 'utf8');
    writeFileSync(ck.path, bad);
    expect(sadpm(['sample', '1', '--checkpoint', '2', '--n', '1', '--steps', '2']).stderr).toMatch(
      /checkpoint .*: corrupt header/,
    );
    expect(sadpm(['resume', '1', '--steps', '4']).stderr).toMatch(/cannot resume .*corrupt header/);
    const after = show('1');
    expect(after.run).toMatchObject({ status: 'completed', step: 2 });
    expect(after.checkpoints.map((c) => c.step)).toEqual([1, 2]);
    // An older checkpoint still samples.
    const ok = sadpm(['sample', '1', '--checkpoint', '1', '--n', '1', '--steps', '2']);
    expect(ok.code, ok.stderr).toBe(0);
    // The good file back: the run resumes.
    writeFileSync(ck.path, good);
    const back = sadpm(['resume', '1', '--steps', '3', '--json']);
    expect(back.code, back.stderr).toBe(0);
    expect(show('1').run).toMatchObject({ status: 'completed', step: 3 });
  });

  it('a packed dataset that is foreign, truncated or whose library file was replaced: train names the file', () => {
    const foreign = join(dir, 'foreign.sadpm-ds');
    writeFileSync(foreign, 'PK\u0003\u0004 this is a zip, not a dataset');
    expect(sadpm(['train', ...small, '--steps', '1', '--dataset', foreign]).stderr).toMatch(
      /foreign\.sadpm-ds: not a SA-DPM packed dataset/,
    );
    const empty = join(dir, 'empty.sadpm-ds');
    writeFileSync(empty, '');
    expect(sadpm(['train', ...small, '--steps', '1', '--dataset', empty]).stderr).toMatch(
      /empty\.sadpm-ds: not a SA-DPM packed dataset/,
    );

    const imp = sadpm(['import', 'builtin:shapes32', '--size', '16', '--limit', '8', '--name', 'lib8', '--json']);
    expect(imp.code, imp.stderr).toBe(0);
    const ds = (JSON.parse(imp.stdout) as { dataset: DatasetRecord }).dataset;
    // Pixels cut short behind a valid header.
    const cut = join(dir, 'cut.sadpm-ds');
    copyFileSync(ds.path, cut);
    truncateSync(cut, readFileSync(ds.path).length - 500);
    const c = sadpm(['train', ...small, '--steps', '1', '--dataset', cut]);
    expect(c.code).not.toBe(0);
    expect(c.stderr).toMatch(/cut\.sadpm-ds: .*(truncated|pixel bytes|expected)/);
    // The library's file replaced by something else.
    writeFileSync(ds.path, 'not a dataset at all, longer than the prefix');
    expect(sadpm(['train', ...small, '--steps', '1', '--dataset', 'lib8']).stderr).toMatch(
      /sadpm-ds: not a SA-DPM packed dataset/,
    );
  });
});
