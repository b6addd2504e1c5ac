/**
 * The batch script of a sweep on Slurm: one `sbatch --array` job, one array task per run. Each task runs sadpm
 * headless on its compute node and appends its JSON engine messages to a file in the run folder (on a folder the
 * studio can read), so results come home the same way for every task.
 *
 * Preemption and time limits: Slurm sends TERM to the batch shell before the time limit (--signal=B:TERM@lead);
 * the script passes it to sadpm, which writes a checkpoint and exits, and then requeues its own task if Slurm has
 * not already ended or requeued it. Whether a task trains or resumes is decided when it starts, from what its run
 * folder holds, so a requeued task (after a preemption, a node failure, `scontrol requeue` or its own requeue)
 * continues from its latest checkpoint.
 */
import { shQuote, slurmPatternLiteral } from './quote';

export interface ArrayTask {
  /** The run's folder as the compute nodes see it (a shared filesystem). */
  runDir: string;
  /** Arguments of `sadpm train` for this run (config flags, `--config FILE`); `--run-dir` and `--json` are added. */
  trainArgs: readonly string[];
  /**
   * The run's config as JSON: the task writes it to REQUEST_FILE in the run folder before it trains and passes
   * it as `--config` first, so nothing has to be copied to the cluster before sbatch.
   */
  configJson?: string;
  /** Arguments added to `sadpm resume` (e.g. `--steps N` after the user asked for more steps). */
  resumeArgs?: readonly string[];
}

export interface SbatchOptions {
  /** Letters, digits and `._+-` only: the name shows in squeue and is parsed back from scontrol's output. */
  jobName: string;
  partition?: string;
  account?: string;
  /** Slurm's time format: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S (or UNLIMITED). */
  timeLimit?: string;
  /** GPUs per task (--gres=gpu[:type]:N); 0 or absent asks for none. */
  gpus?: number;
  gpuType?: string;
  cpusPerTask?: number;
  /** Memory per node, e.g. 16G or 4000M (--mem). */
  memory?: string;
  /** At most this many tasks run at once (--array=0-(N-1)%maxParallel). */
  maxParallel?: number;
  /** Seconds before the time limit at which the batch shell gets TERM (default 120). */
  signalLeadSeconds?: number;
  /** Let Slurm requeue the tasks after a node failure or preemption (default true). */
  requeue?: boolean;
  /** Where Slurm writes each task's stdout and stderr: a folder (file names slurm-%A_%a.out/.err) ... */
  logDir?: string;
  /** ... or Slurm file name patterns of your own (%A array job, %a task, %j job id, %% a literal %). */
  output?: string;
  error?: string;
  /** The tasks' working directory (--chdir). */
  workDir?: string;
}

export interface ArrayJobSpec {
  /** How a compute node starts sadpm, e.g. ['node', '/opt/sa-dpm-studio/bin/sadpm.mjs'] or ['sadpm']. */
  sadpm: readonly string[];
  /** The run store sadpm uses on the cluster (--data-dir); absent: sadpm's default (SADPM_HOME or app data). */
  dataDir?: string;
  /**
   * Instead of `dataDir`: a store of each run's own, in this subfolder of its run folder. It follows the run
   * wherever a requeue starts it (`sadpm resume --run-dir` finds the run there), and no two tasks share a
   * database on the shared filesystem.
   */
  storeInRunDir?: string;
  /** Exported before sadpm starts (SADPM_* switches, CUDA settings, PATH). */
  env?: Readonly<Record<string, string>>;
  tasks: readonly ArrayTask[];
  options: SbatchOptions;
  /** The file in each run folder that receives the engine messages, one JSON object a line (default engine.jsonl). */
  messagesFile?: string;
}

export const DEFAULT_SIGNAL_LEAD_S = 120;
export const DEFAULT_MESSAGES_FILE = 'engine.jsonl';
/** Where a task writes its ArrayTask.configJson. */
export const REQUEST_FILE = 'sadpm-request.json';
/** A run folder that holds one of these already has a run: its task resumes rather than trains. */
export const RESUME_MARKERS = { config: 'config.json', checkpoints: 'checkpoints/ckpt-*.sadpm-ck' } as const;

