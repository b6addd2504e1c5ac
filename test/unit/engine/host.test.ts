/**
 * The engine host answers every command it refuses, so a caller waiting for a reply never waits forever
 * (`sadpm import PATH --format png` used to hang: the host only logged "ignored a malformed command").
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveCommands } from '../../../src/engine/host';
import { EngineCommandSchema, HostMessageSchema, IMPORT_FORMATS } from '../../../src/shared/engineMessages';
import type { HostMessage } from '../../../src/shared/engineMessages';
import { runEngineJob } from '../../../src/app/engineJob';
import { forkEngine } from '../../../src/app/engineProcess';

const KINDS = ['import', 'train', 'stop', 'sample', 'cancel', 'exit'];
const ALL_KINDS = EngineCommandSchema.options.map((o) => o.shape.cmd.value);
/** How long a refusal may take: it is answered at once, so this is generous. */
const REPLY_MS = 1000;

function host() {
  const sent: HostMessage[] = [];
  const exits: number[] = [];
  let deliver: (raw: unknown) => void = () => {};
  serveCommands({ send: (m) => sent.push(m), onMessage: (fn) => (deliver = fn) }, (code) => exits.push(code));
  return { sent, exits, deliver: (raw: unknown) => deliver(raw) };
}

async function firstReply(sent: HostMessage[]): Promise<HostMessage> {
  const t0 = Date.now();
  while (sent.length === 0) {
    if (Date.now() - t0 > REPLY_MS) throw new Error(`no reply within ${REPLY_MS} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return sent[0]!;
}

const malformed = fc
  .oneof(
    fc.anything({ maxDepth: 3 }),
    // Known kinds with fields of any shape: a bad field, a missing one, a wrong type.
    fc.record(
      {
        cmd: fc.constantFrom(...KINDS),
        jobId: fc.oneof(fc.string(), fc.integer(), fc.constant(undefined)),
        job: fc.anything({ maxDepth: 2 }),
        config: fc.anything({ maxDepth: 2 }),
        runDir: fc.oneof(fc.string(), fc.integer()),
      },
      { requiredKeys: ['cmd'] },
    ),
    // The CLI's case: an import whose format is not one of the formats.
    fc.record({
      cmd: fc.constant('import'),
      jobId: fc.string(),
      job: fc.record({
        input: fc.string({ minLength: 1 }),
        format: fc.string().filter((f) => !(IMPORT_FORMATS as readonly string[]).includes(f)),
        out: fc.string(),
      }),
    }),
    fc.record({ cmd: fc.string().filter((k) => !KINDS.includes(k)), jobId: fc.string() }),
  )
  .filter((v) => !EngineCommandSchema.safeParse(v).success);

describe('engine host', () => {
  it('answers any malformed command with one error reply naming what was wrong, within a bounded time', async () => {
    await fc.assert(
      fc.asyncProperty(malformed, async (raw) => {
        const h = host();
        h.deliver(raw);
        const reply = await firstReply(h.sent);
        expect(HostMessageSchema.safeParse(reply).success).toBe(true);
        expect(reply.type).toBe('rejected');
        if (reply.type !== 'rejected') return;
        expect(reply.error).toMatch(/^(malformed|unknown command kind)/);
        const fields = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
        expect(reply.jobId).toBe(typeof fields.jobId === 'string' ? fields.jobId : null);
        // A refused start ends the run's process and says why; nothing else does.
        expect(h.exits).toEqual(fields.cmd === 'train' ? [1] : []);
      }),
      { numRuns: 400, interruptAfterTimeLimit: 60_000 },
    );
  });

  it('names the bad field, what it should be and what it was', async () => {
    const h = host();
    h.deliver({ cmd: 'import', jobId: 'j1', job: { input: '/data/x', format: 'png', out: '/tmp/o.sadpm-ds' } });
    h.deliver({ cmd: 'fly', jobId: 'j2' });
    h.deliver('import');
    await firstReply(h.sent);
    expect((h.sent[0] as { error: string }).error).toMatch(/"packed", got "png"$/);
    expect(h.sent).toEqual([
      {
        type: 'rejected',
        cmd: 'import',
        jobId: 'j1',
        error: expect.stringMatching(/^malformed 'import' command: job\.format: .*expected one of "auto"\|/),
      },
      {
        type: 'rejected',
        cmd: 'fly',
        jobId: 'j2',
        // Every command kind the schema has (issue 13 added gamma and trainCov), in its order.
        error: `unknown command kind "fly" (expected cmd to be one of ${ALL_KINDS.join(', ')})`,
      },
      {
        type: 'rejected',
        cmd: null,
        jobId: null,
        error: `malformed command: expected an object such as {cmd: 'import', ...}, got "import"`,
      },
    ]);
  });

  it('refuses a train command whose config does not validate: the run fails with why, the process ends', async () => {
    const h = host();
    h.deliver({ cmd: 'train', config: { k: 0 }, runDir: '/nonexistent/run' });
    await firstReply(h.sent);
    await new Promise((r) => setTimeout(r, 20));
    expect(h.sent.map((m) => m.type)).toEqual(['rejected', 'failed']);
    const reason = expect.stringMatching(/^invalid run config:\n[\s\S]*\n {2}k: Too small/);
    expect(h.sent[1]).toMatchObject({ type: 'failed', step: 0, reason });
    expect(h.exits).toEqual([1]);
  });

  it('a job the engine process refuses ends with that error instead of waiting forever', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sadpm-host-'));
    try {
      const job = runEngineJob(forkEngine, (jobId) => ({
        cmd: 'import',
        jobId,
        // What `sadpm import PATH --format png` sent before the CLI checked the format itself.
        job: { input: dir, format: 'png' as 'auto', out: join(dir, 'x.sadpm-ds') },
      }));
      const hang = new Error('no answer within 60 s: the caller would hang');
      const timeout = new Promise((_, reject) => setTimeout(() => reject(hang), 60_000));
      const refused = /^the engine refused the job: malformed 'import' command: job\.format: .*got "png"$/;
      await expect(Promise.race([job, timeout])).rejects.toThrow(refused);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
