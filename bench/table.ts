/**
 * Experiment-table benchmark (issue 15): a store of N runs (default 10,000) served in web mode, the Runs view's
 * table driven in Debian Chromium. Prints, per renderer build measured:
 *   start   ms from navigation to the table's first row, and the bytes the app received over its WebSocket meanwhile
 *           (the shell's start-up loading shows here);
 *   sort    ms from a header click to the new first row painted (5 clicks, alternating asc/desc);
 *   scroll  requestAnimationFrame intervals while the table's box scrolls 160 px a frame (16.7 ms = 60 fps), within
 *           the first 7,000 px and, where the table reaches that far, on through the later runs;
 *   rows    the table rows in the DOM.
 * Figures, not pass/fail; also written to tmp/bench-table.json.
 *
 *   npm run bench:chart                                 (runs this after the chart benchmark; TABLE=0 skips it)
 *   node --import tsx bench/table.ts                    (the build in out/renderer)
 *   RENDERERS=before=/tmp/old/renderer,after=out/renderer RUNS=10000 node --import tsx bench/table.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type CDPSession, type Page } from 'playwright';
import { RunStore } from '../src/store/runStore';
import { resolveRunConfig } from '../src/shared/config';

const RUNS = Number(process.env.RUNS ?? 10_000);
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const renderers = (process.env.RENDERERS ?? 'current=out/renderer').split(',').map((s) => {
  const [name, dir] = s.includes('=') ? s.split('=') : ['current', s];
  return { name: name!, dir: resolve(dir!) };
});

/** N runs with λ, seed and a last loss spread over them (a sort by loss reorders them all). */
function seed(home: string, n: number): void {
  const store = RunStore.open(home);
  store.writeTransaction(() => {
    for (let i = 0; i < n; i++) {
      const lambda = (i % 5) / 4;
      const run = store.runs.create({
        name: `bench-${i}`,
        appVersion: 'bench',
        tags: i % 10 === 0 ? ['tenth'] : ['bulk'],
        config: resolveRunConfig({ preset: 'tiny', k: 2, lambda, T: 1000, seed: i, steps: 50 }),
      });
      store.runs.setProgress(run.id, 50, 1 + lambda + ((i * 7919) % 1000) / 1000);
    }
  });
  store.close();
}

function serve(home: string, dir: string): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, ['bin/sadpm.mjs', 'serve', '--port', '0', '--renderer', dir], {
    env: { ...process.env, SADPM_HOME: home, EGL_PLATFORM: 'surfaceless' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((ok, fail) => {
    proc.once('exit', (code) => fail(new Error(`sadpm serve exited with ${code}: ${out}`)));
    proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /open: (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/.exec(out);
      if (m) {
        proc.removeAllListeners('exit');
        ok({ url: m[1]!, proc });
      }
    });
  });
}

const pct = (sorted: number[], p: number) => +sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: +pct(s, 0.5).toFixed(1), p95: +pct(s, 0.95).toFixed(1), max: +s[s.length - 1]!.toFixed(1) };
};

/**
 * Navigation to the first row of the table, then on until the app's WebSocket has been quiet for 3 s (what
 * the shell loads at start has arrived): ms and bytes received, to each.
 */
async function start(page: Page, url: string) {
  let wsBytes = 0;
  let lastFrame = Date.now();
  page.on('websocket', (ws) =>
    ws.on('framereceived', (f) => {
      wsBytes += typeof f.payload === 'string' ? f.payload.length : f.payload.byteLength;
      lastFrame = Date.now();
    }),
  );
  const t0 = Date.now();
  await page.goto(`${url}#/runs`);
  await page.locator('[data-testid^="xtable-row-"]').first().waitFor({ timeout: 120_000 });
  const firstRow = { ms: Date.now() - t0, wsBytes };
  while (Date.now() - lastFrame < 3000 && Date.now() - t0 < 120_000) await page.waitForTimeout(100);
  return { firstRow, settled: { ms: lastFrame - t0, wsBytes } };
}

/** A header click until the first row shows another run, then one frame (painted). */
async function sortOnce(page: Page): Promise<number> {
  return page.evaluate(async () => {
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
    return performance.now() - t0;
  });
}

/** rAF intervals while the table box scrolls `px` per frame from `from`, wrapping after `span` px. */
function scrollFrames(page: Page, frames: number, span: number): Promise<{ times: number[]; reached: number }> {
  return page.evaluate(
    async ({ frames, span }) => {
      const el = document.querySelector('.xtable__main') as HTMLElement;
      el.scrollTop = 0;
      await new Promise(requestAnimationFrame);
      const times: number[] = [];
      let reached = 0;
      let last = performance.now();
      for (let i = 1; i <= frames; i++) {
        el.scrollTop = (i * 160) % span;
        reached = Math.max(reached, el.scrollTop);
        await new Promise(requestAnimationFrame);
        const now = performance.now();
        times.push(now - last);
        last = now;
      }
      return { times, reached };
    },
    { frames, span },
  );
}

