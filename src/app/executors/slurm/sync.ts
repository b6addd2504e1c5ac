/**
 * Bringing a run folder home from a cluster reached over ssh: what is new or grown on the cluster is copied
 * into the run's local folder through the same ssh connection as the status polls (no rsync needed on either
 * side; the cluster needs GNU find and tail, as any Linux has). The messages file only grows, so only its new
 * bytes travel, appended to the local copy that ingestion reads by offset. Other files are written whole under
 * a temp name and renamed, so a reader never sees half a checkpoint. The compute node's own run store and
 * files still being written (`.NAME.PID.N.tmp`) stay behind.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { sshInvocation, type SshRunnerOptions, sshRunner } from './runner';
import { DEFAULT_MESSAGES_FILE } from './sbatchScript';
import { NODE_STORE_DIR } from './target';

export interface PullResult {
  /** Files copied whole, and files that grew (the messages file). */
  copied: string[];
  appended: string[];
  bytes: number;
}

export interface RemoteFile {
  /** Relative to the run folder, '/'-separated. */
  path: string;
  size: number;
}

const TEMP = /(^|\/)\.[^/]+\.\d+\.\d+\.tmp$/;

/** `find` output of listArgs: NUL-separated path and size pairs. */
export function parseListing(text: string): RemoteFile[] {
  const f = text.split('\0');
  const out: RemoteFile[] = [];
  for (let i = 0; i + 1 < f.length; i += 2) {
    const path = f[i]!;
    const size = Number(f[i + 1]);
    if (path === '' || !Number.isInteger(size) || size < 0) {
      throw new Error(`unexpected file listing entry ${JSON.stringify(f[i])}`);
    }
    out.push({ path, size });
  }
  return out;
}

/** find's arguments: every file under `dir` but the node's store, as "path\0size\0". */
export function listArgs(dir: string): string[] {
  return [dir, '-mindepth', '1', '-name', NODE_STORE_DIR, '-prune', '-o', '-type', 'f', '-printf', '%P\\0%s\\0'];
}

/** Which files to fetch, and how: the messages file by its new bytes, the rest whole when new or changed. */
export function planPull(
  remote: readonly RemoteFile[],
  localSize: (path: string) => number | null,
  messagesFile = DEFAULT_MESSAGES_FILE,
): { path: string; from: number; whole: boolean }[] {
  const plan: { path: string; from: number; whole: boolean }[] = [];
  for (const f of remote) {
    if (TEMP.test(f.path) || f.path.split('/').some((p) => p === '..' || p === '')) continue;
    const have = localSize(f.path);
    if (f.path === messagesFile) {
      if (have === null || have > f.size) plan.push({ path: f.path, from: 0, whole: true });
      else if (have < f.size) plan.push({ path: f.path, from: have, whole: false });
      continue;
    }
    if (have !== f.size) plan.push({ path: f.path, from: 0, whole: true });
  }
  return plan;
}

/** Copies what is new under `remoteDir` into `localDir`. A run folder not on the cluster yet is no error. */
export async function pullRunFolder(ssh: SshRunnerOptions, remoteDir: string, localDir: string): Promise<PullResult> {
  const runner = sshRunner(ssh);
  const res = await runner.run('find', listArgs(remoteDir));
  if (res.code !== 0) {
    if (/No such file or directory/.test(res.stderr)) return { copied: [], appended: [], bytes: 0 };
    const why = res.stderr.trim().slice(-300);
    throw new Error(`ssh ${ssh.host}: listing ${remoteDir} failed (exit ${res.code}): ${why}`);
  }
  const plan = planPull(parseListing(res.stdout), (p) => sizeOf(join(localDir, ...p.split('/'))));
  const out: PullResult = { copied: [], appended: [], bytes: 0 };
  for (const item of plan) {
    const local = join(localDir, ...item.path.split('/'));
    if (!local.startsWith(localDir + sep)) continue;
    const remote = `${remoteDir.replace(/\/+$/, '')}/${item.path}`;
    mkdirSync(dirname(local), { recursive: true });
    if (item.whole) {
      const tmp = join(dirname(local), `.${item.path.split('/').pop()}.pull-${process.pid}.tmp`);
      try {
        out.bytes += await fetchTo(ssh, ['cat', '--', remote], tmp, 'w');
        renameSync(tmp, local);
      } finally {
        rmSync(tmp, { force: true });
      }
      out.copied.push(item.path);
    } else {
      out.bytes += await fetchTo(ssh, ['tail', '-c', `+${item.from + 1}`, '--', remote], local, 'a');
      out.appended.push(item.path);
    }
  }
  return out;
}

function sizeOf(p: string): number | null {
  try {
    return statSync(p).size;
  } catch {
    return null;
  }
}

/** Streams a remote command's stdout into a file (binary-safe); the byte count, or an error with its stderr. */
function fetchTo(ssh: SshRunnerOptions, argv: string[], file: string, flags: 'w' | 'a'): Promise<number> {
  const inv = sshInvocation(argv[0]!, argv.slice(1), ssh);
  return new Promise((resolve, reject) => {
    const child = spawn(inv.file, inv.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const outFile = createWriteStream(file, { flags });
    let bytes = 0;
    let err = '';
    child.stdout.on('data', (b: Buffer) => (bytes += b.length));
    child.stdout.pipe(outFile);
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString('utf8')).slice(-2000)));
    child.on('error', (e) => reject(new Error(`ssh ${ssh.host}: cannot run ${inv.file}: ${e.message}`)));
    child.on('close', (code) => {
      outFile.end(() => {
        if (code === 0) resolve(bytes);
        else reject(new Error(`ssh ${ssh.host}: ${argv.join(' ')} failed (exit ${code}): ${err.trim().slice(-300)}`));
      });
    });
  });
}
