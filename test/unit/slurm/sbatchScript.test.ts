/**
 * The batch script of a sweep: its #SBATCH directives, its quoting (any path or argument reaches sadpm intact),
 * the train-or-resume decision at run time, and the TERM trap (checkpoint, then requeue only a task Slurm still
 * runs). The script runs in bash here with stand-ins for sadpm, squeue and scontrol on PATH; the integration
 * test (test/integration/slurm) runs it under a real Slurm.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderArrayScript, timeLimitSeconds, type ArrayJobSpec } from '../../../src/app/executors/slurm/sbatchScript';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sadpm-sbatch-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** sadpm stand-in: writes its arguments NUL-separated to stdout (which the script appends to the messages file). */
const ECHO_ARGS = ['printf', '%s\\0'];

function spec(over: Partial<ArrayJobSpec> = {}, options: Partial<ArrayJobSpec['options']> = {}): ArrayJobSpec {
  return {
    sadpm: ECHO_ARGS,
    tasks: [{ runDir: join(tmp, 'r0'), trainArgs: ['--k', '2'] }],
    options: { jobName: 'sweep-1', ...options },
    ...over,
  };
}

function directives(script: string): string[] {
  return script
    .split('\n')
    .filter((l) => l.startsWith('#SBATCH '))
    .map((l) => l.slice('#SBATCH '.length));
}

/** What Slurm sets for task 0 of array job 7 (whose own job id is 9). */
const SLURM_ENV = { SLURM_ARRAY_JOB_ID: '7', SLURM_ARRAY_TASK_ID: '0', SLURM_JOB_ID: '9' };

/** Runs the script as array task `task` would; returns bash's exit status and stderr. */
function runTask(script: string, task: number, env: Record<string, string> = {}) {
  const file = join(tmp, `job-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(file, script);
  const r = spawnSync('bash', [file], {
    env: { ...SLURM_ENV, PATH: process.env.PATH, SLURM_ARRAY_TASK_ID: String(task), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return { code: r.status, stderr: r.stderr.toString() };
}

/** The words sadpm received, over every run of the task: ECHO_ARGS ends each with a NUL. */
function argsWritten(runDir: string, file = 'engine.jsonl'): string[] {
  return readFileSync(join(runDir, file), 'utf8').split('\0').slice(0, -1);
}

describe('directives', () => {
  it('asks for what the options say, one task per run, TERM 120 s before the limit, requeue', () => {
    const s = renderArrayScript({
      ...spec(),
      tasks: [0, 1, 2, 3].map((i) => ({ runDir: `/shared/r${i}`, trainArgs: [] })),
      options: {
        jobName: 'sa-sweep',
        partition: 'gpu',
        account: 'lab42',
        timeLimit: '1-00:00:00',
        gpus: 2,
        gpuType: 'a100',
        cpusPerTask: 8,
        memory: '32G',
        maxParallel: 2,
        logDir: '/shared/logs',
      },
    });
    expect(directives(s)).toEqual([
      '--job-name=sa-sweep',
      '--array=0-3%2',
      '--partition=gpu',
      '--account=lab42',
      '--time=1-00:00:00',
      '--gres=gpu:a100:2',
      '--cpus-per-task=8',
      '--mem=32G',
      '--signal=B:TERM@120',
      '--requeue',
      '--open-mode=append',
      '--output=/shared/logs/slurm-%A_%a.out',
      '--error=/shared/logs/slurm-%A_%a.err',
    ]);
    expect(s.startsWith('#!/bin/bash\n#SBATCH ')).toBe(true);
  });

  it('leaves out what is not asked for, and honours requeue: false and its own signal lead', () => {
    const d = directives(renderArrayScript(spec({}, { requeue: false, signalLeadSeconds: 300, gpus: 0 })));
    expect(d).toEqual([
      '--job-name=sweep-1',
      '--array=0-0',
      '--signal=B:TERM@300',
      '--no-requeue',
      '--open-mode=append',
    ]);
  });

  it('quotes paths with blanks and quotes, and escapes % in a log folder (Slurm reads %% as %)', () => {
    const d = directives(renderArrayScript(spec({}, { logDir: "/shared/it's 100%/", workDir: '/a b' })));
    expect(d).toContain(`--output='/shared/it'\\''s 100%%/slurm-%A_%a.out'`);
    expect(d).toContain(`--chdir='/a b'`);
  });

  it.each([
    [{ jobName: 'has space' }, /jobName/],
    [{ jobName: 'x', partition: 'a;b' }, /partition/],
    [{ jobName: 'x', timeLimit: '2h' }, /timeLimit/],
    [{ jobName: 'x', timeLimit: '2' }, /more than the 120 s checkpoint warning/],
    [{ jobName: 'x', memory: 'lots' }, /memory/],
    [{ jobName: 'x', gpus: 1.5 }, /gpus/],
    [{ jobName: 'x', maxParallel: 0 }, /maxParallel/],
    [{ jobName: 'x', signalLeadSeconds: 70000 }, /signalLeadSeconds/],
    [{ jobName: 'x', output: 'a\nb' }, /output/],
  ])('refuses %j', (options, message) => {
    expect(() => renderArrayScript({ ...spec(), options })).toThrow(message);
  });

  it('refuses a job without runs, a NUL in an argument, a bad env name', () => {
    expect(() => renderArrayScript(spec({ tasks: [] }))).toThrow(/tasks: expected at least one run/);
    expect(() => renderArrayScript(spec({ tasks: [{ runDir: '/r', trainArgs: ['a\0b'] }] }))).toThrow(/NUL/);
    expect(() => renderArrayScript(spec({ env: { 'A-B': '1' } }))).toThrow(/env name/);
  });

  it('reads Slurm time limits as Slurm does', () => {
    expect(timeLimitSeconds('30')).toBe(1800);
    expect(timeLimitSeconds('30:15')).toBe(1815);
    expect(timeLimitSeconds('2:00:00')).toBe(7200);
    expect(timeLimitSeconds('1-2')).toBe(93600);
    expect(timeLimitSeconds('1-00:30')).toBe(88200);
    expect(timeLimitSeconds('UNLIMITED')).toBeNull();
  });
});

