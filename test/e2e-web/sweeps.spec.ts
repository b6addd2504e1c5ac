/**
 * Sweeps in the app (issue 16), in Chromium against web mode with the local executor: a New sweep of tiny runs
 * (quick-cpu, T = 100, 4 steps, K 2 × λ 0,1) fills its grid as the runs train, a cell opens its run's monitor,
 * the results table groups them by K and λ and the Runs view lists them; a second, long sweep is cancelled
 * (running and queued cells stop).
 * Screenshots go to test-report/screenshots/sweeps-*.png.
 */
import { test, expect, type Page } from '@playwright/test';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type Served } from './server';

const SHOTS = 'test-report/screenshots';

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, `sweeps-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await test.info().attach(name, { path, contentType: 'image/png' });
}

/** The New-sweep form's base config: the quick-cpu preset cut down to seconds of work per run. */
async function tinyBase(page: Page, steps: number): Promise<void> {
  await expect(page.getByTestId('sweep-preset-select')).toHaveValue('quick-cpu');
  for (const [key, value] of [
    ['T', '100'],
    ['steps', String(steps)],
    ['gapT0', '10'],
    ['gapBatch', '2'],
    ['sampleN', '4'],
    ['sampleSteps', '5'],
    ['checkpointEvery', '2'],
    ['logEvery', '1'],
  ] as const) {
    await page.getByTestId(`field-${key}`).fill(value);
  }
}

async function statusOf(page: Page, index: number): Promise<string> {
  return (await page.getByTestId(`sweep-cell-status-${index}`).textContent())?.trim() ?? '';
}

test('new sweep → live grid → its monitor → results by K and λ → its runs → cancel', async ({ page }) => {
  const home = mkdtempSync(join(tmpdir(), 'sadpm-e2e-sweeps-'));
  const server: Served = await serve(join(home, 'data'));
  try {
    await page.goto(server.url);
    await page.getByTestId('nav-sweeps').click();
    await expect(page.getByTestId('sweeps-empty')).toBeVisible();
    await page.getByTestId('sweeps-new').click();

    // Mistakes are named where they are made, and block the sweep.
    await page.getByTestId('sweep-k').fill('2, two');
    await expect(page.getByTestId('sweep-error-k')).toHaveText("K values: 'two' is not a whole number (in '2, two')");
    await expect(page.getByTestId('sweep-create')).toBeDisabled();
    await page.getByTestId('sweep-executor-slurm').check();
    await page.getByTestId('slurm-ssh').fill('login.cluster');
    await expect(page.getByTestId('slurm-error-remoteDir')).toContainText('required with ssh');
    await shot(page, 'new-form-errors');
    await page.getByTestId('sweep-executor-local').check();
    await expect(page.getByTestId('sweep-slurm')).toHaveCount(0);

    await page.getByTestId('sweep-k').fill('2');
    await page.getByTestId('sweep-lambda').fill('0, 1');
    await page.getByTestId('sweep-seeds').fill('0');
    await page.getByTestId('sweep-name').fill('tiny');
    await tinyBase(page, 4);
    await expect(page.getByTestId('sweep-cell-count')).toContainText('2 runs');
    await expect(page.getByTestId('sweep-create')).toBeEnabled();
    await shot(page, 'new-form');
    await page.getByTestId('sweep-create').click();

    await expect(page).toHaveURL(/#\/sweeps\/1$/);
    await expect(page.getByTestId('sweep-title')).toHaveText('#1 tiny');
    await expect(page.getByTestId('sweep-grid')).toContainText('λ = 0');
    await expect(page.getByTestId('sweep-grid')).toContainText('λ = 1');
    await shot(page, 'grid-started');
    // The grid follows the runs without a reload.
    await expect.poll(() => statusOf(page, 0), { timeout: 5 * 60_000 }).toBe('completed');
    await expect.poll(() => statusOf(page, 1), { timeout: 5 * 60_000 }).toBe('completed');
    await expect(page.getByTestId('sweep-counts')).toHaveText(/2 completed/);
    await expect(page.getByTestId('sweep-cell-0')).toContainText('4/4');
    const results = page.getByTestId('sweep-results');
    await expect(results.locator('tbody tr')).toHaveCount(2);
    for (const l of [0, 1]) {
      const mean = await page.getByTestId(`sweep-result-2-${l}`).getByTestId('sweep-result-mean').textContent();
      expect(Number(mean), `mean loss of K 2 λ ${l}`).toBeGreaterThan(0);
    }
    await shot(page, 'grid-done');

    // The same runs in the experiment table: the Runs view filtered to the sweep.
    await page.getByTestId('sweep-show-runs').click();
    await expect(page).toHaveURL(/#\/runs$/);
    await expect(page.getByTestId('run-row-1')).toContainText('tiny-k2-l0-s0');
    await expect(page.getByTestId('run-row-2')).toContainText('tiny-k2-l1-s0');
    await shot(page, 'runs-of-sweep');
    await page.getByTestId('nav-sweeps').click();
    await page.getByTestId('sweep-open-1').click();

    // A cell is a run: its link opens the run's monitor.
    const href = await page.getByTestId('sweep-cell-link-1').getAttribute('href');
    expect(href).toMatch(/^#\/monitor\/\d+$/);
    await page.getByTestId('sweep-cell-link-1').click();
    await expect.poll(() => new URL(page.url()).hash).toBe(href);
    await expect(page.getByTestId('monitor-activity')).toBeVisible();
    await expect(page.locator('h1')).toContainText('tiny-k2-l1-s0');
    await shot(page, 'cell-monitor');

    // A long sweep, one run at a time: cancelling stops the running cell and the queued one.
    await page.getByTestId('nav-sweeps').click();
    await page.getByTestId('sweeps-new').click();
    await page.getByTestId('sweep-k').fill('2');
    await page.getByTestId('sweep-lambda').fill('1');
    await page.getByTestId('sweep-seeds').fill('0, 1');
    await page.getByTestId('sweep-max-parallel').fill('1');
    await tinyBase(page, 5000);
    await page.getByTestId('sweep-create').click();
    await expect(page).toHaveURL(/#\/sweeps\/2$/);
    await expect.poll(() => statusOf(page, 0), { timeout: 5 * 60_000 }).toBe('running');
    await expect(page.getByTestId('sweep-cell-status-1')).toHaveText('queued');
    await page.getByTestId('sweep-cancel').click();
    await page.getByTestId('sweep-cancel-confirm').click();
    await expect.poll(() => statusOf(page, 1), { timeout: 60_000 }).toBe('stopped');
    await expect.poll(() => statusOf(page, 0), { timeout: 3 * 60_000 }).toBe('stopped');
    await expect(page.getByTestId('sweep-cancel')).toBeDisabled();
    await expect(page.getByTestId('sweep-row-1')).toBeVisible();
    await expect(page.getByTestId('sweep-counts-1')).toHaveText(/2 completed/);
    await expect(page.getByTestId('sweep-counts-2')).toHaveText(/2 stopped/);
    await shot(page, 'cancelled');
  } finally {
    await server.stop();
  }
});