const SLURM_NAME = /^[A-Za-z0-9._-]+$/;
const TIME_LIMIT = /^(\d+(:\d{1,2}){0,2}|\d+-\d{1,2}(:\d{1,2}){0,2}|UNLIMITED|INFINITE)$/;
const MEMORY = /^\d+[KMGT]?$/i;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The whole batch script; throws an Error naming the option and what was expected when a value can't be used. */
export function renderArrayScript(spec: ArrayJobSpec): string {
  validate(spec);
  const o = spec.options;
  const n = spec.tasks.length;
  const lines = ['#!/bin/bash', ...directives(o, n).map((d) => `#SBATCH ${d}`)];
  lines.push(
    '# Written by SA-DPM Studio: one array task per run. A task trains its run, or resumes it when the run folder',
    "# already holds it (a requeued task). sadpm --json messages are appended to the run folder's messages file.",
    '# TERM (the time-limit warning of --signal) goes to sadpm, which checkpoints and exits; the task then requeues',
    '# itself unless Slurm already ended or requeued it (scancel, preemption, scontrol requeue).',
    'set -u',
  );
  for (const [k, v] of Object.entries(spec.env ?? {})) lines.push(`export ${k}=${shQuote(v)}`);
  lines.push(`sadpm=(${spec.sadpm.map(shQuote).join(' ')})`);
  lines.push(`messages_file=${shQuote(spec.messagesFile ?? DEFAULT_MESSAGES_FILE)}`);
  // Set per task below; never taken from the environment the job inherits.
  lines.push('unset config_json', 'case "${SLURM_ARRAY_TASK_ID:-}" in');
  spec.tasks.forEach((t, i) => {
    const words = (a: readonly string[] | undefined) => (a ?? []).map(shQuote).join(' ');
    const config = t.configJson !== undefined ? `; config_json=${shQuote(t.configJson)}` : '';
    lines.push(
      `  ${i}) run_dir=${shQuote(t.runDir)}; train_args=(${words(t.trainArgs)});` +
        ` resume_args=(${words(t.resumeArgs)})${config} ;;`,
    );
  });
  lines.push(
    `  *) echo "sadpm-slurm: no run for array task '\${SLURM_ARRAY_TASK_ID:-}' (this job has tasks 0-${n - 1})" >&2;` +
      ' exit 2 ;;',
    'esac',
  );
  if (spec.storeInRunDir !== undefined) {
    lines.push(`node_store="$run_dir"/${shQuote(spec.storeInRunDir)}`, 'common=(--data-dir "$node_store")');
  } else {
    lines.push(`node_store=; common=(${spec.dataDir !== undefined ? `--data-dir ${shQuote(spec.dataDir)}` : ''})`);
  }
  lines.push(...TASK_BODY);
  return lines.join('\n') + '\n';
}

function directives(o: SbatchOptions, n: number): string[] {
  const d = [`--job-name=${o.jobName}`, `--array=0-${n - 1}${o.maxParallel ? `%${o.maxParallel}` : ''}`];
  if (o.partition) d.push(`--partition=${o.partition}`);
  if (o.account) d.push(`--account=${o.account}`);
  if (o.timeLimit) d.push(`--time=${o.timeLimit}`);
  if (o.gpus) d.push(`--gres=gpu:${o.gpuType ? `${o.gpuType}:` : ''}${o.gpus}`);
  if (o.cpusPerTask) d.push(`--cpus-per-task=${o.cpusPerTask}`);
  if (o.memory) d.push(`--mem=${o.memory}`);
  d.push(`--signal=B:TERM@${o.signalLeadSeconds ?? DEFAULT_SIGNAL_LEAD_S}`);
  d.push(o.requeue === false ? '--no-requeue' : '--requeue');
  // A requeued task appends to its log instead of truncating what the earlier attempt wrote.
  d.push('--open-mode=append');
  const logDir = o.logDir !== undefined ? slurmPatternLiteral(o.logDir.replace(/\/+$/, '')) : undefined;
  const output = o.output ?? (logDir !== undefined ? `${logDir}/slurm-%A_%a.out` : undefined);
  const error = o.error ?? (logDir !== undefined ? `${logDir}/slurm-%A_%a.err` : undefined);
  if (output !== undefined) d.push(`--output=${shQuote(output)}`);
  if (error !== undefined) d.push(`--error=${shQuote(error)}`);
  if (o.workDir !== undefined) d.push(`--chdir=${shQuote(o.workDir)}`);
  return d;
}

