/**
 * Issue 15 in Chromium against web mode, on a store seeded before the server starts (no training: the table
 * and charts read what is recorded): the experiment table (paging through 306 runs, filter, sort by click and
 * by keyboard, group by λ with mean ± std, parallel coordinates, a config diff, the column chooser remembered,
 * Escape closes dialogs), a selection opened in Compare and overlaid in the monitor, the legend hiding a run, a
 * drag zoom that reads the zoomed range at full detail from the store (the CSV download proves it: every step of
 * the range), the time axes, PNG download, the dark theme remembered, and screenshots of every view at 1280×800
 * and 800×600 in both themes, with no sideways overflow. With 10,000 runs: the shell starts with a page and the
 * counts, the list pages through the store, a run picker searches it, the table renders only the rows in view.
 */
import { test, expect, type Page } from '@playwright/test';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { zipSync } from 'fflate';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { serve, type Served } from './server';
import { RunStore } from '../../src/store/runStore';
import { resolveRunConfig } from '../../src/shared/config';

const SHOTS = 'test-report/screenshots';
const LAMBDAS = [0, 0.5, 1];
const SEEDS = [0, 1];
const LONG_STEPS = 30_000;
/** Plain runs besides the 7 with metrics (the walk); the measurement seeds 10,000, the table target. */
const BULK = 299;

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await test.info().attach(name, { path, contentType: 'image/png' });
}

/** The loss of a grid run at its end: 1 + λ + seed/10 (so a group's mean and std are known). */
const finalLoss = (lambda: number, seed: number) => 1 + lambda + seed / 10;

/**
 * Six finished runs (λ × seed, tag 'grid') with 200 logged steps each, one long run (30,000 steps of loss and
 * wall time) and `bulk` plain queued runs (tag 'bulk') so the table has pages.
 */
function seed(home: string, bulk = BULK): { grid: Map<string, number>; long: number } {
  const store = RunStore.open(home);
  const grid = new Map<string, number>();
  const owner = { pid: process.pid, start: 0 };
  const t0 = Date.UTC(2026, 0, 5, 9, 0, 0) / 1000;
  store.writeTransaction(() => {
    for (let i = 0; i < bulk; i++) {
      store.runs.create({
        name: `bulk-${i}`,
        appVersion: 'e2e',
        tags: ['bulk'],
        config: resolveRunConfig({ preset: 'tiny', k: 2, lambda: (i % 5) / 4, T: 1000, seed: i, steps: 50 }),
      });
    }
  });
  for (const lambda of LAMBDAS) {
    for (const s of SEEDS) {
      const run = store.runs.create({
        name: `grid-l${lambda}-s${s}`,
        appVersion: 'e2e',
        tags: ['grid'],
        config: resolveRunConfig({ preset: 'tiny', k: 2, lambda, T: 1000, seed: s, steps: 200, lr: 2e-3, batch: 8 }),
      });
      const pts = [];
      for (let step = 1; step <= 200; step++) {
        const loss = finalLoss(lambda, s) + (200 - step) / 100;
        pts.push({ step, name: 'loss', value: loss }, { step, name: 'simple', value: loss * 0.7 });
        pts.push({ step, name: 'sa', value: loss * 0.3 }, { step, name: 'imagesPerSec', value: 40 + s });
        pts.push({ step, name: 'wallTime', value: t0 + 60 * s + step * 0.5 });
      }
      store.metrics.append(run.id, pts);
      store.runs.markRunning(run.id, owner);
      store.runs.setProgress(run.id, 200, finalLoss(lambda, s));
      store.runs.setLastTerms(run.id, {
        simple: finalLoss(lambda, s) * 0.7,
        sa: finalLoss(lambda, s) * 0.3,
        imagesPerSec: 40 + s,
      });
      store.gaps.add({
        runId: run.id,
        step: 200,
        t0: 30,
        t: [2, 1],
        meanAbs: [0.5, 0.1 + lambda / 10],
        l2: [1, 1],
        signedMean: [0, 0],
      });
      store.runs.setStatus(run.id, 'completed');
      // Checkpoints (records only: nothing samples them here) for Compare's panes.
      if (lambda === 0.5) {
        for (const step of [100, 200]) {
          store.checkpoints.add({
            runId: run.id,
            step,
            kind: 'full',
            path: join(home, `ck-${run.id}-${step}`),
            bytes: 1,
            metrics: {},
          });
        }
      }
      grid.set(`${lambda}/${s}`, run.id);
    }
  }
  const long = store.runs.create({
    name: 'long-run',
    appVersion: 'e2e',
    tags: ['long'],
    config: resolveRunConfig({ preset: 'tiny', k: 2, lambda: 1, T: 1000, seed: 7, steps: LONG_STEPS }),
  });
  const pts = [];
  for (let step = 1; step <= LONG_STEPS; step++) {
    pts.push({ step, name: 'loss', value: 2 + Math.sin(step / 300) + (step % 97 === 0 ? 1 : 0) });
    pts.push({ step, name: 'wallTime', value: t0 + step * 0.2 });
  }
  store.metrics.append(long.id, pts);
  store.runs.markRunning(long.id, owner);
  store.runs.setProgress(long.id, LONG_STEPS, 2);
  store.runs.setStatus(long.id, 'completed');
  store.close();
  return { grid, long: long.id };
}

