/**
 * The gallery's hint while a run is young (issue 15): early samples of a diffusion model are noise, which new users
 * read as a bug. The figures are the ones this project measured (the small preset on builtin:shapes32 at batch 128
 * drew 42 of 64 recognisable shapes at step 5,000 on the H200; the tiny CPU preset at batch 8 still draws blobs at
 * 3,000: bench/results/h200-2026-11-30-study-5k, issue 17) and the order of magnitude of
 * published training (DDPM-style CIFAR-10 and CelebA models train for hundreds of thousands of steps).
 */
import type { RunRecord } from '../../shared/records';

/** Below this many steps a run's samples are expected to look like noise (the small built-in case). */
export const NOISE_STEPS_SMALL = 5000;

export function noiseHint(run: RunRecord): string | null {
  if (run.kind !== 'train') return null;
  const small = run.config.imageSize <= 16 || run.dataset.startsWith('builtin:');
  const needed = small ? NOISE_STEPS_SMALL : 50_000;
  if (run.step >= needed) return null;
  return small
    ? `Step ${run.step}: samples this early are usually still coloured noise. Small models on the built-in shapes ` +
        `need several thousand steps (about ${NOISE_STEPS_SMALL.toLocaleString('en-US')} at batch 128; the tiny CPU ` +
        'preset at batch 8 still draws blobs at 3,000) before most samples are recognisable shapes.'
    : `Step ${run.step}: samples this early are usually still noise. Models of this size on photographs ` +
        'train for hundreds of thousands of steps; recognisable images take tens of thousands at least.';
}