/**
 * The task's run time decisions. `wait` (not a foreground child) lets the TERM trap run while sadpm works; the
 * trap ignores further TERMs (scancel signals every process of the job) while sadpm checkpoints.
 */
const TASK_BODY = [
  // Name a task ARRAYJOB_TASK: the last task to start inherits the array's own job id, and `scontrol requeue` of
  // that id requeues every task of the array (seen on Slurm 22.05).
  'if [ -n "${SLURM_ARRAY_JOB_ID:-}" ]; then job_ref="${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}";' +
    ' else job_ref="${SLURM_JOB_ID:-}"; fi',
  'has_run() {',
  '  local f',
  `  [ -e "$run_dir/${RESUME_MARKERS.config}" ] && return 0`,
  `  for f in "$run_dir"/${RESUME_MARKERS.checkpoints}; do [ -e "$f" ] && return 0; done`,
  '  return 1',
  '}',
  'mkdir -p -- "$run_dir" || exit 1',
  'if has_run; then',
  '  action=resume',
  '  cmd=("${sadpm[@]}" resume --run-dir "$run_dir" ${resume_args[@]+"${resume_args[@]}"}' +
    ' ${common[@]+"${common[@]}"} --json)',
  'else',
  '  action=train',
  // A run's own store without a started run in it (stopped before the engine wrote config.json) holds
  // nothing worth keeping, and would make `train` refuse the folder.
  '  if [ -n "$node_store" ]; then rm -rf -- "$node_store" || exit 1; fi',
  '  if [ -n "${config_json+x}" ]; then',
  `    printf '%s\\n' "$config_json" > "$run_dir/${REQUEST_FILE}" || exit 1`,
  `    train_args=(--config "$run_dir/${REQUEST_FILE}" \${train_args[@]+"\${train_args[@]}"})`,
  '  fi',
  '  cmd=("${sadpm[@]}" train ${train_args[@]+"${train_args[@]}"} --run-dir "$run_dir"' +
    ' ${common[@]+"${common[@]}"} --json)',
  'fi',
  'echo "sadpm-slurm: task $job_ref (restart ${SLURM_RESTART_COUNT:-0}) on $(hostname): $action $run_dir" >&2',
  'child=',
  'on_term() {',
  "  trap '' TERM",
  '  echo "sadpm-slurm: TERM: sadpm checkpoints and stops" >&2',
  '  local code=143',
  '  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child"; code=$?; fi',
  '  local state',
  '  state=$(squeue --noheader --jobs="$job_ref" --states=all --Format=State 2>/dev/null | tr -d "[:space:]")',
  '  if [ "$state" = RUNNING ]; then',
  '    echo "sadpm-slurm: requeueing $job_ref: it resumes from its latest checkpoint" >&2',
  '    scontrol requeue "$job_ref" && exit 0',
  '  fi',
  '  exit "$code"',
  '}',
  'trap on_term TERM',
  '"${cmd[@]}" >>"$run_dir/$messages_file" &',
  'child=$!',
  'wait "$child"',
  'code=$?',
  'echo "sadpm-slurm: sadpm exited with status $code" >&2',
  'exit "$code"',
];