/** Nothing wider than the window; a wide table scrolls inside its own box (which is not the page overflowing). */
async function expectNoSidewaysOverflow(page: Page, where: string): Promise<void> {
  const r = await page.evaluate(() => {
    const vw = document.documentElement.clientWidth;
    const main = document.querySelector('.main')!;
    const name = (e: Element) => e.getAttribute('data-testid') ?? e.className ?? e.tagName;
    return {
      page: document.documentElement.scrollWidth - vw,
      main: main.scrollWidth - main.clientWidth,
      offscreen: [...document.querySelectorAll('button, a, input, select')]
        .filter((e) => {
          const b = e.getBoundingClientRect();
          return b.width > 0 && b.right > vw + 1 && !e.closest('.xtable__scroll');
        })
        .map(name),
    };
  });
  expect.soft(r, where).toEqual({ page: 0, main: 0, offscreen: [] });
}

async function download(page: Page, testid: string): Promise<Buffer> {
  const [d] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testid).click()]);
  return readFileSync((await d.path())!);
}

/**
 * Figures for 10,000 runs (test-report/i15-table-bench.json): a sort by a header click until its first row shows,
 * the main-thread tasks over 50 ms meanwhile, and frame times while the table scrolls.
 */
async function measureTable(page: Page): Promise<void> {
  const sort = await page.evaluate(async () => {
    const long: { start: number; dur: number }[] = [];
    const po = new PerformanceObserver((l) =>
      l.getEntries().forEach((e) => long.push({ start: e.startTime, dur: e.duration })),
    );
    po.observe({ type: 'longtask' });
    const first = () => document.querySelector('[data-testid^="xtable-row-"]')?.getAttribute('data-testid');
    const before = first();
    const t0 = performance.now();
    (document.querySelector('[data-testid="xtable-sort-loss"]') as HTMLElement).click();
    await new Promise<void>((res) => {
      const mo = new MutationObserver(() => {
        if (first() !== before) {
          mo.disconnect();
          res();
        }
      });
      mo.observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await new Promise(requestAnimationFrame);
    const ms = performance.now() - t0;
    po.disconnect();
    return { ms, longTasksMs: long.map((l) => Math.round(l.dur)) };
  });
  await page.getByTestId('xtable-page-size').selectOption('250');
  await expect(page.getByTestId('xtable-range')).toHaveText('1–250 of 10,000');
  const frames = await page.evaluate(async () => {
    const el = document.querySelector('.xtable__main')!;
    const times: number[] = [];
    let last = performance.now();
    for (let i = 0; i < 90; i++) {
      el.scrollTop = (i % 45) * 160;
      await new Promise(requestAnimationFrame);
      const now = performance.now();
      times.push(now - last);
      last = now;
    }
    return times.sort((a, b) => a - b);
  });
  const domRows = await page.locator('[data-testid^="xtable-row-"]').count();
  const figures = {
    runs: 10_000,
    domRows,
    sortToFirstRowMs: Math.round(sort.ms),
    longTasksDuringSortMs: sort.longTasksMs,
    scrollFrameMs: { p50: +frames[45]!.toFixed(1), p95: +frames[85]!.toFixed(1), max: +frames[89]!.toFixed(1) },
  };
  mkdirSync('test-report', { recursive: true });
  writeFileSync('test-report/i15-table-bench.json', JSON.stringify(figures, null, 2));
  console.log('experiment table, 10,000 runs:', JSON.stringify(figures));
  expect(sort.ms).toBeLessThan(3000);
}

const csvRows = (csv: string) =>
  csv
    .trim()
    .split('\n')
    .map((l) => l.split(','));

let served: Served | null = null;
test.afterEach(async () => {
  await served?.stop();
  served = null;
});

test('experiment table, overlay, zoom from the store, downloads, time axis, dark mode, both window sizes', async ({
  page,
}) => {
  test.setTimeout(6 * 60_000);
  const home = mkdtempSync(join(tmpdir(), 'sadpm-e2e-i15-'));
  const { grid, long } = seed(home);
  served = await serve(home);
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(served.url);
  await page.getByTestId('nav-runs').click();

  // --- The table: pages, filter, sort (click and keyboard), group by. ---
  await page.getByTestId('runs-mode-table').click();
  await expect(page.getByTestId('xtable-range')).toHaveText('1–100 of 306');
  await page.getByTestId('xtable-next').click();
  await expect(page.getByTestId('xtable-range')).toHaveText('101–200 of 306');
  await expect(page.getByTestId('xtable-page')).toHaveText('2 / 4');
  await page.getByTestId('xtable-filter-tags').fill('grid');
  await page.getByTestId('xtable-filter-tags').press('Enter');
  await expect(page.getByTestId('xtable-range')).toHaveText('1–6 of 6');
  await page.getByTestId('xtable-sort-loss').focus();
  await page.keyboard.press('Enter');
  const firstCells = (key: string) =>
    page.locator(`[data-testid^="xtable-cell-"][data-testid$="-${key}"]`).allTextContents();
  await expect.poll(() => firstCells('loss')).toEqual(['1', '1.1', '1.5', '1.6', '2', '2.1']);
  await page.getByTestId('xtable-sort-loss').click();
  await expect.poll(() => firstCells('loss')).toEqual(['2.1', '2', '1.6', '1.5', '1.1', '1']);
  await expect.poll(() => firstCells('gap')).toEqual(['0.2', '0.2', '0.15', '0.15', '0.1', '0.1']);
  await page.getByTestId('xtable-filter-lambda').fill('>=0.5x');
  await page.getByTestId('xtable-filter-lambda').press('Enter');
  await expect(page.getByTestId('xtable-filter-error')).toContainText("λ: '0.5x' is not a number");
  await page.getByTestId('xtable-filter-lambda').fill('');
  await page.getByTestId('xtable-filter-lambda').press('Enter');

  await page.getByTestId('xtable-group').selectOption('lambda');
  const groups = page.locator('[data-testid^="xtable-group-"][data-testid$="-loss"]');
  // Loss 1 + λ + seed/10 over seeds 0 and 1: mean 1.05 + λ, sample std 0.0707.
  await expect.poll(() => groups.allTextContents()).toEqual(['1.05 ± 0.07071', '1.55 ± 0.07071', '2.05 ± 0.07071']);
  await shot(page, 'i15-runs-table-grouped-1280');
  await page.getByTestId('xtable-group-2').click();
  await expect(page.getByTestId('xtable-range')).toHaveText('1–2 of 2');
  await expect(page.getByTestId('xtable-filter-lambda')).toHaveValue('=1');
  await page.getByTestId('xtable-group').selectOption('');
  await page.getByTestId('xtable-filter-lambda').fill('');
  await page.getByTestId('xtable-filter-lambda').press('Enter');

  // Parallel coordinates over the hyperparameter columns shown, against the loss, for the 6 runs filtered.
  await page.getByTestId('xtable-parallel-toggle').click();
  await expect(page.getByTestId('xtable-parallel-count')).toContainText('6 of 6 runs');
  await expect(page.getByTestId('xtable-parallel').locator('canvas').first()).toBeVisible();
  await page.getByTestId('xtable-parallel-result').selectOption('gap');
  await shot(page, 'i15-runs-parallel-1280');
  await page.getByTestId('xtable-parallel-toggle').click();

  // Config diff of two runs: only the fields that differ (λ and seed), the second run's values highlighted.
  await page.getByTestId(`xtable-select-${grid.get('0/0')}`).check();
  await page.getByTestId(`xtable-select-${grid.get('1/1')}`).check();
  await page.getByTestId('xtable-diff-open').click();
  const diff = page.getByTestId('xtable-diff');
  await expect(diff.locator('tbody tr')).toHaveCount(2);
  await expect(page.getByTestId('xtable-diff-lambda').locator('td')).toHaveText(['lambda', '0', '1']);
  await expect(page.getByTestId('xtable-diff-seed').locator('.diff-cell--changed')).toHaveText(['1']);
  await shot(page, 'i15-runs-config-diff-1280');
  await page.keyboard.press('Escape');
  await expect(diff).toHaveCount(0);
  await page.getByTestId('xtable-clear').click();

  // Compare from the selection: refused with the reason for one run; with three, the first two that have a
  // checkpoint side by side at their latest, every run in the curves, a note for the one without checkpoints.
  const [noCk, ckA, ckB] = [grid.get('1/1')!, grid.get('0.5/0')!, grid.get('0.5/1')!];
  await page.getByTestId(`xtable-select-${noCk}`).check();
  await expect(page.getByTestId('xtable-compare')).toBeDisabled();
  await expect(page.getByTestId('xtable-compare')).toHaveAttribute('title', 'Select at least two runs to compare them');
  await page.getByTestId(`xtable-select-${ckA}`).check();
  await page.getByTestId(`xtable-select-${ckB}`).check();
  await page.getByTestId('xtable-compare').click();
  await expect(page).toHaveURL(new RegExp(`#/compare\\?runs=${noCk}%2C${ckA}%2C${ckB}$`));
  await expect(page.getByTestId('compare-chip-0')).toContainText('grid-l0.5-s0 @ 200');
  await expect(page.getByTestId('compare-chip-1')).toContainText('grid-l0.5-s1 @ 200');
  await expect(page.getByTestId(`compare-run-chip-${noCk}`)).toContainText('grid-l1-s1');
  await expect(page.getByTestId('compare-open-notes')).toContainText('grid-l1-s1 has no checkpoint yet');
  await expect(page.getByTestId('compare-chart-metric').locator('canvas').first()).toBeVisible();
  const compareCsv = csvRows((await download(page, 'compare-chart-metric-csv')).toString());
  expect(compareCsv[0]).toEqual(['step', 'grid-l0.5-s0', 'grid-l0.5-s1', 'grid-l1-s1']);
  await shot(page, 'i15-compare-from-selection-1280');
  await page.getByTestId('nav-runs').click();
  await page.getByTestId('xtable-clear').click();

  // Column chooser: remembered across a reload, closed by Escape.
  await page.getByTestId('xtable-columns').click();
  await page.getByTestId('xtable-col-schedule').check();
  await page.getByTestId('xtable-col-seed').uncheck();
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('xtable-chooser')).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('xtable')).toBeVisible();
  await expect(page.getByTestId('xtable-sort-schedule')).toBeVisible();
  await expect(page.getByTestId('xtable-sort-seed')).toHaveCount(0);

  // --- A selection overlaid in the monitor. ---
  const other = grid.get('0/0')!;
  // Filters last while the page is open: after the reload, all 306 runs again; 'g' in the name: the long and grid runs.
  await expect(page.getByTestId('xtable-range')).toHaveText('1–100 of 306');
  await page.getByTestId('xtable-filter-name').fill('g');
  await page.getByTestId('xtable-filter-name').press('Enter');
  await expect(page.getByTestId('xtable-range')).toHaveText('1–7 of 7');
  await page.getByTestId(`xtable-select-${long}`).check();
  await page.getByTestId(`xtable-select-${other}`).check();
  await page.getByTestId('xtable-overlay').click();
  await expect(page).toHaveURL(new RegExp(`#/monitor/${long}\\?overlay=${other}$`));
  await expect(page.getByTestId(`legend-run-${other}`)).toBeVisible();

  // --- CSV of the whole chart: both runs, the long one downsampled from the store's summary. ---
  const chart = page.getByTestId('chart-loss');
  await expect(chart.locator('canvas').first()).toBeVisible();
  let csv = csvRows((await download(page, 'chart-loss-csv')).toString());
  expect(csv[0]).toEqual(['step', 'long-run', 'grid-l0-s0']);
  expect(csv.length - 1).toBeLessThan(LONG_STEPS / 2);
  expect(csv.find((r) => r[0] === '200')?.[2]).toBe('1');

  // Legend: hiding a run takes it out of the charts (and their CSV).
  await page.getByTestId(`legend-run-${other}`).click();
  await expect(page.getByTestId(`legend-run-${other}`)).toHaveAttribute('aria-pressed', 'false');
  csv = csvRows((await download(page, 'chart-loss-csv')).toString());
  expect(csv[0]).toEqual(['step', 'long-run']);

  // --- Drag zoom: the range comes back at full detail (every step) from metrics.window. ---
  const body = chart.locator('.chart-card__body');
  const box = (await body.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.5);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.33, box.y + box.height * 0.5, { steps: 5 });
  await page.mouse.up();
  await expect(body).toHaveAttribute('data-zoomed', /^\d+(\.\d+)?\.\.\d+(\.\d+)?$/);
  await expect(page.getByTestId('chart-loss-reset-zoom')).toBeVisible();
  await expect
    .poll(
      async () => {
        const rows = csvRows((await download(page, 'chart-loss-csv')).toString())
          .slice(1)
          .map((r) => Number(r[0]));
        return rows.length > 100 && rows.every((s, i) => i === 0 || s === rows[i - 1]! + 1);
      },
      { timeout: 20_000 },
    )
    .toBe(true);
  await shot(page, 'i15-monitor-zoomed-1280');
  // Keyboard: 0 resets the zoom of the focused chart.
  await body.focus();
  await page.keyboard.press('0');
  await expect(body).not.toHaveAttribute('data-zoomed', /./);

  // --- Time axes: relative and wall time, from the recorded clock (no "drawn by step" note). ---
  await page.getByTestId('x-axis').selectOption('relative');
  await expect(page.getByTestId('x-axis-note')).toHaveCount(0);
  await page.getByTestId('x-axis').selectOption('wall');
  await expect(page.getByTestId('x-axis-note')).toHaveCount(0);
  await shot(page, 'i15-monitor-walltime-1280');
  await page.getByTestId('x-axis').selectOption('step');

  // --- PNG download, and the dark theme (remembered; the chart's PNG gets the dark panel colour). ---
  let png = PNG.sync.read(await download(page, 'chart-loss-png'));
  expect(png.width).toBeGreaterThan(200);
  expect([...png.data.subarray(0, 3)]).toEqual([255, 255, 255]);
  await page.getByTestId('theme-select').selectOption('dark');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await page.reload();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await expect(page.getByTestId('theme-select')).toHaveValue('dark');
  await expect(chart.locator('canvas').first()).toBeVisible();
  png = PNG.sync.read(await download(page, 'chart-loss-png'));
  expect([...png.data.subarray(0, 3)]).toEqual([0x17, 0x1a, 0x21]);

  // --- The gallery's hint for a young run (200 steps), none for the long one. ---
  await page.evaluate((hash) => (location.hash = hash), `#/gallery/${grid.get('0/0')}`);
  await expect(page.getByTestId('gallery-noise-hint')).toContainText('about 5,000 at batch 128');
  await page.evaluate((hash) => (location.hash = hash), `#/gallery/${long}`);
  await expect(page.getByTestId('gallery-run-select')).toBeVisible();
  await expect(page.getByTestId('gallery-noise-hint')).toHaveCount(0);

  // --- Every view at both sizes in both themes, with no sideways overflow. ---
  const views = [
    'datasets',
    'new',
    'runs',
    `monitor/${long}`,
    `gallery/${long}`,
    'compare',
    `export/${long}`,
    'study',
    'settings',
  ];
  for (const theme of ['light', 'dark']) {
    await page.getByTestId('theme-select').selectOption(theme);
    for (const [w, h] of [
      [1280, 800],
      [800, 600],
    ] as const) {
      await page.setViewportSize({ width: w, height: h });
      for (const v of views) {
        await page.evaluate((hash) => (location.hash = hash), `#/${v}`);
        await expect(page.locator('.view').first()).toBeVisible();
        await page.waitForTimeout(300);
        await expectNoSidewaysOverflow(page, `${v} at ${w}×${h}, ${theme}`);
        await shot(page, `i15-${v.split('/')[0]}-${w}x${h}-${theme}`);
      }
    }
  }
});

