/**
 * Issue 12/15 in Chromium against web mode: a tiny run trained from the CLI (checkpoints at steps 2 and 4); the
 * Gallery's "Over training" tab shows one column per checkpoint, samples the missing ones, switches EMA/raw (the
 * sampled columns come back at once), and the denoising filmstrip gets its x̂0 row, each frame labelled with t.
 * Screenshots go to test-report/screenshots/strip-*.png.
 */
import { test, expect, type Page } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serve, type Served } from './server';

const SHOTS = 'test-report/screenshots';

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, `strip-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await test.info().attach(name, { path, contentType: 'image/png' });
}

const naturalSize = (page: Page, testid: string) =>
  page
    .getByTestId(testid)
    .evaluate((el) => [(el as HTMLImageElement).naturalWidth, (el as HTMLImageElement).naturalHeight]);

test('gallery: the strip over training (columns per checkpoint, EMA/raw) and the filmstrip x̂0 row', async ({
  page,
}) => {
  const home = mkdtempSync(join(tmpdir(), 'sadpm-e2e-strip-'));
  const data = join(home, 'data');
  const trained = spawnSync(
    process.execPath,
    [resolve('bin/sadpm.mjs'), 'train', '--preset', 'tiny', '--T', '100', '--batch', '2', '--steps', '4'].concat(
      ['--checkpoint-every', '2', '--sample-n', '2', '--sample-steps', '3', '--gap-t0', '8', '--gap-batch', '2'],
      ['--name', 'strip-e2e'],
    ),
    { encoding: 'utf8', env: { ...process.env, SADPM_HOME: data, EGL_PLATFORM: 'surfaceless' }, timeout: 300_000 },
  );
  expect(trained.status, trained.stderr).toBe(0);
  const server: Served = await serve(data);
  try {
    await page.goto(server.url);
    await expect(page.getByTestId('nav-runs')).toBeVisible();
    await page.evaluate(() => (location.hash = '#/gallery/1'));
    await expect(page.getByTestId('gallery-checkpoint')).toBeVisible();

    await page.getByTestId('gallery-tab-strip').click();
    await expect(page.getByTestId('strip-col-2')).toHaveAttribute('data-state', 'missing');
    await expect(page.getByTestId('strip-col-4')).toHaveAttribute('data-state', 'missing');
    await page.getByTestId('strip-n').fill('3');
    await page.getByTestId('strip-steps').fill('3');
    await expect(page.getByTestId('strip-sample')).toHaveText('Sample 2 checkpoints');
    await page.getByTestId('strip-sample').click();
    await expect(page.getByTestId('strip-col-4')).toHaveAttribute('data-state', 'sampled', { timeout: 120_000 });
    await expect(page.getByTestId('strip-col-2')).toHaveAttribute('data-state', 'sampled');
    await expect(page.getByTestId('strip-col-2')).toContainText('step 2');
    await expect(page.getByTestId('strip-path')).toContainText('strip-ddim3-ema-seed0-n3.png');
    // A column: 3 images of 16 px at 4x, 2 px apart.
    await expect.poll(() => naturalSize(page, 'strip-img-4')).toEqual([68, 3 * 66 + 2]);
    await expect(page.getByTestId('strip-sample')).toHaveText('Write the strip PNG');
    await shot(page, 'ema');

    // Raw weights are other columns; back to EMA, the sampled ones show at once, without a job.
    await page.getByTestId('strip-weights-raw').click();
    await expect(page.getByTestId('strip-col-2')).toHaveAttribute('data-state', 'missing');
    await page.getByTestId('strip-weights-ema').click();
    await expect(page.getByTestId('strip-col-2')).toHaveAttribute('data-state', 'sampled');
    await expect(page.getByTestId('strip-counts')).toContainText('2 of 2 checkpoints already sampled');

    // The filmstrip with the predicted x̂0 under each x_t: two rows below a band of t labels.
    await page.getByTestId('filmstrip-frames').fill('3');
    await page.getByTestId('filmstrip-x0').check();
    await page.getByTestId('gallery-filmstrip').click();
    await expect(page.getByTestId('gallery-filmstrip-image')).toBeVisible({ timeout: 120_000 });
    await expect(page.getByTestId('filmstrip-caption')).toContainText('each frame labelled with its t');
    await expect(page.getByTestId('filmstrip-caption')).toContainText('the x̂0 predicted from it');
    // 3 frames and the sample: 4 columns of 66 px; a 13 px label band over 2 rows of 66 px.
    await expect.poll(() => naturalSize(page, 'gallery-filmstrip-image')).toEqual([4 * 66 + 2, 13 + 2 * 66 + 2]);
    await page.getByTestId('gallery-filmstrip-image').scrollIntoViewIfNeeded();
    await shot(page, 'filmstrip-x0');
  } finally {
    await server.stop();
  }
});