function validate(spec: ArrayJobSpec): void {
  const o = spec.options;
  const bad = (what: string, value: unknown, expected: string): never => {
    throw new Error(`Slurm job ${what}: expected ${expected}, got ${JSON.stringify(value)}`);
  };
  if (!/^[A-Za-z0-9._+-]{1,100}$/.test(o.jobName)) bad('jobName', o.jobName, "1-100 letters, digits or '._+-'");
  if (spec.tasks.length === 0) bad('tasks', [], 'at least one run');
  if (spec.sadpm.length === 0 || spec.sadpm[0] === '') {
    bad('sadpm', spec.sadpm, 'a command to start sadpm, e.g. ["sadpm"]');
  }
  if (o.partition !== undefined && !/^[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*$/.test(o.partition)) {
    bad('partition', o.partition, 'a partition name (or a comma list)');
  }
  if (o.account !== undefined && !SLURM_NAME.test(o.account)) bad('account', o.account, 'an account name');
  if (o.gpuType !== undefined && !SLURM_NAME.test(o.gpuType)) bad('gpuType', o.gpuType, 'a GPU type name, e.g. a100');
  if (o.memory !== undefined && !MEMORY.test(o.memory)) bad('memory', o.memory, 'a size such as 16G or 4000M');
  positiveInt('gpus', o.gpus, 0);
  positiveInt('cpusPerTask', o.cpusPerTask, 1);
  positiveInt('maxParallel', o.maxParallel, 1);
  positiveInt('signalLeadSeconds', o.signalLeadSeconds, 1, 65535);
  if (o.timeLimit !== undefined) {
    if (!TIME_LIMIT.test(o.timeLimit)) bad('timeLimit', o.timeLimit, 'M, M:S, H:M:S, D-H, D-H:M, D-H:M:S or UNLIMITED');
    const limit = timeLimitSeconds(o.timeLimit);
    const lead = o.signalLeadSeconds ?? DEFAULT_SIGNAL_LEAD_S;
    if (limit !== null && limit <= lead) {
      bad('timeLimit', o.timeLimit, `more than the ${lead} s checkpoint warning before the limit (signalLeadSeconds)`);
    }
  }
  const paths = [
    ['output', o.output],
    ['error', o.error],
    ['workDir', o.workDir],
    ['logDir', o.logDir],
  ] as const;
  for (const [k, v] of paths) {
    // A directive is one line; NUL can't be passed at all.
    if (v !== undefined && (v === '' || /[\n\r\0]/.test(v))) bad(k, v, 'a non-empty path on one line');
  }
  for (const k of Object.keys(spec.env ?? {})) if (!ENV_NAME.test(k)) bad('env name', k, 'a shell variable name');
  if (spec.storeInRunDir !== undefined) {
    if (spec.dataDir !== undefined) bad('storeInRunDir', spec.storeInRunDir, 'no dataDir beside it (one store)');
    if (!/^[A-Za-z0-9._-]+$/.test(spec.storeInRunDir) || /^\.\.?$/.test(spec.storeInRunDir)) {
      bad('storeInRunDir', spec.storeInRunDir, "a folder name of letters, digits or '._-'");
    }
  }
  if (spec.messagesFile !== undefined && !/^[^/\0]+$/.test(spec.messagesFile)) {
    bad('messagesFile', spec.messagesFile, 'a file name (no /)');
  }
  spec.tasks.forEach((t, i) => {
    if (t.runDir === '') bad(`task ${i} runDir`, t.runDir, 'a folder');
  });
  // shQuote rejects NUL in every word that reaches the script (runDir, trainArgs, sadpm, env values).
}

function positiveInt(name: string, v: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) {
    throw new Error(`Slurm job ${name}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
}

/** Seconds in a Slurm time limit (null for UNLIMITED). Slurm reads a lone number as minutes and M:S as minutes. */
export function timeLimitSeconds(t: string): number | null {
  if (t === 'UNLIMITED' || t === 'INFINITE') return null;
  const [dayPart, rest] = t.includes('-') ? (t.split('-') as [string, string]) : [undefined, t];
  const parts = rest.split(':').map(Number);
  if (dayPart !== undefined) {
    const [h = 0, m = 0, s = 0] = parts;
    return ((Number(dayPart) * 24 + h) * 60 + m) * 60 + s;
  }
  if (parts.length === 1) return parts[0]! * 60;
  if (parts.length === 2) return parts[0]! * 60 + parts[1]!;
  return (parts[0]! * 60 + parts[1]!) * 60 + parts[2]!;
}
