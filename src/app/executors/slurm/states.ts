/**
 * From Slurm's job states and reason codes to the studio's run statuses, with a reason a person can read.
 * A run whose task Slurm ended but could continue (time limit, preemption, node failure) is 'interrupted':
 * resumable from its latest checkpoint, like a local run whose process died.
 */
import type { RunStatus } from '../../../shared/records';
import type { SlurmJob } from './parse';

export interface MappedState {
  status: RunStatus;
  /** True when Slurm will not run the task again by itself. */
  final: boolean;
  /** What happened, e.g. "pending: waiting for resources (Resources)"; null for a plain running or completed task. */
  reason: string | null;
}

interface StateRule {
  status: RunStatus;
  final: boolean;
  text: string;
}

/** Long names (squeue %T, scontrol, sacct); squeue's compact codes (%t) map onto them below. */
const STATES: Record<string, StateRule> = {
  PENDING: { status: 'queued', final: false, text: 'pending' },
  CONFIGURING: { status: 'queued', final: false, text: 'starting: its nodes are being configured' },
  REQUEUED: { status: 'queued', final: false, text: 'requeued' },
  REQUEUE_FED: { status: 'queued', final: false, text: 'requeued (federation)' },
  REQUEUE_HOLD: { status: 'queued', final: false, text: 'requeued and held' },
  RESV_DEL_HOLD: { status: 'queued', final: false, text: 'held: its reservation was deleted' },
  RUNNING: { status: 'running', final: false, text: 'running' },
  COMPLETING: { status: 'running', final: false, text: 'ending' },
  SIGNALING: { status: 'running', final: false, text: 'being signalled' },
  STAGE_OUT: { status: 'running', final: false, text: 'staging out' },
  RESIZING: { status: 'running', final: false, text: 'resizing' },
  SUSPENDED: { status: 'paused', final: false, text: 'suspended' },
  STOPPED: { status: 'paused', final: false, text: 'stopped (SIGSTOP)' },
  COMPLETED: { status: 'completed', final: true, text: 'completed' },
  CANCELLED: { status: 'stopped', final: true, text: 'cancelled' },
  REVOKED: { status: 'stopped', final: true, text: 'revoked: a sibling job runs on another cluster' },
  FAILED: { status: 'failed', final: true, text: 'failed' },
  BOOT_FAIL: { status: 'failed', final: true, text: 'its node failed to boot' },
  OUT_OF_MEMORY: { status: 'failed', final: true, text: 'out of memory' },
  DEADLINE: { status: 'failed', final: true, text: 'its deadline passed' },
  SPECIAL_EXIT: { status: 'failed', final: true, text: 'failed with the special exit code and is held' },
  TIMEOUT: { status: 'interrupted', final: true, text: 'time limit reached' },
  PREEMPTED: { status: 'interrupted', final: true, text: 'preempted' },
  NODE_FAIL: { status: 'interrupted', final: true, text: 'its node failed' },
};

const COMPACT: Record<string, string> = {
  PD: 'PENDING',
  CF: 'CONFIGURING',
  RQ: 'REQUEUED',
  RF: 'REQUEUE_FED',
  RH: 'REQUEUE_HOLD',
  RD: 'RESV_DEL_HOLD',
  R: 'RUNNING',
  CG: 'COMPLETING',
  SI: 'SIGNALING',
  SO: 'STAGE_OUT',
  RS: 'RESIZING',
  S: 'SUSPENDED',
  ST: 'STOPPED',
  CD: 'COMPLETED',
  CA: 'CANCELLED',
  RV: 'REVOKED',
  F: 'FAILED',
  BF: 'BOOT_FAIL',
  OOM: 'OUT_OF_MEMORY',
  DL: 'DEADLINE',
  SE: 'SPECIAL_EXIT',
  TO: 'TIMEOUT',
  PR: 'PREEMPTED',
  NF: 'NODE_FAIL',
};

