/**
 * The New-sweep form (issue 16): the base config is the New-run form's (presets, per-field server validation);
 * on top of it the swept lists (K, λ, seeds), the executor and, for Slurm, where and how the tasks run. Each
 * field's error names what was expected; the request is what `sweeps.create` takes.
 */
import { computed, reactive, ref } from 'vue';
import {
  EXECUTORS,
  MAX_SWEEP_CELLS,
  parseAxisList,
  SlurmOptionsSchema,
  SweepAxesSchema,
  SweepRequestSchema,
  type ExecutorKind,
  type SlurmOptions,
  type SweepRequest,
} from '../../../shared/sweep';
import { useRunForm } from './runForm';

/** Config fields the sweep sets per cell (the axes and the run name), so the base form hides them. */
export const SWEPT_KEYS = ['k', 'lambda', 'seed', 'name'];

export type SlurmKey = keyof SlurmOptions;
export interface SlurmFieldDef {
  key: SlurmKey;
  label: string;
  kind: 'text' | 'int' | 'words';
  placeholder: string;
  help: string;
}

export const SLURM_FIELDS: SlurmFieldDef[] = [
  { key: 'partition', label: 'Partition', kind: 'text', placeholder: 'gpu', help: 'sbatch --partition' },
  { key: 'account', label: 'Account', kind: 'text', placeholder: 'my-lab', help: 'sbatch --account' },
  { key: 'time', label: 'Time limit per run', kind: 'text', placeholder: '02:00:00', help: 'HH:MM:SS or D-HH:MM' },
  { key: 'gpus', label: 'GPUs per run', kind: 'int', placeholder: '1', help: '--gres=gpu:N' },
  { key: 'gpuType', label: 'GPU type', kind: 'text', placeholder: 'a100', help: '--gres=gpu:TYPE:N' },
  { key: 'cpusPerTask', label: 'CPUs per run', kind: 'int', placeholder: '4', help: '--cpus-per-task' },
  { key: 'memory', label: 'Memory per run', kind: 'text', placeholder: '16G', help: '--mem' },
  {
    key: 'ssh',
    label: 'Login node (ssh)',
    kind: 'text',
    placeholder: 'empty: this machine',
    help: 'a host or ~/.ssh/config alias; keys or agent, never a password',
  },
  {
    key: 'remoteDir',
    label: 'Runs folder on the cluster',
    kind: 'text',
    placeholder: '/scratch/me/sadpm',
    help: 'shared by the compute nodes; required with ssh',
  },
  {
    key: 'sadpm',
    label: 'sadpm on the nodes',
    kind: 'words',
    placeholder: 'node /opt/sa-dpm-studio/bin/sadpm.mjs',
    help: 'how a compute node starts sadpm (default: this installation, or sadpm over ssh)',
  },
  { key: 'slurmConf', label: 'slurm.conf', kind: 'text', placeholder: "Slurm's default", help: 'SLURM_CONF' },
];

function zodMessage(r: { success: boolean; error?: { issues: { message: string }[] } }): string | null {
  return r.success ? null : (r.error!.issues[0]?.message ?? 'invalid');
}

