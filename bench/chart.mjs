#!/usr/bin/env node
/* global window */
/**
 * Chart frame-time benchmark: builds bench/chart (Vite) and drives it in Debian Chromium with
 * Playwright. 20 runs × 100,000 points overlaid on one chart; each update appends points and calls
 * setOption (which renders synchronously). Target: ≤ 16 ms per update. Prints figures, not pass/fail.
 *
 *   npm run bench:chart            (CHROMIUM=/path/to/chromium to use another binary)
 * Then the experiment table's figures (bench/table.ts: 10,000 runs in web mode; TABLE=0 skips them).
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { chromium } from 'playwright';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const outDir = join(root, 'tmp', 'bench-chart');
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';

await build({
  root: join(root, 'bench', 'chart'),
  base: './',
  logLevel: 'error',
  build: { outDir, emptyOutDir: true, minify: true, chunkSizeWarningLimit: 4096 },
});

const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
const server = createServer(async (req, res) => {
  try {
    const p = join(outDir, decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/$/, '/index.html'));
    if (!p.startsWith(outDir)) throw new Error('outside');
    const body = await readFile(p);
    res.writeHead(200, { 'content-type': MIME[extname(p)] ?? 'application/octet-stream' });
    res.end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage({ viewport: { width: 1000, height: 400 }, deviceScaleFactor: 1 });
page.on('pageerror', (e) => console.error('page error:', e.message));
await page.goto(url);
await page.waitForFunction(() => window.benchReady === true);

const base = { runs: 20, points: 100_000, appendPerFrame: 10, frames: 180 };
const scenarios = process.env.SCEN
  ? JSON.parse(process.env.SCEN).map((x) => ({ ...base, ...x }))
  : [
      {
        name: 'overlay: 1 live run + 19 static, smoothing 0.6 (the monitor with 19 overlaid runs)',
        ...base,
        liveRuns: 1,
        smoothing: 0.6,
      },
      { name: 'overlay: 1 live run + 19 static, no smoothing', ...base, liveRuns: 1, smoothing: 0 },
      {
        name: 'worst case: all 20 runs receive points every frame, smoothing 0.6',
        ...base,
        liveRuns: 20,
        smoothing: 0.6,
      },
      { name: 'line preparation alone (no setOption): all 20 live', ...base, liveRuns: 20, smoothing: 0.6, dry: true },
    ];
const version = await browser.version();
console.log(
  `chart frame-time benchmark · Chromium ${version} (headless, --disable-gpu: software raster) · 900×320 px canvas chart`,
);
console.log(
  `${base.runs} runs × ${base.points.toLocaleString('en-US')} points overlaid, +${base.appendPerFrame} points per live run per frame, ${base.frames} measured frames after 10 warm-up frames`,
);
console.log(
  'update = append + incremental smoothing/decimation + setOption (ECharts lays out and draws synchronously)',
);
console.log(
  'frame  = requestAnimationFrame interval while updating every frame (includes canvas rasterisation and GC; 16.7 ms = 60 fps)\n',
);
const f = (x) => x.toFixed(2).padStart(7);
const verdict = [];
for (const sc of scenarios) {
  const r = await page.evaluate((s) => window.runBench(s), sc);
  console.log(sc.name);
  console.log(`  decimation buckets/line ${r.blocks} · first full render ${r.firstRenderMs.toFixed(1)} ms`);
  console.log(
    `  update  mean ${f(r.update.mean)} ms  p50 ${f(r.update.p50)}  p95 ${f(r.update.p95)}  max ${f(r.update.max)}`,
  );
  if (!sc.dry)
    console.log(
      `  frame   mean ${f(r.frameInterval.mean)} ms  p50 ${f(r.frameInterval.p50)}  p95 ${f(r.frameInterval.p95)}  max ${f(r.frameInterval.max)}`,
    );
  if (!sc.dry) verdict.push({ name: sc.name, update: r.update.mean, frame: r.frameInterval.mean });
}
const worstUpdate = Math.max(...verdict.map((v) => v.update));
const worstFrame = Math.max(...verdict.map((v) => v.frame));
console.log(
  `\ntarget ≤ 16 ms per update: ${worstUpdate <= 16 ? 'met' : 'NOT met'} (worst mean update ${worstUpdate.toFixed(2)} ms; worst mean frame interval ${worstFrame.toFixed(2)} ms)`,
);
await browser.close();
server.close();

// Issue 15: the experiment table with 10,000 runs (bench/table.ts; it serves the build in out/renderer).
if (process.env.TABLE !== '0') {
  console.log('');
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench', 'table.ts')], {
    cwd: root,
    stdio: 'inherit',
  });
  process.exitCode = r.status ?? 1;
}
