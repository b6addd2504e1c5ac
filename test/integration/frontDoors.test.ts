/**
 * One use case, two front doors (issue 11): the same run created, trained and sampled through the CLI and through
 * web mode's contract over its WebSocket must leave identical records in their stores: config, metric history,
 * checkpoints (down to the weights), gap curve and sample grid (down to the PNG bytes).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import { RunStore } from '../../src/store/runStore';
import { createServices, type Services } from '../../src/app/services';
import { forkEngine } from '../../src/app/engineProcess';
import { startWebServer, type WebServer } from '../../src/app/web/server';
import { readCheckpoint } from '../../src/engine/train/checkpoint';
import type { SampleSettings } from '../../src/shared/contract';

const BIN = resolve(__dirname, '../../bin/sadpm.mjs');
const dir = mkdtempSync(join(tmpdir(), 'sadpm-doors-'));
const cliHome = join(dir, 'cli');
const webHome = join(dir, 'web');

/** The run both doors create: every field the CLI sets as a flag, the web form sends as a config patch. */
const config = {
  preset: 'tiny',
  T: 100,
  batch: 2,
  steps: 4,
  checkpointEvery: 2,
  logEvery: 1,
  sampleN: 4,
  sampleSteps: 5,
  gapT0: 8,
  gapBatch: 2,
  seed: 3,
  name: 'doors',
} as const;
const sampling: SampleSettings = { n: 4, sampler: 'ddim', steps: 5, spacing: 'uniform', eta: 0, seed: 1, ema: true };

function cli(args: string[]): string {
  const env = { ...process.env, EGL_PLATFORM: 'surfaceless', SADPM_HOME: cliHome };
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, timeout: 300_000 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/** A client of web mode's contract over a real WebSocket, as the page talks to it. */
async function connect(server: WebServer): Promise<{
  call: (channel: string, req: unknown) => Promise<unknown>;
  events: { event: string; payload: unknown }[];
  close: () => void;
}> {
  const origin = `http://127.0.0.1:${server.port}`;
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`, { headers: { origin } });
  await new Promise((ok, fail) => ws.once('open', ok).once('error', fail));
  const pending = new Map<number, (f: { ok: boolean; res?: unknown; error?: { message: string } }) => void>();
  const events: { event: string; payload: unknown }[] = [];
  ws.on('message', (data) => {
    const f = JSON.parse(String(data));
    if ('event' in f) events.push(f);
    else pending.get(f.id)?.(f);
  });
  let id = 0;
  const call = (channel: string, req: unknown) =>
    new Promise<unknown>((ok, fail) => {
      const n = ++id;
      pending.set(n, (f) => (f.ok ? ok(f.res) : fail(new Error(`${channel}: ${f.error?.message}`))));
      ws.send(JSON.stringify({ id: n, channel, req }));
    });
  return { call, events, close: () => ws.close() };
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 240_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

let services: Services | undefined;
let server: WebServer | undefined;
afterAll(async () => {
  await server?.close();
  await services?.close();
});

describe('the CLI and the web-mode contract run one use case', () => {
  it('create + train + sample leave identical stored results', async () => {
    // Through the CLI.
    const flag = (k: string) => (k === 'T' ? '--T' : `--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`);
    cli(['train', ...Object.entries(config).flatMap(([k, v]) => [flag(k), String(v)])]);
    cli(['sample', '1', '--n', '4', '--steps', '5', '--seed', '1', '--ema']);

    // Through web mode: the same request the New-run form and the Gallery send.
    const renderer = join(dir, 'renderer');
    mkdirSync(renderer, { recursive: true });
    writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>test</title>');
    services = createServices({ dataDir: webHome, spawn: forkEngine, mode: 'web' });
    server = await startWebServer({ services, rendererDir: renderer });
    const client = await connect(server);
    const run = (await client.call('runs.create', { config, start: true })) as { id: number };
    await until('the web run to complete', () =>
      services!.store.runs.get(run.id)?.status === 'completed' ? true : undefined,
    );
    const ck = services.store.checkpoints.latest(run.id)!;
    const { jobId } = (await client.call('samples.generate', { checkpointId: ck.id, settings: sampling })) as {
      jobId: string;
    };
    await until('the sampling job', () =>
      client.events.some((e) => e.event === 'job.done' && (e.payload as { jobId: string }).jobId === jobId)
        ? true
        : undefined,
    );
    client.close();

    const cliStore = RunStore.open(cliHome);
    try {
      const a = cliStore.runs.get(1)!;
      const b = services.store.runs.get(run.id)!;
      expect(b.config).toEqual(a.config);
      expect([b.name, b.status, b.step]).toEqual([a.name, a.status, a.step]);
      for (const name of ['loss', 'simple', 'sa', 'gradNorm', 'lr']) {
        const sa = cliStore.metrics.series(a.id, name, 100);
        const sb = services.store.metrics.series(b.id, name, 100);
        expect(sb.steps, name).toEqual(sa.steps);
        expect(sb.values, name).toEqual(sa.values);
      }
      const cka = cliStore.checkpoints.list(a.id);
      const ckb = services.store.checkpoints.list(b.id);
      expect(ckb.map((c) => c.step)).toEqual(cka.map((c) => c.step));
      for (const [i, c] of cka.entries()) {
        const wa = readCheckpoint(c.path);
        const wb = readCheckpoint(ckb[i]!.path);
        expect(wb.params, `weights at step ${c.step}`).toEqual(wa.params);
        expect(wb.ema, `EMA at step ${c.step}`).toEqual(wa.ema);
      }
      const ga = cliStore.gaps.list(a.id).map(({ runId: _r, ...g }) => g);
      const gb = services.store.gaps.list(b.id).map(({ runId: _r, ...g }) => g);
      expect(gb).toEqual(ga);
      // The end-of-run grid and the one sampled afterwards, with the same settings on each side.
      const sa = cliStore.samples.list(a.id);
      const sb = services.store.samples.list(b.id);
      expect(sb.map((s) => [s.step, s.sampler, s.sampleSteps, s.seed, s.n, s.ema])).toEqual(
        sa.map((s) => [s.step, s.sampler, s.sampleSteps, s.seed, s.n, s.ema]),
      );
      for (const [i, s] of sa.entries())
        expect(readFileSync(sb[i]!.path).equals(readFileSync(s.path)), s.path).toBe(true);
    } finally {
      cliStore.close();
    }
  });
});
