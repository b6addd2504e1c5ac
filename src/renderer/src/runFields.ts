/**
 * Every RunConfig field as the New-run form shows it: group, label, input kind and help. The help
 * text comes from the schema's own descriptions where it has one.
 */
import {
  BACKENDS,
  MODEL_PRESET_NAMES,
  RunConfigSchema,
  SAMPLERS,
  SCHEDULES,
  SPACINGS,
  TAU_VARIANTS,
} from '../../shared/config';

export type FieldKind = 'int' | 'float' | 'enum' | 'bool' | 'list' | 'text' | 'dataset';

export interface FieldDef {
  key: string;
  label: string;
  kind: FieldKind;
  options?: readonly string[];
  help?: string;
  min?: number;
  step?: string;
  /** An optional text field: empty means unset (the config leaves the key out). */
  optional?: boolean;
}

export interface FieldGroup {
  id: string;
  title: string;
  note?: string;
  fields: FieldDef[];
}

const f = (key: string, label: string, kind: FieldKind, extra: Partial<FieldDef> = {}): FieldDef => ({
  key,
  label,
  kind,
  ...extra,
});

export const FIELD_GROUPS: FieldGroup[] = [
  {
    id: 'run',
    title: 'Run',
    fields: [
      f('name', 'Name', 'text', { help: 'shown in lists and exports' }),
      f('dataset', 'Dataset', 'dataset'),
      f('seed', 'Seed', 'int', { min: 0 }),
      f('backend', 'Backend', 'enum', {
        options: BACKENDS,
        help: 'auto picks WebGPU, then TensorFlow (CUDA), then CPU; wasm: WebAssembly on the CPU (~2x llvmpipe, tiny preset)',
      }),
      f('initFrom', 'Start from', 'text', {
        optional: true,
        help: "empty: random weights; a checkpoint's path (.sadpm-ck) or builtin:starter-shapes continues that model",
      }),
    ],
  },
  {
    id: 'loss',
    title: 'Sequence-aware loss',
    note: 'L = L_simple + λ·L_sa over K consecutive steps. K = 1 or λ = 0 is plain DDPM.',
    fields: [
      f('k', 'K (consecutive steps)', 'int', { min: 1 }),
      f('lambda', 'λ (SA weight)', 'float', { min: 0, step: 'any' }),
      f('tau', 'τ variant', 'enum', {
        options: TAU_VARIANTS,
        help:
          'official: unweighted sum (the official code); paper: literal τ_t weights; ' +
          'normalized: τ divided by its mean',
      }),
    ],
  },
  {
    id: 'diffusion',
    title: 'Diffusion',
    fields: [
      f('T', 'T (diffusion steps)', 'int', { min: 2 }),
      f('schedule', 'β schedule', 'enum', { options: SCHEDULES }),
      f('betaStart', 'β start', 'float', { step: 'any' }),
      f('betaEnd', 'β end', 'float', { step: 'any' }),
    ],
  },
  {
    id: 'model',
    title: 'Model (UNet)',
    fields: [
      f('preset', 'Model preset', 'enum', {
        options: MODEL_PRESET_NAMES,
        help: 'fills the sizes below; cifar10 and celeba64 are the official architectures',
      }),
      f('ch', 'Base channels', 'int', { min: 1 }),
      f('chMult', 'Channel multipliers', 'list', { help: 'comma-separated, one per resolution level, e.g. 1,2,2,2' }),
      f('numResBlocks', 'Res blocks per level', 'int', { min: 1 }),
      f('attnResolutions', 'Attention at (px)', 'list', { help: 'comma-separated feature-map sizes, e.g. 16' }),
      f('dropout', 'Dropout', 'float', { min: 0, step: 'any' }),
      f('imageSize', 'Image size (px)', 'int', { min: 1 }),
      f('channels', 'Image channels', 'int', { min: 1 }),
      f('normGroups', 'GroupNorm groups', 'int', { min: 1 }),
    ],
  },
  {
    id: 'training',
    title: 'Training',
    fields: [
      f('steps', 'Steps (total)', 'int', { min: 1 }),
      f('batch', 'Batch size', 'int', { min: 1 }),
      f('lr', 'Learning rate', 'float', { step: 'any' }),
      f('warmup', 'Warm-up steps', 'int', { min: 0 }),
      f('adamBeta1', 'Adam β1', 'float', { step: 'any' }),
      f('adamBeta2', 'Adam β2', 'float', { step: 'any' }),
      f('adamEps', 'Adam ε', 'float', { step: 'any' }),
      f('emaDecay', 'EMA decay', 'float', { step: 'any' }),
      f('gradClip', 'Grad clip (global norm)', 'float', { min: 0, step: 'any' }),
      f('randomFlip', 'Random horizontal flip', 'bool', { options: ['false', 'true'] }),
    ],
  },
  {
    id: 'intervals',
    title: 'Logging, checkpoints and monitors',
    fields: [
      f('logEvery', 'Log every (steps)', 'int', { min: 1 }),
      f('checkpointEvery', 'Checkpoint every', 'int', { min: 1 }),
      f('sampleEvery', 'Sample grid every', 'int', { min: 0 }),
      f('gapEvery', 'Gap monitor every', 'int', { min: 0 }),
      f('gapT0', 'Gap start t0', 'int', {
        min: 1,
        help: 'the reverse chain starts from the true x_t0 (the paper uses 300)',
      }),
      f('gapBatch', 'Gap batch', 'int', { min: 1 }),
    ],
  },
  {
    id: 'samples',
    title: 'Samples written during training',
    fields: [
      f('sampleN', 'Images per grid', 'int', { min: 1 }),
      f('sampler', 'Sampler', 'enum', { options: SAMPLERS }),
      f('sampleSteps', 'Sampling steps', 'int', { min: 1 }),
      f('spacing', 'Step spacing', 'enum', { options: SPACINGS }),
      f('eta', 'η (DDIM)', 'float', { min: 0, step: 'any' }),
    ],
  },
];

export const ALL_FIELDS: FieldDef[] = FIELD_GROUPS.flatMap((g) => g.fields);
export const FIELD_KEYS: string[] = ALL_FIELDS.map((x) => x.key);

/** The schema's description of a field (zod .describe), if any. */
export function schemaHelp(key: string): string | undefined {
  const shape = (RunConfigSchema as unknown as { shape?: Record<string, { description?: string }> }).shape;
  return shape?.[key]?.description;
}

/** A config value as the text an input shows. */
export function toText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.join(', ');
  return String(v);
}

/** Parses one input's text into a config value, or an error message. */
export function fromText(def: FieldDef, text: string): { value: unknown } | { error: string } {
  const s = text.trim();
  switch (def.kind) {
    case 'int': {
      if (s === '') return { error: 'required' };
      const n = Number(s);
      return Number.isInteger(n) ? { value: n } : { error: 'must be a whole number' };
    }
    case 'float': {
      if (s === '') return { error: 'required' };
      const n = Number(s);
      return Number.isFinite(n) ? { value: n } : { error: 'must be a number (e.g. 0.0002 or 2e-4)' };
    }
    case 'list': {
      if (s === '') return { value: [] };
      const parts = s
        .split(/[\s,]+/)
        .filter(Boolean)
        .map(Number);
      const ok = parts.every((n) => Number.isInteger(n) && n > 0);
      return ok ? { value: parts } : { error: 'comma-separated positive whole numbers' };
    }
    case 'bool':
      return s === 'true' || s === 'false' ? { value: s === 'true' } : { error: 'true or false' };
    default:
      return def.optional && s === '' ? { value: undefined } : { value: s };
  }
}