/** Slurm reason codes a researcher meets most, in words; others are shown as Slurm writes them. */
const REASONS: Record<string, string> = {
  Resources: 'waiting for resources',
  Priority: 'waiting behind higher-priority jobs',
  BeginTime: 'waiting for its start time (a requeued task waits out its old credential)',
  Dependency: 'waiting for a job it depends on',
  DependencyNeverSatisfied: 'a job it depends on can never satisfy the dependency',
  JobArrayTaskLimit: "waiting for a slot: the sweep's max-parallel limit is reached",
  JobHeldUser: 'held by its user (scontrol release)',
  JobHeldAdmin: 'held by an administrator',
  ReqNodeNotAvail: 'a node it needs is not available',
  PartitionDown: 'its partition is down',
  PartitionInactive: 'its partition is inactive',
  PartitionTimeLimit: "its time limit exceeds the partition's",
  PartitionNodeLimit: 'it asks for more nodes than the partition allows',
  InvalidAccount: 'its account is not valid',
  InvalidQOS: 'its QOS is not valid',
  NodeDown: 'a node it used went down',
  NonZeroExitCode: 'the task exited with an error',
  JobLaunchFailure: 'its batch script failed to launch or was killed',
  TimeLimit: 'time limit reached',
  OutOfMemory: 'out of memory',
  Prolog: "its node's prolog is running",
  Cleaning: 'its node is still cleaning up after an earlier job',
  BadConstraints: 'its constraints can never be met',
  'launch failed requeued held': 'its launch failed; requeued and held',
};

/** The run status for a Slurm state (long name, compact code, or sacct's "CANCELLED by 1000"). */
export function mapSlurmState(
  state: string,
  reason?: string | null,
  exitCode?: { code: number; signal: number } | null,
): MappedState {
  const [word = '', ...rest] = state.trim().split(/\s+/);
  const name = COMPACT[word.toUpperCase()] ?? word.toUpperCase().replace(/\+$/, '');
  const rule = STATES[name];
  if (!rule) {
    const known = Object.keys(STATES).join(', ');
    throw new Error(`Slurm state ${JSON.stringify(state)}: not one this studio knows (${known})`);
  }
  // sacct writes "CANCELLED by 1000": who cancelled it.
  const by = rest.join(' ').replace(/^by (\d+)$/, 'by uid $1');
  const head = by ? `${rule.text} ${by}` : rule.text;
  const parts: string[] = [];
  if (reason && reason !== 'None' && reasonFits(name, rule, reason)) parts.push(describeReason(reason));
  if (exitCode && rule.status === 'failed') {
    parts.push(exitCode.signal !== 0 ? `killed by signal ${exitCode.signal}` : `exit code ${exitCode.code}`);
  }
  const plain = parts.length === 0 && !by && (name === 'RUNNING' || name === 'COMPLETED');
  const text = parts.length ? `${head}: ${parts.join('; ')}` : head;
  return { status: rule.status, final: rule.final, reason: plain ? null : text };
}

/** Why a job waits: said of a pending job only (sacct keeps the last one on a task long after it ran). */
const WAITING = new Set([
  'Resources',
  'Priority',
  'BeginTime',
  'Dependency',
  'JobArrayTaskLimit',
  'JobHeldUser',
  'JobHeldAdmin',
  'ReqNodeNotAvail',
  'PartitionDown',
  'PartitionInactive',
  'PartitionTimeLimit',
  'PartitionNodeLimit',
  'Cleaning',
  'Prolog',
]);

function reasonFits(state: string, rule: StateRule, reason: string): boolean {
  const code = reason.split(',')[0]!;
  const waiting = WAITING.has(code) || /^(QOS|Assoc)/.test(code);
  if (waiting) return rule.status === 'queued' || state === 'CONFIGURING';
  // TIMEOUT comes with TimeLimit: saying "time limit reached" twice helps no one.
  return REASONS[code] !== rule.text;
}

/** The run status of a job or task as parse.ts read it. */
export function mapSlurmJob(job: SlurmJob): MappedState {
  const state = job.cancelledBy === null ? job.state : `${job.state} by ${job.cancelledBy}`;
  return mapSlurmState(state, job.reason, job.exitCode);
}

/** A reason code in words, with Slurm's own code after it so it can be looked up. */
export function describeReason(reason: string): string {
  const known = REASONS[reason] ?? REASONS[reason.split(',')[0]!];
  if (known) return `${known} (${reason})`;
  if (/^(QOS|Assoc)/.test(reason)) return `a limit of its account or QOS is reached (${reason})`;
  return reason;
}

export const SLURM_STATES = Object.keys(STATES);