export function useSweepForm(opts: { debounceMs?: number } = {}) {
  const base = useRunForm(opts);
  const axes = reactive({ k: '1, 2', lambda: '0, 1', seeds: '0' });
  const name = ref('');
  const maxParallel = ref('');
  const executor = ref<ExecutorKind>('local');
  const slurmText = reactive<Record<SlurmKey, string>>(
    Object.fromEntries(SLURM_FIELDS.map((f) => [f.key, ''])) as Record<SlurmKey, string>,
  );

  /** The axes as numbers, and a message per axis that is not a list of distinct values of the right kind. */
  const parsedAxes = computed(() => {
    const values: Record<'k' | 'lambda' | 'seeds', number[]> = { k: [], lambda: [], seeds: [] };
    const errors: Record<string, string> = {};
    const what = { k: 'K values', lambda: 'λ values', seeds: 'seeds' } as const;
    for (const key of ['k', 'lambda', 'seeds'] as const) {
      try {
        values[key] = parseAxisList(axes[key], what[key], { int: key !== 'lambda' });
      } catch (e) {
        errors[key] = (e as Error).message;
        continue;
      }
      const msg = zodMessage(SweepAxesSchema.shape[key].safeParse(values[key]));
      if (msg) errors[key] = `${what[key]}: ${msg}`;
    }
    return { values, errors };
  });

  const cellCount = computed(() => {
    const { values, errors } = parsedAxes.value;
    return Object.keys(errors).length ? null : values.k.length * values.lambda.length * values.seeds.length;
  });

  const parsedSlurm = computed(() => {
    const options: Record<string, unknown> = {};
    const errors: Record<string, string> = {};
    for (const f of SLURM_FIELDS) {
      const s = slurmText[f.key].trim();
      if (s === '') continue;
      if (f.kind === 'int') {
        if (!/^\d+$/.test(s)) errors[f.key] = `a whole number, got '${s}'`;
        else options[f.key] = Number(s);
      } else options[f.key] = f.kind === 'words' ? s.split(/\s+/) : s;
      if (errors[f.key]) continue;
      const msg = zodMessage(SlurmOptionsSchema.shape[f.key].safeParse(options[f.key]));
      if (msg) errors[f.key] = msg;
    }
    if (options.ssh !== undefined && options.remoteDir === undefined && !errors.remoteDir) {
      errors.remoteDir = 'required with ssh: a folder on the cluster that its compute nodes share';
    }
    return { options: options as SlurmOptions, errors };
  });

  /** Errors of the sweep's own fields (the base config's are the run form's). */
  const errors = computed(() => {
    const out: Record<string, string> = { ...parsedAxes.value.errors };
    const n = cellCount.value;
    if (n !== null && n > MAX_SWEEP_CELLS) out.seeds = `${n} runs is more than the ${MAX_SWEEP_CELLS} a sweep may hold`;
    if (name.value.trim()) {
      const msg = zodMessage(SweepRequestSchema.shape.name.safeParse(name.value.trim()));
      if (msg) out.name = msg;
    }
    const mp = maxParallel.value.trim();
    if (mp && !(/^\d+$/.test(mp) && Number(mp) >= 1 && Number(mp) <= 1000)) {
      out.maxParallel = `a whole number from 1 to 1000, got '${mp}'`;
    }
    if (executor.value === 'slurm') {
      for (const [k, v] of Object.entries(parsedSlurm.value.errors)) out[`slurm.${k}`] = v;
    }
    return out;
  });

  /** Base-config errors, without those of the fields the sweep sets per cell. */
  const baseErrors = computed(() => Object.entries(base.fieldErrors.value).filter(([k]) => !SWEPT_KEYS.includes(k)));

  const valid = computed(
    () =>
      Object.keys(errors.value).length === 0 &&
      baseErrors.value.length === 0 &&
      base.otherErrors.value.length === 0 &&
      !base.validateError.value,
  );

  function request(): SweepRequest {
    const config = { ...base.parsed.value.config };
    for (const k of SWEPT_KEYS) delete config[k];
    const { values } = parsedAxes.value;
    const mp = maxParallel.value.trim();
    return {
      name: name.value.trim() || undefined,
      base: config,
      axes: { k: values.k, lambda: values.lambda, seeds: values.seeds },
      executor: executor.value,
      maxParallel: mp ? Number(mp) : undefined,
      slurm: executor.value === 'slurm' ? parsedSlurm.value.options : undefined,
      tags: base.tagList(),
    };
  }

  /** Sets one of the sweep's own fields as typed: an axis, name, maxParallel, executor or `slurm.<key>`. */
  function set(field: string, value: string): void {
    if (field === 'k' || field === 'lambda' || field === 'seeds') axes[field] = value;
    else if (field === 'name') name.value = value;
    else if (field === 'maxParallel') maxParallel.value = value;
    else if (field === 'executor' && (EXECUTORS as readonly string[]).includes(value)) {
      executor.value = value as ExecutorKind;
    } else if (field.startsWith('slurm.') && field.slice(6) in slurmText) slurmText[field.slice(6) as SlurmKey] = value;
    else throw new Error(`no sweep field '${field}'`);
  }

  function reset(): void {
    base.reset();
    Object.assign(axes, { k: '1, 2', lambda: '0, 1', seeds: '0' });
    name.value = '';
    maxParallel.value = '';
    executor.value = 'local';
    for (const f of SLURM_FIELDS) slurmText[f.key] = '';
  }

  return {
    base,
    axes,
    name,
    maxParallel,
    executor,
    slurmText,
    parsedAxes,
    cellCount,
    parsedSlurm,
    errors,
    baseErrors,
    valid,
    request,
    set,
    reset,
    executors: EXECUTORS,
  };
}

export type SweepForm = ReturnType<typeof useSweepForm>;