describe('the task at run time', () => {
  it('trains a new run, then resumes it once its folder holds the run (a requeued task)', () => {
    const runDir = join(tmp, 'decide', 'run 0');
    const s = renderArrayScript(spec({ tasks: [{ runDir, trainArgs: ['--config', '/c.json'] }], dataDir: '/store' }));
    expect(runTask(s, 0).code).toBe(0);
    mkdirSync(join(runDir, 'checkpoints'), { recursive: true });
    writeFileSync(join(runDir, 'checkpoints', 'ckpt-0000100.sadpm-ck'), '');
    expect(runTask(s, 0).code).toBe(0);
    expect(argsWritten(runDir)).toEqual([
      ...['train', '--config', '/c.json', '--run-dir', runDir, '--data-dir', '/store', '--json'],
      ...['resume', '--run-dir', runDir, '--data-dir', '/store', '--json'],
    ]);
  });

  it('resumes when the run was created but has no checkpoint yet (config.json), and names the task', () => {
    const runDir = join(tmp, 'decide-config');
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(runDir, 'config.json'), '{}');
    const r = runTask(renderArrayScript(spec({ tasks: [{ runDir, trainArgs: [] }] })), 0, { SLURM_RESTART_COUNT: '2' });
    expect(argsWritten(runDir)).toEqual(['resume', '--run-dir', runDir, '--json']);
    expect(r.stderr).toContain(`task 7_0 (restart 2)`);
  });

  it('a checkpoint-like name in a folder whose own name has glob characters does not fool it', () => {
    const runDir = join(tmp, 'glob[*]');
    mkdirSync(join(tmp, 'globx', 'checkpoints'), { recursive: true });
    writeFileSync(join(tmp, 'globx', 'checkpoints', 'ckpt-0000001.sadpm-ck'), '');
    runTask(renderArrayScript(spec({ tasks: [{ runDir, trainArgs: [] }] })), 0);
    expect(argsWritten(runDir)[0]).toBe('train');
  });

  it("exits 2 with a message for a task id it has no run for, and passes on sadpm's status", () => {
    const s = renderArrayScript(spec());
    const r = runTask(s, 5);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no run for array task '5' (this job has tasks 0-0)");
    const failing = renderArrayScript(spec({ sadpm: ['bash', '-c', 'exit 7', '--'] }));
    expect(runTask(failing, 0).code).toBe(7);
  });

  it('exports env values exactly', () => {
    const runDir = join(tmp, 'env');
    const value = `a 'b' "c" $HOME \`id\` \\n`;
    const sadpm = ['bash', '-c', 'printf "%s\\0--json\\0" "$SADPM_X"', '--'];
    const s = renderArrayScript(spec({ env: { SADPM_X: value }, sadpm, tasks: [{ runDir, trainArgs: [] }] }));
    runTask(s, 0);
    expect(argsWritten(runDir)).toEqual([value, '--json']);
  });

  it('any run folder and arguments reach sadpm unchanged, and the script always parses (bash -n)', () => {
    // Shell metacharacters, control characters, printable ASCII, any Unicode; everything but NUL.
    const unit = fc.oneof(
      fc.constantFrom(...` '"$\`\\!*?[]{}();&|<>~#%=\n\t`),
      fc.integer({ min: 1, max: 31 }).map((c) => String.fromCharCode(c)),
      fc.string({ minLength: 1, maxLength: 1 }),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
    );
    const word = fc.string({ unit, maxLength: 12 });
    // A run folder's last component: no '/', not '.' or '..', within the 255-byte name limit.
    const nonEmpty = word.filter((s) => s !== '');
    const dirName = word.filter((s) => !['', '.', '..'].includes(s) && !s.includes('/') && Buffer.byteLength(s) < 200);
    let n = 0;
    fc.assert(
      fc.property(dirName, fc.array(word, { maxLength: 5 }), fc.option(nonEmpty), (name, trainArgs, dataDir) => {
        const runDir = join(tmp, 'prop', String(n++), name);
        const s = renderArrayScript(spec({ tasks: [{ runDir, trainArgs }], dataDir: dataDir ?? undefined }));
        const file = join(tmp, 'prop.sh');
        writeFileSync(file, s);
        execFileSync('bash', ['-n', file]);
        expect(runTask(s, 0).code).toBe(0);
        const common = dataDir !== null ? ['--data-dir', dataDir] : [];
        expect(argsWritten(runDir)).toEqual(['train', ...trainArgs, '--run-dir', runDir, ...common, '--json']);
      }),
      { numRuns: 60 },
    );
  });
});

