/**
 * Names derived from runs and configs, in one place: file-name slugs, default run names, the loss label,
 * export file names, and whether the SA term is on. Each was written several times before and the copies
 * had drifted (three slug variants; app and CLI named exports differently).
 */

/** What decides the loss: K consecutive steps and the weight of the SA term. */
export interface LossChoice {
  k: number;
  lambda: number;
}

/** True when the SA term is active: K >= 2 network evaluations per image and a positive weight. */
export function isSaActive(c: LossChoice): boolean {
  return c.k >= 2 && c.lambda > 0;
}

/** 'SA-2 λ=1' or 'DDPM': how tables and captions name a run's loss. */
export function lossLabel(c: LossChoice): string {
  return isSaActive(c) ? `SA-${c.k} λ=${c.lambda}` : 'DDPM';
}

/** A run's name when the user gives none: model preset and loss, e.g. 'small-sa2-l1' or 'tiny-ddpm'. */
export function defaultRunName(c: LossChoice & { preset: string }): string {
  return `${c.preset}-${isSaActive(c) ? `sa${c.k}-l${c.lambda}` : 'ddpm'}`;
}

/**
 * A file-name-safe form of `s`: runs of anything but letters, digits, '_', '.', '-' become '_', no leading
 * dots or underscores (no hidden files), at most `max` characters; `fallback` when nothing is left.
 */
export function slug(s: string, fallback: string, max = 60): string {
  return (
    s
      .replace(/[^A-Za-z0-9_.-]+/g, '_')
      .replace(/^[._]+/, '')
      .slice(0, max) || fallback
  );
}

/** A short, sortable stamp that keeps two exports of the same run in the same second apart. */
export function fileStamp(now = Date.now()): string {
  return now.toString(36);
}

export type RunExportKind = 'metrics.csv' | 'metrics.json' | 'tar.gz';

/** The file name of an export of run `run`: `run-<id>-<name>-<stamp>.<kind>` (the app and the CLI alike). */
export function runExportFileName(run: { id: number; name: string }, kind: RunExportKind, stamp = fileStamp()): string {
  return `run-${run.id}-${slug(run.name, 'run')}-${stamp}.${kind}`;
}

/** The file name of a sample-grid export: run, step, sampler, steps, seed and weights say what it holds. */
export function gridExportFileName(
  run: { id: number },
  step: number,
  s: { sampler: string; steps: number; seed: number; ema: boolean },
  stamp = fileStamp(),
): string {
  return `grid-run${run.id}-step${step}-${s.sampler}${s.steps}-seed${s.seed}${s.ema ? '-ema' : ''}-${stamp}.png`;
}