test('10,000 runs: the shell loads a page, the table renders only the rows in view, sort and scroll figures', async ({
  page,
}) => {
  test.setTimeout(6 * 60_000);
  const home = mkdtempSync(join(tmpdir(), 'sadpm-e2e-i15-10k-'));
  seed(home, 10_000 - 7);
  served = await serve(home);
  // What the app asks of the store over its WebSocket.
  const asked: { channel: string; req: { limit?: number } }[] = [];
  page.on('websocket', (ws) =>
    ws.on('framesent', (f) => {
      if (typeof f.payload === 'string') asked.push(JSON.parse(f.payload) as (typeof asked)[number]);
    }),
  );
  await page.goto(served.url);
  await page.getByTestId('nav-runs').click();

  // --- The shell starts with the counts and the newest runs, never the whole store. ---
  await page.getByTestId('runs-mode-list').click();
  await expect(page.getByTestId('runs-count')).toHaveText('(10,000 of 10,000)');
  // Counts from the store (the shell holds 200 runs): 9,993 queued bulk runs, 7 completed.
  await expect(page.getByTestId('filter-status-queued')).toHaveText(/queued\s+9993/);
  await expect(page.getByTestId('filter-status-completed')).toHaveText(/completed\s+7/);
  expect(asked.some((a) => a.channel === 'runs.overview')).toBe(true);
  const limits = asked.filter((a) => a.channel === 'runs.list').map((a) => a.req.limit ?? 1000);
  expect(Math.max(...limits)).toBeLessThanOrEqual(200);
  // The list pages through the store as it scrolls: an old run shows after scrolling down.
  const list = page.getByTestId('runs-list');
  await expect(list.locator('[data-testid^="run-row-"]').first()).toBeVisible();
  expect(await list.locator('[data-testid^="run-row-"]').count()).toBeLessThan(60);
  const oldestShown = async () => {
    await list.evaluate((el) => (el.scrollTop = el.scrollHeight));
    const ids = await list
      .locator('[data-testid^="run-row-"]')
      .evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('data-testid')!.slice(8))));
    return Math.min(...ids);
  };
  await expect.poll(oldestShown, { timeout: 30_000 }).toBeLessThan(9_700);
  expect(await list.locator('[data-testid^="run-row-"]').count()).toBeLessThan(60);
  // A run picker finds an old run by searching the store.
  await page.evaluate(() => (location.hash = '#/monitor'));
  // bulk-17, bulk-170…179, bulk-1700…1799: 111 match, the newest 50 are listed; #18 is the run itself.
  await page.getByTestId('monitor-run-select-search').fill('bulk-17');
  await expect(page.getByTestId('run-select-more')).toHaveText('… 61 more match: type more to narrow');
  await page.getByTestId('monitor-run-select-search').fill('#18');
  await expect(page.getByTestId('monitor-run-select').locator('option', { hasText: 'bulk-17 ·' })).toHaveCount(1);
  await page.getByTestId('monitor-run-select').selectOption({ label: '#18 bulk-17 · queued · step 0' });
  await expect(page).toHaveURL(/#\/monitor\/18$/);

  // --- The table: 10,000 runs, a screenful of rows in the DOM; the keyboard reaches the last run. ---
  await page.getByTestId('nav-runs').click();
  await page.getByTestId('runs-mode-table').click();
  await expect(page.getByTestId('xtable-range')).toHaveText('1–100 of 10,000');
  const rows = page.locator('[data-testid^="xtable-row-"]');
  expect(await rows.count()).toBeLessThan(80);
  await rows.first().focus();
  await page.keyboard.press('End');
  await expect(page.getByTestId('xtable-row-1')).toBeFocused();
  await expect(page.getByTestId('xtable-range')).toHaveText('9,901–10,000 of 10,000');
  expect(await rows.count()).toBeLessThan(80);
  await page.keyboard.press('Home');
  await expect(page.getByTestId('xtable-row-10000')).toBeFocused();
  await measureTable(page);

  // --- The table at both window sizes in both themes, with no sideways overflow. ---
  await page.getByTestId('xtable-body').evaluate((el) => (el.scrollTop = 0));
  for (const theme of ['light', 'dark']) {
    await page.getByTestId('theme-select').selectOption(theme);
    for (const [w, h] of [
      [1280, 800],
      [800, 600],
    ] as const) {
      await page.setViewportSize({ width: w, height: h });
      await page.waitForTimeout(300);
      await expectNoSidewaysOverflow(page, `table of 10,000 runs at ${w}×${h}, ${theme}`);
      await shot(page, `i15-table-10k-${w}x${h}-${theme}`);
    }
  }
});

