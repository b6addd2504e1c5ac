/**
 * SA-DPM Studio as a new user meets it, in Debian's Chromium against web mode: import a small image
 * folder → create an SA-2 run from the quick CPU preset → watch charts and the gap monitor update
 * live → gallery → compare two checkpoints on the same seeds → export a grid (PNG size checked) →
 * stop, restart the server, resume. A screenshot of each view is attached to the report and saved
 * under test-report/screenshots/.
 */
import { test, expect, type Page } from '@playwright/test';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PNG } from 'pngjs';
import { serve, type Served } from './server';
import { captionBand } from '../../src/engine/render/grids';

const SHOTS = 'test-report/screenshots';

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await test.info().attach(name, { path, contentType: 'image/png' });
}

/**
 * An image the page shows has loaded, from the server's signed /files route: the address names that one
 * file and never carries the session token.
 */
async function expectServedImage(page: Page, testid: string): Promise<void> {
  const img = page.getByTestId(testid).first();
  const width = () => img.evaluate((el) => (el as HTMLImageElement).naturalWidth);
  await expect.poll(width, { timeout: 30_000 }).toBeGreaterThan(0);
  const src = (await img.getAttribute('src'))!;
  expect(src).toMatch(/^\/files\?path=[^&]+&sig=[0-9a-f]{64}$/);
  const token = await page.evaluate(() => sessionStorage.getItem('sadpm.token'));
  expect(token && src.includes(token)).toBe(false);
}

/** 48 PNGs of coloured discs and squares, 20x20 (imported at 16x16). */
function makeImageFolder(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 48; i++) {
    const png = new PNG({ width: 20, height: 20 });
    const [r, g, b] = [(i * 53) % 256, (i * 97) % 256, (i * 151) % 256];
    for (let y = 0; y < 20; y++) {
      for (let x = 0; x < 20; x++) {
        const inside = i % 2 === 0 ? (x - 10) ** 2 + (y - 10) ** 2 < 36 : Math.abs(x - 10) < 6 && Math.abs(y - 10) < 6;
        const o = 4 * (y * 20 + x);
        png.data[o] = inside ? r : 240;
        png.data[o + 1] = inside ? g : 240;
        png.data[o + 2] = inside ? b : 240;
        png.data[o + 3] = 255;
      }
    }
    writeFileSync(join(dir, `img-${String(i).padStart(2, '0')}.png`), PNG.sync.write(png));
  }
  writeFileSync(join(dir, 'broken.png'), 'not a png');
}

/** Picks the first option whose text matches. */
async function selectByText(page: Page, testid: string, re: RegExp): Promise<void> {
  const sel = page.getByTestId(testid);
  await expect
    .poll(async () => (await sel.locator('option').allTextContents()).some((t) => re.test(t)), { timeout: 30_000 })
    .toBe(true);
  const texts = await sel.locator('option').allTextContents();
  const values = await sel.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  await sel.selectOption(values[texts.findIndex((t) => re.test(t))]!);
}

/** Hovers a chart (at fraction x of its width) and returns its tooltip as one line ("step 40 · loss 0.09866"). */
async function hoverTooltip(page: Page, testid: string, x = 0.5): Promise<string> {
  const canvas = page.getByTestId(testid).locator('canvas').first();
  await canvas.scrollIntoViewIfNeeded();
  const box = (await canvas.boundingBox())!;
  await page.mouse.move(box.x + box.width * (x - 0.05), box.y + box.height * 0.5);
  await page.mouse.move(box.x + box.width * x, box.y + box.height * 0.5, { steps: 4 });
  const tip = page.getByTestId(testid).locator('.chart-tip');
  await expect(tip).toBeVisible();
  return (await tip.locator('.chart-tip__body').getAttribute('aria-label')) ?? '';
}

/**
 * Nothing wider than the window: no page or main-area scrolling sideways, no table or runs-list row
 * wider than its box (clipped columns), no control past the right edge.
 */
