/**
 * Readers of what Slurm's commands print about jobs: `squeue --Format` with our field list (live jobs, and
 * finished ones for MinJobAge seconds), `scontrol show job -o` and the jobcomp/filetxt log (both key=value
 * lines), `sacct --parsable2` (clusters with slurmdbd) and `sbatch --parsable`. Fixtures captured from a real
 * Slurm 22.05 cluster are in test/fixtures/slurm/.
 */

export interface ExitCode {
  code: number;
  /** The signal that ended the job (0: none). */
  signal: number;
}

/** One job, or one task of an array job, as Slurm reports it. */
export interface SlurmJob {
  /** What scancel and scontrol accept for it: "12_3" for an array task, "12" for a plain job. */
  ref: string;
  /**
   * Slurm's JobID of the record. Tasks that have not started share their array's id, and the last task to start
   * keeps it: name tasks by `ref`, never by this.
   */
  jobId: number;
  arrayJobId: number | null;
  arrayTaskId: number | null;
  /** Slurm's state name in long form (PENDING, RUNNING, CANCELLED, ...). */
  state: string;
  /** Who cancelled it (sacct's "CANCELLED by UID"); null where unknown. */
  cancelledBy: number | null;
  /** Slurm's reason code (Resources, BeginTime, NonZeroExitCode, ...); null for None. */
  reason: string | null;
  /** How often Slurm requeued it; null where the source doesn't say. */
  restarts: number | null;
  exitCode: ExitCode | null;
  /** Slurm's local time text (2026-11-30T17:23:16), null for N/A, Unknown, None (squeue: NONE when unlimited). */
  startTime: string | null;
  endTime: string | null;
  nodes: string | null;
}

/** squeue --Format fields, in the order parseSqueue reads them; `:|` prints the field unpadded, then a '|'. */
export const SQUEUE_FIELDS = [
  'JobArrayID',
  'ArrayJobID',
  'ArrayTaskID',
  'JobID',
  'State',
  'Reason',
  'RestartCnt',
  'exit_code',
  'StartTime',
  'EndTime',
  'NodeList',
] as const;

/**
 * Arguments of squeue for these jobs (array job ids or task refs), finished ones included. `--array`: one line per
 * task; without it squeue folds pending tasks into one line (a requeued task too: "2_[1-3] ... Resources,None").
 */
export function squeueArgs(refs: readonly string[]): string[] {
  const format = SQUEUE_FIELDS.map((f, i) => (i < SQUEUE_FIELDS.length - 1 ? `${f}:|` : f)).join(',');
  return ['--noheader', '--array', '--states=all', `--jobs=${refs.join(',')}`, `--Format=${format}`];
}

/** Reads squeue's output for squeueArgs; a folded array record ("12_[3-5%2]") becomes one entry per task. */
export function parseSqueue(text: string): SlurmJob[] {
  const jobs: SlurmJob[] = [];
  lines(text).forEach((line, i) => {
    const f = line.split('|');
    if (f.length !== SQUEUE_FIELDS.length) {
      throw new Error(
        `squeue output line ${i + 1}: expected ${SQUEUE_FIELDS.length} '|'-separated fields ` +
          `(${SQUEUE_FIELDS.join(', ')}), got ${f.length}: ${JSON.stringify(line)}`,
      );
    }
    const [, arrayJob, arrayTask, jobId, state, reason, restarts, exit, start, end, nodes] = f.map((s) => s.trim());
    jobs.push(
      ...expand({
        jobId: int(jobId!, 'JobID', line),
        arrayJobId: optInt(arrayJob!),
        arrayTask: arrayTask!,
        state: state!,
        reason: reason!,
        restarts: optInt(restarts!),
        exitCode: parseWaitStatus(exit!),
        startTime: time(start!),
        endTime: time(end!),
        nodes: nodes || null,
      }),
    );
  });
  return jobs;
}