/** Chromium's running totals (CDP Performance.getMetrics) of script, style and layout time, in ms. */
async function cpuTotals(page: Page): Promise<Record<'script' | 'style' | 'layout', number>> {
  let cdp = sessions.get(page);
  if (!cdp) {
    cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    sessions.set(page, cdp);
  }
  const { metrics } = await cdp.send('Performance.getMetrics');
  const m = new Map(metrics.map((x) => [x.name, x.value]));
  return {
    script: (m.get('ScriptDuration') ?? 0) * 1000,
    style: (m.get('RecalcStyleDuration') ?? 0) * 1000,
    layout: (m.get('LayoutDuration') ?? 0) * 1000,
  };
}
const sessions = new WeakMap<Page, CDPSession>();

/** Script, style and layout ms per frame while `run` scrolls `frames` frames. */
async function perFrame<T>(page: Page, frames: number, run: () => Promise<T>) {
  const a = await cpuTotals(page);
  const out = await run();
  const b = await cpuTotals(page);
  const f = (k: keyof typeof a) => +((b[k] - a[k]) / frames).toFixed(2);
  return { out, cpu: { script: f('script'), style: f('style'), layout: f('layout') } };
}

async function measure(name: string, dir: string, home: string) {
  const { url, proc } = await serve(home, dir);
  const browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
    page.on('pageerror', (e) => console.error(`${name}: page error:`, e.message));
    // tsx compiles this file with esbuild's keepNames: functions passed to evaluate call its __name helper.
    await page.addInitScript('globalThis.__name = (f) => f');
    await page.addInitScript(() => localStorage.setItem('sadpm.runs.mode', 'table'));
    const st = await start(page, url);
    const sorts: number[] = [];
    for (let i = 0; i < 5; i++) sorts.push(await sortOnce(page));
    await page.getByTestId('xtable-page-size').selectOption('250');
    await page.waitForFunction(() =>
      /^1–250 of/.test(document.querySelector('[data-testid="xtable-range"]')!.textContent!),
    );
    await page.waitForTimeout(500);
    const { out: near, cpu: nearCpu } = await perFrame(page, 180, () => scrollFrames(page, 180, 7_040));
    const rows = await page.evaluate(() => document.querySelectorAll('[data-testid^="xtable-row-"]').length);
    const { out: far, cpu: farCpu } = await perFrame(page, 180, () => scrollFrames(page, 180, 1e9));
    const lastRow = await page.evaluate(() =>
      [...document.querySelectorAll('[data-testid^="xtable-row-"]')].pop()?.getAttribute('data-testid'),
    );
    return {
      name,
      start: st,
      sortToFirstRowMs: sorts.map((s) => Math.round(s)),
      sortMedianMs: Math.round([...sorts].sort((a, b) => a - b)[2]!),
      scrollNear: { ...stats(near.times), cpuPerFrameMs: nearCpu },
      scrollFar: { ...stats(far.times), reachedPx: far.reached, cpuPerFrameMs: farCpu },
      domRows: rows,
      lastRowAfterFarScroll: lastRow,
    };
  } finally {
    await browser.close();
    proc.kill('SIGINT');
  }
}

for (const r of renderers) {
  if (!existsSync(join(r.dir, 'index.html'))) {
    console.error(`bench/table: no renderer build in ${r.dir} (build one first: npx electron-vite build)`);
    process.exit(2);
  }
}
const home = mkdtempSync(join(tmpdir(), 'sadpm-bench-table-'));
try {
  const t0 = Date.now();
  seed(home, RUNS);
  console.log(`experiment-table benchmark · ${RUNS.toLocaleString('en-US')} runs seeded in ${Date.now() - t0} ms`);
  console.log(
    'Chromium headless, --disable-gpu (software raster), 1280×800; frame = rAF interval (16.7 ms = 60 fps)\n',
  );
  const results = [];
  for (const r of renderers) {
    const m = await measure(r.name, r.dir, home);
    results.push(m);
    console.log(`${m.name} (${r.dir})`);
    const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
    const { firstRow, settled } = m.start;
    console.log(`  start   first row at ${firstRow.ms} ms (${mb(firstRow.wsBytes)} received over the WebSocket)`);
    console.log(`          last start-up message at ${settled.ms} ms (${mb(settled.wsBytes)} in all)`);
    console.log(`  sort    ${m.sortToFirstRowMs.join(', ')} ms (median ${m.sortMedianMs})`);
    console.log(
      `  scroll  first 7,000 px: p50 ${m.scrollNear.p50} ms  p95 ${m.scrollNear.p95}  max ${m.scrollNear.max}`,
    );
    console.log(
      `  scroll  on (reached ${m.scrollFar.reachedPx} px, last row ${m.lastRowAfterFarScroll}): ` +
        `p50 ${m.scrollFar.p50} ms  p95 ${m.scrollFar.p95}  max ${m.scrollFar.max}`,
    );
    type Cpu = typeof m.scrollNear.cpuPerFrameMs;
    const cpu = (c: Cpu) => `script ${c.script} · style ${c.style} · layout ${c.layout}`;
    console.log(`          per frame, first 7,000 px: ${cpu(m.scrollNear.cpuPerFrameMs)} ms`);
    console.log(`          per frame, on:             ${cpu(m.scrollFar.cpuPerFrameMs)} ms`);
    console.log(`  rows    ${m.domRows} in the DOM\n`);
  }
  mkdirSync('tmp', { recursive: true });
  writeFileSync('tmp/bench-table.json', JSON.stringify({ runs: RUNS, results }, null, 2));
} finally {
  rmSync(home, { recursive: true, force: true });
}
process.exit(0);