async function expectNoHorizontalOverflow(page: Page, where: string): Promise<void> {
  const r = await page.evaluate(() => {
    const vw = document.documentElement.clientWidth;
    const main = document.querySelector('.main')!;
    const name = (e: Element) => e.getAttribute('data-testid') ?? e.className ?? e.tagName;
    return {
      page: document.documentElement.scrollWidth - vw,
      main: main.scrollWidth - main.clientWidth,
      clipped: [...document.querySelectorAll('.run-row, .runs-table__head, table')]
        .filter((e) => e.scrollWidth > e.clientWidth + 1)
        .map(name),
      offscreen: [...document.querySelectorAll('button, a, input, select')]
        .filter((e) => {
          const b = e.getBoundingClientRect();
          return b.width > 0 && b.right > vw + 1;
        })
        .map(name),
    };
  });
  expect(r, where).toEqual({ page: 0, main: 0, clipped: [], offscreen: [] });
}

async function setField(page: Page, key: string, value: string): Promise<void> {
  const f = page.getByTestId(`field-${key}`);
  const tag = await f.evaluate((el) => el.tagName.toLowerCase());
  if (tag === 'select') await f.selectOption(value);
  else await f.fill(value);
}

test('import → SA-2 run → live monitor → gallery → compare → export → stop, restart, resume', async ({ page }) => {
  const home = mkdtempSync(join(tmpdir(), 'sadpm-e2e-'));
  const folder = join(home, 'my-images');
  makeImageFolder(folder);
  let server: Served = await serve(join(home, 'data'));
  // The strict CSP stays strict; anything it blocks (e.g. inline-styled tooltip markup) fails the test.
  const cspErrors: string[] = [];
  // A data: image the test itself shows, to prove the CSP (written across lines) is in force.
  const probe = 'data:image/gif;base64,R0lGODlhAQABAAAAACw=';
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text()) && !m.text().includes(probe)) cspErrors.push(m.text());
  });
  try {
    await page.goto(server.url);
    await expect(page.getByTestId('nav-runs')).toBeVisible();
    // The token never becomes a cookie (cookies reach every port on 127.0.0.1); the tab keeps it, so a
    // reload of the token-less address still connects.
    expect(await page.context().cookies()).toEqual([]);
    expect(page.url()).not.toContain('token=');
    await page.reload();
    await expect(page.getByTestId('nav-runs')).toBeVisible();
    await expect.poll(() => page.evaluate(() => sessionStorage.getItem('sadpm.token'))).toMatch(/^[0-9a-f]{48}$/);
    await expect(page.getByTestId('connection-banner')).toBeHidden({ timeout: 15_000 });
    // The page's CSP is in force: images only from itself (and, in Electron, sadpm-file:), no data: URLs.
    const refused = await page.evaluate(
      (src) =>
        new Promise<string>((resolve) => {
          const img = document.createElement('img');
          const done = (v: string) => {
            img.remove();
            resolve(v);
          };
          document.addEventListener('securitypolicyviolation', (e) => done(e.effectiveDirective), { once: true });
          setTimeout(() => done('not refused'), 5_000);
          img.src = src;
          document.body.append(img);
        }),
      probe,
    );
    expect(refused).toBe('img-src');

    // 0. Upload a file from the browser (web mode): 9 MB goes in 4 MiB chunks and lands byte for byte.
    await page.getByTestId('nav-datasets').click();
    const blob = Buffer.alloc(9_000_000);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 7 + (i >> 13)) & 255;
    await page
      .getByTestId('import-upload')
      .setInputFiles({ name: 'big.npy', mimeType: 'application/octet-stream', buffer: blob });
    await expect(page.getByTestId('import-input')).toHaveValue(/uploads\/.*big\.npy$/, { timeout: 60_000 });
    const uploaded = await page.getByTestId('import-input').inputValue();
    expect(uploaded.startsWith(join(home, 'data', 'uploads'))).toBe(true);
    expect(readFileSync(uploaded).equals(blob)).toBe(true);

    // 1. Import an image folder through path entry.
    await page.getByTestId('import-input').fill(folder);
    await page.getByTestId('import-size').fill('16');
    await page.getByTestId('import-name').fill('my-images');
    await page.getByTestId('import-button').click();
    await expect(page.getByTestId('import-report')).toBeVisible({ timeout: 60_000 });
    await expect(page.getByTestId('import-report-good')).toContainText('48');
    await expect(page.getByTestId('import-report-skipped')).toContainText('1');
    await expect(page.getByTestId('import-report')).toContainText('broken.png');
    await expect(page.getByTestId('dataset-shape').first()).toContainText('16');
    await expectServedImage(page, 'dataset-preview');
    await shot(page, '1-datasets');

    // 2. A new SA-2 run from the quick CPU preset, shortened so the test stays short.
    await page.getByTestId('nav-new').click();
    await page.getByTestId('preset-select').selectOption('quick-cpu');
    await expect(page.getByTestId('field-k')).toHaveValue('2');
    await page.getByTestId('field-dataset-select').selectOption('my-images');
    await setField(page, 'name', 'e2e-sa2');
    await setField(page, 'T', '100');
    await setField(page, 'gapT0', '20');
    await setField(page, 'steps', '12');
    await setField(page, 'checkpointEvery', '4');
    await setField(page, 'logEvery', '1');
    await setField(page, 'gapEvery', '4');
    await setField(page, 'sampleEvery', '0');
    await setField(page, 'sampleN', '4');
    await setField(page, 'sampleSteps', '5');
    // Inline validation: a bad value names the field, a good one clears it.
    await setField(page, 'k', '0');
    await expect(page.getByTestId('error-k')).toBeVisible();
    await setField(page, 'k', '2');
    await expect(page.getByTestId('error-k')).toHaveCount(0);
    await expect(page.getByTestId('estimate-params')).toContainText('177');
    await shot(page, '2-new-run');
    await page.getByTestId('start-run').click();

    // 3. The monitor updates live: step counter, loss chart, gap curve and heatmap.
    await expect(page.getByTestId('monitor-status')).toBeVisible({ timeout: 30_000 });
    await expect(page.getByTestId('monitor-step')).toContainText(/^\s*[1-9]\d* \/ 12/, { timeout: 120_000 });
    await expect(page.getByTestId('chart-loss').locator('canvas').first()).toBeVisible();
    await expect(page.getByTestId('gap-count')).toContainText(/^[1-9]\d* evaluation/, { timeout: 120_000 });
    await expect(page.getByTestId('chart-gap-curve').locator('canvas').first()).toBeVisible();
    await expect(page.getByTestId('chart-gap-heatmap').locator('canvas').first()).toBeVisible();
    await shot(page, '3-monitor-live');
    await expect(page.getByTestId('run-status')).toContainText('completed', { timeout: 180_000 });
    await shot(page, '3b-monitor-done');
    // Tooltips under the strict CSP: readable ("step 12 · e2e-sa2 1234"), and no CSP violation.
    const lossTip = await hoverTooltip(page, 'chart-loss');
    expect(lossTip).toMatch(/^step \d+ · e2e-sa2 \(raw\) [-\d.,e+]+ · e2e-sa2 [-\d.,e+]+$/);
    await shot(page, '3c-monitor-tooltip');
    expect(await hoverTooltip(page, 'chart-gap-curve')).toMatch(/^t \d+ · e2e-sa2 @ step \d+ [-\d.,e+]+/);
    expect(cspErrors).toEqual([]);

    // 3d. Evaluate the last checkpoint (issue 12): pixel space without Inception weights, labelled as such.
    await expect(page.getByTestId('eval-space')).toContainText('pixel space');
    await page.getByTestId('eval-n').fill('8');
    await page.getByTestId('eval-steps').fill('2');
    await page.getByTestId('eval-ref-n').fill('16');
    await page.getByTestId('eval-start').click();
    await expect(page.getByTestId('eval-row-2')).toBeVisible({ timeout: 120_000 });
    await expect(page.getByTestId('eval-table')).toContainText('FID [pixel]');
    await expect(page.getByTestId('chart-eval-curve').locator('canvas').first()).toBeVisible();
    await shot(page, '3d-evaluate');

    // 4. Gallery: sample the last checkpoint on demand, and a filmstrip.
    await page.getByTestId('monitor-gallery').click();
    await expect(page.getByTestId('gallery-checkpoint')).toBeVisible();
    await page.getByTestId('gallery-n').fill('4');
    await page.getByTestId('gallery-steps').fill('5');
    await page.getByTestId('gallery-seed').fill('7');
    await page.getByTestId('gallery-sample').click();
    await expect(page.getByTestId('gallery-image')).toBeVisible({ timeout: 120_000 });
    await page.getByTestId('filmstrip-frames').fill('4');
    await page.getByTestId('gallery-filmstrip').click();
    await expect(page.getByTestId('gallery-filmstrip-image')).toBeVisible({ timeout: 120_000 });
    await expectServedImage(page, 'gallery-image');
    await expectServedImage(page, 'gallery-filmstrip-image');
    await shot(page, '4-gallery');

    // 5. Compare checkpoints 4 and 12 of the run on the same seeds.
    await page.getByTestId('nav-compare').click();
    await selectByText(page, 'compare-run', /e2e-sa2/);
    await selectByText(page, 'compare-checkpoint', /\b4\b/);
    await page.getByTestId('compare-add').click();
    await selectByText(page, 'compare-checkpoint', /\b12\b/);
    await page.getByTestId('compare-add').click();
    // Steps and Images as set here are what every pane is sampled with (4 images: a 2×2 grid).
    await page.getByTestId('compare-steps').fill('5');
    await page.getByTestId('compare-n').fill('4');
    await page.getByTestId('compare-sample').click();
    await expect(page.getByTestId('compare-image-0')).toBeVisible({ timeout: 120_000 });
    await expect(page.getByTestId('compare-image-1')).toBeVisible({ timeout: 120_000 });
    const stale = page.getByText('Settings changed since these panes were sampled');
    await expect(stale).toHaveCount(0);
    await expect(page.getByTestId('compare-pane-0')).toContainText('DDIM 5 steps');
    await expect(page.getByTestId('compare-pane-0')).toContainText('n 4');
    // 16×16 images at 4×, 2 per row, 2 px padding.
    const gridWidth = (i: number) =>
      page.getByTestId(`compare-image-${i}`).evaluate((img) => (img as HTMLImageElement).naturalWidth);
    expect([await gridWidth(0), await gridWidth(1)]).toEqual([2 * 64 + 3 * 2, 2 * 64 + 3 * 2]);
    await shot(page, '5-compare');
    // A change warns; sampling again applies it and the warning goes.
    await page.getByTestId('compare-steps').fill('6');
    await expect(stale).toHaveCount(1);
    await page.getByTestId('compare-sample').click();
    await expect(page.getByTestId('compare-pane-1')).toContainText('DDIM 6 steps', { timeout: 120_000 });
    await expect(page.getByTestId('compare-pane-0')).toContainText('DDIM 6 steps', { timeout: 120_000 });
    await expect(stale).toHaveCount(0);

    // 6. Export a 2x3 grid with 3 px padding; the PNG's size follows from the layout.
    await page.getByTestId('nav-export').click();
    await selectByText(page, 'export-run-select', /e2e-sa2/);
    await page.getByTestId('export-rows').fill('2');
    await page.getByTestId('export-cols').fill('3');
    await page.getByTestId('export-padding').fill('3');
    await page.getByTestId('export-labels').setChecked(true);
    await page.getByTestId('export-grid').click();
    await expect(page.getByTestId('export-grid-path')).toContainText('.png', { timeout: 120_000 });
    const gridPath = (await page.getByTestId('export-grid-path').textContent())!.trim();
    const png = PNG.sync.read(readFileSync(gridPath));
    // 16x16 images drawn at 4x: cells of 64 px, 3 columns x 2 rows, 3 px around each cell, plus the
    // caption band (its text wraps to the grid's width).
    const sidecarCaption = JSON.parse(readFileSync(gridPath.replace(/\.png$/, '.json'), 'utf8')).grid.caption as string;
    const band = captionBand(sidecarCaption, 3 * 64 + 4 * 3, 3);
    expect(band.lines.length).toBeGreaterThanOrEqual(2);
    expect([png.width, png.height]).toEqual([3 * 64 + 4 * 3, 2 * 64 + 3 * 3 + band.height]);
    // The caption band has ink in it (dark pixels on the white background).
    let ink = 0;
    for (let y = 3; y < 10; y++)
      for (let x = 0; x < png.width; x++) if (png.data[4 * (y * png.width + x)]! < 100) ink++;
    expect(ink).toBeGreaterThan(50);
    const sidecar = JSON.parse(readFileSync(gridPath.replace(/\.png$/, '.json'), 'utf8'));
    expect(sidecar).toMatchObject({ n: 6, grid: { cols: 3, padding: 3 } });
    expect(sidecar.reproduce).toMatch(/^sadpm sample /);
    await expectServedImage(page, 'export-grid-image');
    // Web mode downloads the file the server wrote, byte for byte, under its own name.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByTestId('export-grid-download').click(),
    ]);
    expect(download.suggestedFilename()).toBe(basename(gridPath));
    expect(readFileSync(await download.path()).equals(readFileSync(gridPath))).toBe(true);
    await shot(page, '6-export');

    // 7. A longer run: stop it, restart the server, resume it.
    await page.getByTestId('nav-new').click();
    await page.getByTestId('preset-select').selectOption('quick-cpu');
    await page.getByTestId('field-dataset-select').selectOption('my-images');
    await setField(page, 'name', 'e2e-long');
    await setField(page, 'T', '100');
    await setField(page, 'gapT0', '20');
    await setField(page, 'steps', '400');
    await setField(page, 'checkpointEvery', '100');
    await setField(page, 'logEvery', '1');
    await setField(page, 'gapEvery', '0');
    // Samples every 3 steps (50 DDIM steps): the stop below lands while the run samples.
    await setField(page, 'sampleEvery', '3');
    await setField(page, 'sampleN', '4');
    await setField(page, 'sampleSteps', '50');
    await page.getByTestId('start-run').click();
    await expect(page.getByTestId('monitor-activity')).toContainText(/^sampling \d+\/\d+$/, { timeout: 120_000 });
    await shot(page, '7a-sampling');
    // Every text the stop button and the activity line show from here on: the stop can complete faster than an
    // assertion polls, so the feedback is recorded as it happens rather than looked for afterwards.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { __stopTexts: string[] }).__stopTexts = seen;
      const note = () => {
        for (const id of ['monitor-stop', 'monitor-activity']) {
          const t = document.querySelector(`[data-testid="${id}"]`)?.textContent?.trim();
          if (t) seen.push(`${id}: ${t}`);
        }
      };
      new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const clicked = Date.now();
    await page.getByTestId('monitor-stop').click();
    // Feedback at once, and the stop takes effect within a few denoising steps (was: after the whole grid).
    await expect(page.getByTestId('run-status')).toContainText('stopped', { timeout: 60_000 });
    const texts = await page.evaluate(() => (window as unknown as { __stopTexts: string[] }).__stopTexts);
    expect(texts).toContain('monitor-stop: Stopping…');
    expect(texts.some((t) => t.startsWith('monitor-activity: Stopping'))).toBe(true);
    const stopMs = Date.now() - clicked;
    console.log(`stop during sampling: the run was stopped ${stopMs} ms after the click`);
    expect(stopMs).toBeLessThan(20_000);
    await expect(page.getByTestId('monitor-activity')).toHaveText('—');
    const stoppedAt = Number((await page.getByTestId('monitor-step').textContent())!.split('/')[0]!.replace(/\D/g, ''));
    await shot(page, '7-stopped');

    expect(await server.stop()).toBe(0);
    server = await serve(join(home, 'data'));
    await page.goto(server.url);
    await page.getByTestId('nav-runs').click();
    const row = page.locator('[data-testid^="run-row-"]', { hasText: 'e2e-long' });
    await expect(row).toContainText('stopped');
    await row.click();
    await expect(page.getByTestId('monitor-status')).toBeVisible();
    await page.getByTestId('monitor-resume').click();
    await expect(page.getByTestId('run-status')).toContainText('running', { timeout: 60_000 });
    await expect
      .poll(
        async () => Number((await page.getByTestId('monitor-step').textContent())!.split('/')[0]!.replace(/\D/g, '')),
        { timeout: 120_000 },
      )
      .toBeGreaterThan(stoppedAt);
    await shot(page, '8-resumed');
    await page.getByTestId('monitor-stop').click();
    await expect(page.getByTestId('run-status')).toContainText('stopped', { timeout: 60_000 });
    await page.getByTestId('nav-runs').click();
    await shot(page, '9-runs');

    // 8. Dialogs from the keyboard: focus moves in, Tab stays in, Escape closes and focus returns.
    const longId = Number((await row.getAttribute('data-testid'))!.replace('run-row-', ''));
    await page.getByTestId(`run-${longId}-edit`).click();
    await expect(page.getByTestId('edit-tags')).toBeFocused();
    for (let i = 0; i < 5; i++) await page.keyboard.press('Tab');
    expect(await page.evaluate(() => !!document.activeElement?.closest('[data-testid="edit-dialog"]'))).toBe(true);
    await page.keyboard.press('Shift+Tab');
    expect(await page.evaluate(() => !!document.activeElement?.closest('[data-testid="edit-dialog"]'))).toBe(true);
    await page.keyboard.press('Escape');
    await expect(page.getByTestId('edit-dialog')).toHaveCount(0);
    await expect(page.getByTestId(`run-${longId}-edit`)).toBeFocused();

    // 9. Overlaid runs get a legend (name, colour), and a click hides a run from the charts.
    const saId = Number(
      (await page.locator('[data-testid^="run-row-"]', { hasText: 'e2e-sa2' }).getAttribute('data-testid'))!.replace(
        'run-row-',
        '',
      ),
    );
    await row.click();
    await page.getByTestId('overlay-toggle').click();
    await page.getByTestId(`overlay-run-${saId}`).check();
    await page.getByTestId('overlay-done').click();
    const legend = page.getByTestId('chart-legend');
    await expect(legend).toContainText(`#${longId} e2e-long`);
    await expect(legend).toContainText(`#${saId} e2e-sa2`);
    await page.getByTestId(`legend-run-${saId}`).click();
    await expect(page.getByTestId(`legend-run-${saId}`)).toHaveAttribute('aria-pressed', 'false');
    await page.getByTestId(`legend-run-${saId}`).click();
    await expect(page.getByTestId(`legend-run-${saId}`)).toHaveAttribute('aria-pressed', 'true');
    // Near the start, where both runs have logged steps.
    expect(await hoverTooltip(page, 'chart-loss', 0.2)).toMatch(/^step \d+ · e2e-long .* · e2e-sa2 [-\d.,e+]+$/);
    await shot(page, '10-monitor-overlay');

    // 10. No sideways overflow at 1280×800 and 800×600 (the runs table and the dataset library).
    for (const [width, height] of [
      [1280, 800],
      [800, 600],
    ] as const) {
      await page.setViewportSize({ width, height });
      for (const view of ['runs', 'datasets', 'monitor'] as const) {
        await page.getByTestId(`nav-${view}`).click();
        await expect(
          page.getByTestId(view === 'runs' ? 'runs-list' : view === 'datasets' ? 'datasets-table' : 'monitor-status'),
        ).toBeVisible();
        await expectNoHorizontalOverflow(page, `${view} at ${width}×${height}`);
        await shot(page, `11-${view}-${width}x${height}`);
      }
    }
    expect(cspErrors).toEqual([]);
  } finally {
    await server.stop();
  }
});