/** `scontrol show job -o` (one job a line) or the jobcomp/filetxt log: space-separated Key=Value pairs. */
export function parseKeyValueJobs(text: string, source = 'scontrol show job -o'): SlurmJob[] {
  return lines(text)
    .filter((l) => !/^No jobs in the system$/i.test(l.trim()))
    .flatMap((line, i) => {
      const kv = parseKeyValues(line);
      const need = (k: string) => {
        const v = kv.get(k);
        if (v === undefined) throw new Error(`${source} line ${i + 1}: no ${k}= in ${JSON.stringify(line)}`);
        return v;
      };
      const jobId = int(need('JobId'), 'JobId', line);
      return expand({
        jobId,
        arrayJobId: kv.has('ArrayJobId') ? optInt(kv.get('ArrayJobId')!) : null,
        arrayTask: kv.get('ArrayTaskId') ?? 'N/A',
        state: need('JobState'),
        reason: kv.get('Reason') ?? 'None',
        restarts: kv.has('Restarts') ? optInt(kv.get('Restarts')!) : null,
        exitCode: parseExitCode(kv.get('ExitCode') ?? ''),
        startTime: time(kv.get('StartTime') ?? ''),
        endTime: time(kv.get('EndTime') ?? ''),
        nodes: kv.get('NodeList') || null,
      });
    });
}

/**
 * Key=Value pairs separated by single spaces. Values may hold spaces (WorkDir, StdOut, Command), so a pair ends
 * only where the next ` Key=` begins; keys are scontrol's (a capital, then letters, digits, `_`, `:` or `/`).
 * A job name with ` Key=` in it would be misread: the studio names its jobs with letters, digits and `._+-`.
 */
export function parseKeyValues(line: string): Map<string, string> {
  const out = new Map<string, string>();
  const key = /(?:^|\s)([A-Z][A-Za-z0-9_:/]*)=/g;
  const starts: { key: string; at: number; valueAt: number }[] = [];
  for (let m = key.exec(line); m; m = key.exec(line)) starts.push({ key: m[1]!, at: m.index, valueAt: key.lastIndex });
  starts.forEach((s, i) => {
    const end = i + 1 < starts.length ? starts[i + 1]!.at : line.length;
    if (!out.has(s.key)) out.set(s.key, line.slice(s.valueAt, end).trimEnd());
  });
  return out;
}

/** sacct fields, in the order parseSacct reads them. */
export const SACCT_FIELDS = ['JobID', 'JobIDRaw', 'State', 'Reason', 'ExitCode', 'Start', 'End', 'NodeList'] as const;

/** Arguments of sacct for these jobs: one line per job or task (no steps), '|'-separated, no header. */
export function sacctArgs(refs: readonly string[]): string[] {
  const format = SACCT_FIELDS.join(',');
  return ['--noheader', '--parsable2', '--allocations', `--jobs=${refs.join(',')}`, `--format=${format}`];
}

export function parseSacct(text: string): SlurmJob[] {
  return lines(text).flatMap((line, i) => {
    const f = line.split('|');
    if (f.length !== SACCT_FIELDS.length) {
      throw new Error(
        `sacct output line ${i + 1}: expected ${SACCT_FIELDS.length} '|'-separated fields ` +
          `(${SACCT_FIELDS.join(', ')}), got ${f.length}: ${JSON.stringify(line)}`,
      );
    }
    const [id, raw, state, reason, exit, start, end, nodes] = f;
    // JobID is 12_3 for a task, 12_[3-5] for tasks not started yet, 12 for a plain job.
    const m = /^(\d+)(?:_(\[[^\]]*\]|\d+))?$/.exec(id!);
    if (!m) throw new Error(`sacct output line ${i + 1}: unexpected JobID ${JSON.stringify(id)}`);
    const arrayTask = m[2] === undefined ? 'N/A' : m[2].replace(/^\[|\]$/g, '');
    return expand({
      jobId: int(raw!, 'JobIDRaw', line),
      arrayJobId: m[2] === undefined ? null : Number(m[1]),
      arrayTask,
      state: state!,
      reason: reason!,
      restarts: null,
      exitCode: parseExitCode(exit!),
      startTime: time(start!),
      endTime: time(end!),
      nodes: nodes === '' || nodes === 'None assigned' ? null : nodes!,
    });
  });
}