describe('TERM: checkpoint, then requeue only a task Slurm still runs', () => {
  /** A folder of stand-ins: squeue prints `state`; scontrol records its arguments. */
  function fakeSlurm(state: string): { bin: string; calls: string } {
    const bin = mkdtempSync(join(tmp, 'bin-'));
    const calls = join(bin, 'calls');
    const log = (cmd: string) => `#!/bin/bash\necho "${cmd} $*" >> ${JSON.stringify(calls)}\n`;
    // squeue --Format pads its column: the script must trim it.
    writeFileSync(join(bin, 'squeue'), `${log('squeue')}printf '%-20s\\n' ${state}\n`);
    writeFileSync(join(bin, 'scontrol'), log('scontrol'));
    chmodSync(join(bin, 'squeue'), 0o755);
    chmodSync(join(bin, 'scontrol'), 0o755);
    return { bin, calls };
  }

  /** sadpm stand-in: announces itself, then on TERM writes a "checkpoint" line and exits 130 like sadpm. */
  const FAKE_SADPM = [
    'bash',
    '-c',
    `trap 'echo "{\\"checkpointed\\":true}"; exit 130' TERM; echo '{"started":true}'; while :; do sleep 0.05; done`,
    '--',
  ];

  async function termTask(state: string) {
    const { bin, calls } = fakeSlurm(state);
    const runDir = join(bin, 'run');
    const file = join(bin, 'job.sh');
    writeFileSync(file, renderArrayScript(spec({ sadpm: FAKE_SADPM, tasks: [{ runDir, trainArgs: [] }] })));
    const child = spawn('bash', [file], {
      env: { ...SLURM_ENV, PATH: `${bin}:${process.env.PATH}` },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const messages = join(runDir, 'engine.jsonl');
    for (let i = 0; i < 200 && !(existsSync(messages) && readFileSync(messages, 'utf8').includes('started')); i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('close', r));
    const called = existsSync(calls) ? readFileSync(calls, 'utf8') : '';
    return { code, calls: called, messages: readFileSync(messages, 'utf8'), stderr };
  }

  it('a running task (the time-limit warning) checkpoints, then requeues itself by its array task id', async () => {
    const r = await termTask('RUNNING');
    expect(r.messages).toContain('{"checkpointed":true}');
    expect(r.calls).toBe('squeue --noheader --jobs=7_0 --states=all --Format=State\nscontrol requeue 7_0\n');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('requeueing 7_0');
  });

  const ENDED = ['CANCELLED', 'PENDING', 'PREEMPTED', 'COMPLETING'];
  it.each(ENDED)('a task Slurm already ended or requeued (%s) is not requeued again', async (state) => {
    const r = await termTask(state);
    expect(r.messages).toContain('{"checkpointed":true}');
    expect(r.calls).not.toContain('scontrol');
    expect(r.code).toBe(130);
  });
});

describe('issue 16: a store in each run folder, the config carried by the script, resume arguments', () => {
  it('writes the config the script carries and passes it first; resume gets its own arguments', () => {
    const runDir = join(tmp, 'carried', "run 'λ'");
    const config = JSON.stringify({ k: 2, lambda: 0.5, name: `it's "quoted" $HOME` });
    const s = renderArrayScript(
      spec({
        storeInRunDir: '.sadpm-node',
        tasks: [{ runDir, trainArgs: ['--tags', 'a'], configJson: config, resumeArgs: ['--steps', '50'] }],
      }),
    );
    expect(runTask(s, 0, { config_json: 'from the environment' }).code).toBe(0);
    const request = join(runDir, 'sadpm-request.json');
    expect(JSON.parse(readFileSync(request, 'utf8'))).toEqual(JSON.parse(config));
    writeFileSync(join(runDir, 'config.json'), '{}');
    expect(runTask(s, 0).code).toBe(0);
    const store = join(runDir, '.sadpm-node');
    expect(argsWritten(runDir)).toEqual([
      ...['train', '--config', request, '--tags', 'a', '--run-dir', runDir, '--data-dir', store, '--json'],
      ...['resume', '--run-dir', runDir, '--steps', '50', '--data-dir', store, '--json'],
    ]);
  });

  it('a run store left without a started run (stopped before config.json) is removed before training', () => {
    const runDir = join(tmp, 'stale-store');
    mkdirSync(join(runDir, '.sadpm-node'), { recursive: true });
    writeFileSync(join(runDir, '.sadpm-node', 'sadpm.db'), 'half-made');
    runTask(renderArrayScript(spec({ storeInRunDir: '.sadpm-node', tasks: [{ runDir, trainArgs: [] }] })), 0);
    expect(existsSync(join(runDir, '.sadpm-node'))).toBe(false);
    expect(argsWritten(runDir)[0]).toBe('train');
  });

  it('refuses a store folder name that could leave the run folder, or one beside dataDir', () => {
    for (const bad of ['..', '.', 'a/b', '']) {
      expect(() => renderArrayScript(spec({ storeInRunDir: bad }))).toThrow(/storeInRunDir: expected a folder name/);
    }
    expect(() => renderArrayScript(spec({ storeInRunDir: 's', dataDir: '/d' }))).toThrow(/no dataDir beside it/);
  });
});
