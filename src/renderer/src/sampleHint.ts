/**
 * The gallery's hint while a run is young (issue 15): early samples of a diffusion model are noise, which new users
 * read as a bug. The figures are the ones this project measured (README: the tiny preset on builtin:shapes still
 * gives saturated colour noise at 200 steps; crisp shapes take a few thousand) and the order of magnitude of
 * published training (DDPM-style CIFAR-10 and CelebA models train for hundreds of thousands of steps).
 */
import type { RunRecord } from '../../shared/records';

/** Below this many steps a run's samples are expected to look like noise (the small built-in case). */
export const NOISE_STEPS_SMALL = 3000;

export function noiseHint(run: RunRecord): string | null {
  if (run.kind !== 'train') return null;
  const small = run.config.imageSize <= 16 || run.dataset.startsWith('builtin:');
  const needed = small ? NOISE_STEPS_SMALL : 50_000;
  if (run.step >= needed) return null;
  return small
    ? `Step ${run.step}: samples this early are usually still coloured noise. Small models on the built-in shapes ` +
        `need a few thousand steps (about ${NOISE_STEPS_SMALL.toLocaleString('en-US')}) before the shapes are crisp.`
    : `Step ${run.step}: samples this early are usually still noise. Models of this size on photographs ` +
        'train for hundreds of thousands of steps; recognisable images take tens of thousands at least.';
}