/** `sbatch --parsable` prints "jobid" or "jobid;cluster". */
export function parseSbatchParsable(text: string): { jobId: number; cluster: string | null } {
  const m = /^(\d+)(?:;(\S+))?\s*$/.exec(text.trim());
  if (!m) throw new Error(`sbatch --parsable: expected "JOBID" or "JOBID;CLUSTER", got ${JSON.stringify(text)}`);
  return { jobId: Number(m[1]), cluster: m[2] ?? null };
}

/** Array task ids in Slurm's range syntax: "3", "1,4-6", "0-9:3", with an optional "%max" throttle. */
export function expandArrayTaskIds(spec: string): number[] {
  const body = spec.replace(/%\d+$/, '');
  const out: number[] = [];
  for (const part of body.split(',')) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part);
    if (!m) throw new Error(`array task ids: expected N, N-M or N-M:S (comma-separated), got ${JSON.stringify(spec)}`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    const step = m[3] === undefined ? 1 : Number(m[3]);
    if (to < from || step < 1) {
      throw new Error(`array task ids: bad range ${JSON.stringify(part)} in ${JSON.stringify(spec)}`);
    }
    for (let t = from; t <= to; t += step) out.push(t);
  }
  return out;
}

/** scontrol's and sacct's "3:0" (exit code:signal); null when absent. */
export function parseExitCode(s: string): ExitCode | null {
  const m = /^(\d+):(\d+)$/.exec(s.trim());
  return m ? { code: Number(m[1]), signal: Number(m[2]) } : null;
}

/** squeue's exit_code: the raw wait status (768 is exit 3, 15 is SIGTERM); null when absent. */
export function parseWaitStatus(s: string): ExitCode | null {
  if (!/^\d+$/.test(s.trim())) return null;
  const v = Number(s.trim());
  return { code: (v >> 8) & 0xff, signal: v & 0x7f };
}

interface Row {
  jobId: number;
  arrayJobId: number | null;
  arrayTask: string;
  state: string;
  reason: string;
  restarts: number | null;
  exitCode: ExitCode | null;
  startTime: string | null;
  endTime: string | null;
  nodes: string | null;
}

function expand(r: Row): SlurmJob[] {
  const [word = '', ...rest] = r.state.trim().split(/\s+/);
  const by = /^by (\d+)$/.exec(rest.join(' '));
  const base = {
    state: word.toUpperCase(),
    cancelledBy: by ? Number(by[1]) : null,
    reason: r.reason === '' || r.reason === 'None' || r.reason === '(null)' ? null : r.reason,
    restarts: r.restarts,
    exitCode: r.exitCode,
    startTime: r.startTime,
    endTime: r.endTime,
    nodes: r.nodes,
  };
  if (r.arrayTask === 'N/A' || r.arrayTask === '' || r.arrayJobId === null) {
    return [{ ref: String(r.jobId), jobId: r.jobId, arrayJobId: null, arrayTaskId: null, ...base }];
  }
  const arrayJobId = r.arrayJobId;
  return expandArrayTaskIds(r.arrayTask).map((t) => ({
    ref: `${arrayJobId}_${t}`,
    jobId: r.jobId,
    arrayJobId,
    arrayTaskId: t,
    ...base,
  }));
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '');
}

function int(s: string, field: string, line: string): number {
  if (!/^\d+$/.test(s.trim())) {
    throw new Error(`${field}: expected a job id, got ${JSON.stringify(s)} in ${JSON.stringify(line)}`);
  }
  return Number(s.trim());
}

function optInt(s: string): number | null {
  return /^\d+$/.test(s.trim()) ? Number(s.trim()) : null;
}

function time(s: string): string | null {
  const t = s.trim();
  return /^(|N\/A|Unknown|None)$/i.test(t) ? null : t;
}
