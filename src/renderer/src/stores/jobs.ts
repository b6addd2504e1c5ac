/**
 * Long actions (import, sampling, filmstrips, grid export): each is a job on the server that
 * reports progress and ends with job.done. This store tracks them all, lets any view cancel one,
 * and turns a job into a promise of its result.
 */
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import {
  JOB_RESULTS,
  type EventPayload,
  type JobKind as ServerJobKind,
  type JobResult,
} from '../../../shared/contract';
import { api } from '../api';
import { ApiCallError, toApiError } from '../api/errors';

/** A server job's kind, or 'upload' (a local action tracked the same way). */
export type JobKind = ServerJobKind | 'upload';
export type JobState = 'starting' | 'running' | 'cancelling' | 'done' | 'failed' | 'cancelled';

export interface Job {
  /** Server job id ('' until the start call answered). */
  id: string;
  /** Local key, stable from the moment the action starts. */
  key: number;
  kind: JobKind;
  label: string;
  state: JobState;
  done: number;
  total: number;
  error: string | null;
  result: unknown;
  startedAt: number;
  endedAt: number | null;
}

interface Waiter {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class JobCancelled extends Error {
  constructor(label: string) {
    super(`${label}: cancelled`);
    this.name = 'JobCancelled';
  }
}

export const useJobsStore = defineStore('jobs', () => {
  const jobs = ref<Job[]>([]);
  let nextKey = 1;
  const waiters = new Map<number, Waiter>();
  /** Events that arrived before the start call returned the job id. */
  const early = new Map<string, (EventPayload<'job.progress'> | EventPayload<'job.done'>)[]>();

  const active = computed(() => jobs.value.filter((j) => ['starting', 'running', 'cancelling'].includes(j.state)));

  function newJob(kind: JobKind, label: string, state: JobState): Job {
    const at = Date.now();
    const job = { id: '', key: nextKey++, kind, label, state, done: 0, total: 0, error: null, result: null };
    return { ...job, startedAt: at, endedAt: null };
  }

  function byId(id: string): Job | undefined {
    return id ? jobs.value.find((j) => j.id === id) : undefined;
  }

  function applyProgress(job: Job, p: EventPayload<'job.progress'>): void {
    if (job.state === 'starting') job.state = 'running';
    job.done = p.done;
    job.total = p.total;
  }

  function applyDone(job: Job, d: EventPayload<'job.done'>): void {
    job.endedAt = Date.now();
    const w = waiters.get(job.key);
    waiters.delete(job.key);
    if (d.ok) {
      // The result is checked against its kind's schema in the contract: a view never guesses its shape.
      const parsed = job.kind === 'upload' ? null : JOB_RESULTS[job.kind].safeParse(d.result);
      if (parsed && !parsed.success) {
        job.state = 'failed';
        job.error = `the server's result is not a ${job.kind} result (${parsed.error.issues[0]?.message ?? 'invalid'})`;
        w?.reject(new ApiCallError('failed', `${job.label}: ${job.error}`));
        return;
      }
      job.state = 'done';
      if (job.total > 0) job.done = job.total;
      job.result = parsed ? parsed.data : (d.result ?? null);
      w?.resolve(job.result);
    } else if (job.state === 'cancelling' || /cancel/i.test(d.error ?? '')) {
      job.state = 'cancelled';
      job.error = null;
      w?.reject(new JobCancelled(job.label));
    } else {
      job.state = 'failed';
      job.error = d.error ?? 'the job failed without a reason';
      w?.reject(new ApiCallError('failed', `${job.label}: ${job.error}`));
    }
  }

  function onProgress(p: EventPayload<'job.progress'>): void {
    const job = byId(p.jobId);
    if (job) applyProgress(job, p);
    else (early.get(p.jobId) ?? early.set(p.jobId, []).get(p.jobId)!).push(p);
  }

  function onDone(d: EventPayload<'job.done'>): void {
    const job = byId(d.jobId);
    if (job) applyDone(job, d);
    else (early.get(d.jobId) ?? early.set(d.jobId, []).get(d.jobId)!).push(d);
  }

  let subscribed = false;
  function subscribe(): void {
    if (subscribed) return;
    subscribed = true;
    api().on('job.progress', onProgress);
    api().on('job.done', onDone);
  }

  /**
   * Starts a job: `starter` calls the channel that returns {jobId}. Resolves with the job's result,
   * rejects with JobCancelled or an ApiCallError. The Job object is reactive and visible at once.
   */
  function run<K extends ServerJobKind>(
    kind: K,
    label: string,
    starter: () => Promise<{ jobId: string }>,
  ): { job: Job; result: Promise<JobResult<K>> } {
    type T = JobResult<K>;
    subscribe();
    jobs.value.push(newJob(kind, label, 'starting'));
    const job = jobs.value[jobs.value.length - 1]!; // the reactive proxy
    const result = new Promise<T>((resolve, reject) => {
      waiters.set(job.key, { resolve: resolve as (v: unknown) => void, reject });
    });
    starter().then(
      ({ jobId }) => {
        job.id = jobId;
        if (job.state === 'starting') job.state = 'running';
        for (const e of early.get(jobId) ?? []) {
          if ('ok' in e) applyDone(job, e);
          else applyProgress(job, e);
        }
        early.delete(jobId);
      },
      (e) => {
        const err = toApiError(e);
        job.state = 'failed';
        job.error = err.message;
        job.endedAt = Date.now();
        waiters.get(job.key)?.reject(err);
        waiters.delete(job.key);
      },
    );
    // A caller that only watches the Job object must not produce an unhandled rejection.
    result.catch(() => undefined);
    return { job, result };
  }

  /** Tracks a local action (an upload) with the same UI; it cannot be cancelled on the server. */
  function track<T>(
    kind: JobKind,
    label: string,
    work: Promise<T> | ((progress: (done: number, total: number) => void) => Promise<T>),
  ): { job: Job; result: Promise<T> } {
    jobs.value.push(newJob(kind, label, 'running'));
    const job = jobs.value[jobs.value.length - 1]!;
    const started =
      typeof work === 'function'
        ? work((done, total) => {
            job.done = done;
            job.total = total;
          })
        : work;
    const result = started.then(
      (v) => {
        job.state = 'done';
        job.endedAt = Date.now();
        return v;
      },
      (e) => {
        job.state = 'failed';
        job.error = toApiError(e).message;
        job.endedAt = Date.now();
        throw e;
      },
    );
    result.catch(() => undefined);
    return { job, result };
  }

  async function cancel(job: Job): Promise<void> {
    if (!job.id || (job.state !== 'running' && job.state !== 'starting')) return;
    job.state = 'cancelling';
    try {
      await api().invoke('jobs.cancel', { jobId: job.id });
    } catch (e) {
      job.state = 'running';
      throw toApiError(e, 'jobs.cancel');
    }
  }

  function dismiss(job: Job): void {
    jobs.value = jobs.value.filter((j) => j.key !== job.key);
  }

  return { jobs, active, run, track, cancel, dismiss, subscribe };
});
