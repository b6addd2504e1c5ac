import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statfsSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeBase64Strict, MAX_UPLOADS, MAX_UPLOADS_PER_OWNER, UploadSessions } from '../../../src/app/uploads';

const fresh = () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'sadpm-up-')), 'uploads');
  const sessions = new UploadSessions(dir);
  return { dir, sessions, up: sessions.owner() };
};

describe('UploadSessions', () => {
  it('assembles in-order chunks and publishes the file only when complete', () => {
    const { dir, up } = fresh();
    const { uploadId } = up.begin('data.bin', 10);
    up.chunk(uploadId, 0, Buffer.from('01234'));
    expect(readdirSync(dir).filter((f) => !f.startsWith('.'))).toEqual([]); // nothing visible yet
    up.chunk(uploadId, 5, Buffer.from('56789'));
    const { path } = up.end(uploadId, (n: string) => `x-${n}`);
    expect(path).toBe(join(dir, 'x-data.bin'));
    expect(readFileSync(path, 'utf8')).toBe('0123456789');
    expect(readdirSync(dir)).toEqual(['x-data.bin']); // the part file became the final file
  });

  it('refuses out-of-order chunks, excess bytes (discarding the upload) and an early end', () => {
    const { dir, up } = fresh();
    const a = up.begin('a.bin', 4).uploadId;
    expect(() => up.chunk(a, 2, Buffer.from('xx'))).toThrow(/chunk at byte 2, expected byte 0/);
    up.chunk(a, 0, Buffer.from('ab'));
    expect(() => up.end(a, (n: string) => n)).toThrow(/2 of 4 bytes arrived/);
    expect(() => up.chunk(a, 2, Buffer.from('cde'))).toThrow(/5 bytes sent, more than the 4 announced/);
    expect(() => up.chunk(a, 2, Buffer.from('c'))).toThrow(/no upload .* in progress/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('abort removes the part file; a new begin sweeps part files older than a day', () => {
    const { dir, up } = fresh();
    const a = up.begin('a.bin', 4).uploadId;
    up.abort(a);
    expect(readdirSync(dir)).toEqual([]);
    const stale = join(dir, '.part-old');
    const recent = join(dir, '.part-recent');
    writeFileSync(stale, 'x');
    writeFileSync(recent, 'x');
    const old = (Date.now() - 2 * 24 * 3600 * 1000) / 1000;
    utimesSync(stale, old, old);
    up.begin('b.bin', 1);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(recent)).toBe(true);
    up.close();
  });

  it('an empty file completes with no chunks', () => {
    const { up } = fresh();
    const { uploadId } = up.begin('empty.npy', 0);
    const { path } = up.end(uploadId, (n: string) => n);
    expect(readFileSync(path).length).toBe(0);
  });
});

describe('UploadSessions per connection', () => {
  it("closing an owner discards its unfinished uploads (handles and part files), not another owner's", () => {
    const { dir, sessions } = fresh();
    const a = sessions.owner();
    const b = sessions.owner();
    const ids = [a.begin('1.bin', 10).uploadId, a.begin('2.bin', 10).uploadId, a.begin('3.bin', 10).uploadId];
    a.chunk(ids[0]!, 0, Buffer.from('abc'));
    const kept = b.begin('b.bin', 3).uploadId;
    expect(readdirSync(dir)).toHaveLength(4);
    a.close();
    expect(sessions.size).toBe(1);
    expect(readdirSync(dir)).toEqual([`.part-${kept}`]);
    expect(() => a.begin('late.bin', 1)).toThrow(/connection is closed/);
    b.chunk(kept, 0, Buffer.from('xyz'));
    expect(readFileSync(b.end(kept, (n) => n).path, 'utf8')).toBe('xyz');
  });

  it("one owner cannot continue, finish or abort another's upload", () => {
    const { sessions } = fresh();
    const a = sessions.owner();
    const b = sessions.owner();
    const id = a.begin('a.bin', 2).uploadId;
    expect(() => b.chunk(id, 0, Buffer.from('zz'))).toThrow(/no upload .* in progress/);
    expect(() => b.end(id, (n) => n)).toThrow(/no upload .* in progress/);
    b.abort(id);
    expect(a.chunk(id, 0, Buffer.from('ok'))).toEqual({ received: 2 });
    sessions.close();
  });

  it('caps open uploads per connection and overall, naming the limit', () => {
    const { sessions } = fresh();
    const a = sessions.owner();
    for (let i = 0; i < MAX_UPLOADS_PER_OWNER; i++) a.begin(`${i}.bin`, 1);
    const perOwner = new RegExp(`one-more.bin: ${MAX_UPLOADS_PER_OWNER} uploads are already open on this connection`);
    expect(() => a.begin('one-more.bin', 1)).toThrow(perOwner);
    const owners = Array.from({ length: MAX_UPLOADS / MAX_UPLOADS_PER_OWNER }, () => sessions.owner());
    owners.pop();
    for (const o of owners) for (let i = 0; i < MAX_UPLOADS_PER_OWNER - 1; i++) o.begin('x.bin', 1);
    const last = sessions.owner();
    while (sessions.size < MAX_UPLOADS) last.begin('fill.bin', 1);
    const overall = new RegExp(`over.bin: ${MAX_UPLOADS} uploads are already open on this server`);
    expect(() => sessions.owner().begin('over.bin', 1)).toThrow(overall);
    a.close();
    expect(sessions.owner().begin('after.bin', 1).uploadId).toMatch(/^[0-9a-f]+$/);
    sessions.close();
  });

  it("refuses an upload larger than the disk's free space, with both numbers and the path; no part file", () => {
    const { dir, up } = fresh();
    up.begin('probe.bin', 0); // creates the folder
    const st = statfsSync(dir);
    const free = Number(st.bavail) * Number(st.bsize);
    const tooBig = free + 2 ** 30;
    const before = readdirSync(dir).length;
    let message = '';
    try {
      up.begin('huge.npy', tooBig);
    } catch (err) {
      message = (err as Error).message;
    }
    const expected = `huge.npy: ${tooBig} bytes .* announced, but the disk of ${dir} has \\d+ bytes .* free`;
    expect(message).toMatch(new RegExp(expected));
    const said = Number(/has (\d+) bytes/.exec(message)![1]);
    expect(Math.abs(said - free)).toBeLessThan(2 ** 29);
    expect(readdirSync(dir)).toHaveLength(before);
  });
});

describe('decodeBase64Strict', () => {
  it('round-trips any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(decodeBase64Strict(Buffer.from(bytes).toString('base64'), 'x').equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses anything but padded standard base64, saying why', () => {
    const star = /chunk: invalid base64 \(character "\*" at position 7/;
    expect(() => decodeBase64Strict('aGVsbG8*', 'chunk')).toThrow(star);
    expect(() => decodeBase64Strict('aGVsbG8', 'chunk')).toThrow(/length 7 is not a multiple of 4/);
    expect(() => decodeBase64Strict('aGV sbG8', 'chunk')).toThrow(/character " " at position 3/);
    expect(() => decodeBase64Strict('aG=sbG8=', 'chunk')).toThrow(/'=' padding may only end the text/);
    expect(() => decodeBase64Strict('aGVs====', 'chunk')).toThrow(/'=' padding/);
    expect(() => decodeBase64Strict('aGVsbG8_', 'chunk')).toThrow(/character "_"/);
    expect(() => decodeBase64Strict('A===', 'chunk')).toThrow(/invalid base64/);
  });

  it('accepts exactly the strings that re-encode to themselves (up to the unused bits of the last symbol)', () => {
    // Independent of the implementation: Node's lenient decoder, then re-encoding, says what was meant.
    const meant = (s: string): boolean => {
      const enc = Buffer.from(s, 'base64').toString('base64');
      if (enc.length !== s.length) return false;
      const last = enc.replace(/=+$/, '').length - 1;
      return [...s].every((c, i) => (i === last ? /[A-Za-z0-9+/]/.test(c) : c === enc[i]));
    };
    const symbol = fc.constantFrom('A', 'B', 'Q', 'g', 'z', '0', '+', '/', '=', '=', '*', ' ', '-', '_', '\n', 'é');
    fc.assert(
      fc.property(
        fc.array(symbol, { maxLength: 12 }).map((a) => a.join('')),
        (s) => {
          let ok = true;
          try {
            decodeBase64Strict(s, 'x');
          } catch {
            ok = false;
          }
          expect(ok).toBe(meant(s));
        },
      ),
      { numRuns: 500 },
    );
  });
});