/** A 20×20 PNG: a disc or a square of a colour on grey. */
function shapePng(i: number): Buffer {
  const png = new PNG({ width: 20, height: 20 });
  for (let y = 0; y < 20; y++) {
    for (let x = 0; x < 20; x++) {
      const inside = i % 2 === 0 ? (x - 10) ** 2 + (y - 10) ** 2 < 36 : Math.abs(x - 10) < 6 && Math.abs(y - 10) < 6;
      const o = 4 * (y * 20 + x);
      png.data.set(inside ? [(i * 53) % 256, (i * 97) % 256, (i * 151) % 256, 255] : [230, 230, 230, 255], o);
    }
  }
  return PNG.sync.write(png);
}

test('a folder (directory picker) and a .zip uploaded from the browser are imported', async ({ page }) => {
  test.setTimeout(4 * 60_000);
  const home = mkdtempSync(join(tmpdir(), 'sadpm-e2e-i15-up-'));
  const src = mkdtempSync(join(tmpdir(), 'sadpm-e2e-i15-src-'));
  // A folder with class subfolders: 5 discs in disc/, 5 squares in square/.
  for (let i = 0; i < 10; i++) {
    const cls = i % 2 === 0 ? 'disc' : 'square';
    mkdirSync(join(src, 'pets', cls), { recursive: true });
    writeFileSync(join(src, 'pets', cls, `${i}.png`), shapePng(i));
  }
  const zip: Record<string, Uint8Array> = {};
  for (let i = 10; i < 17; i++) zip[`shapes/${i % 2 === 0 ? 'disc' : 'square'}/${i}.png`] = shapePng(i);
  writeFileSync(join(src, 'shapes.zip'), zipSync(zip));
  served = await serve(home);
  await page.goto(served.url);
  await page.getByTestId('nav-datasets').click();

  await page.getByTestId('import-upload-folder').setInputFiles(join(src, 'pets'));
  await expect(page.getByTestId('import-input')).toHaveValue(/uploads[/\\][^/\\]*pets$/);
  await expect(page.getByTestId('import-name')).toHaveValue('pets');
  await page.getByTestId('import-button').click();
  await expect(page.getByTestId('import-report-good')).toHaveText('10');
  await shot(page, 'i15-datasets-folder-upload-1280');

  await page.getByTestId('import-name').fill('');
  await page.getByTestId('import-upload').setInputFiles(join(src, 'shapes.zip'));
  await expect(page.getByTestId('import-input')).toHaveValue(/\.zip$/);
  await page.getByTestId('import-button').click();
  await expect(page.getByTestId('import-report-good')).toHaveText('7');
  await expect(page.getByTestId('datasets-table').locator('[data-testid^="dataset-row-"]')).toHaveCount(2);
});
