/**
 * Where Slurm's commands run: on this machine (sbatch on PATH, or a cluster named by SLURM_CONF) or on a login
 * node over ssh. Over ssh the host comes from the user's ssh config (keys, agent, ProxyJump); BatchMode makes ssh
 * fail rather than ask for a password, and none is ever stored.
 */
import { spawn } from 'node:child_process';
import { shJoin } from './quote';

export interface RunResult {
  stdout: string;
  stderr: string;
  /** The exit status; null when a signal ended it (see `timedOut`). */
  code: number | null;
  timedOut: boolean;
}

export interface RunOptions {
  /** Written to the command's stdin (sbatch reads its script from there). */
  input?: string;
  timeoutMs?: number;
}

export interface CommandRunner {
  /** "local" or "ssh HOST", for messages. */
  readonly label: string;
  /** Runs one command; resolves with its output and status whatever the status, rejects only if it can't start. */
  run(command: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
}

export const DEFAULT_TIMEOUT_MS = 60_000;

/** A program to start with its arguments, no shell in between. */
export interface Invocation {
  file: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

export interface LocalRunnerOptions {
  /** The cluster's slurm.conf (SLURM_CONF); absent: Slurm's default (/etc/slurm/slurm.conf or DNS SRV). */
  slurmConf?: string;
  /** The environment the commands get; default this process's. */
  env?: NodeJS.ProcessEnv;
}

export function localInvocation(command: string, args: readonly string[], opts: LocalRunnerOptions = {}): Invocation {
  const env = { ...(opts.env ?? process.env) };
  if (opts.slurmConf !== undefined) env.SLURM_CONF = opts.slurmConf;
  return { file: command, args: [...args], env };
}

export function localRunner(opts: LocalRunnerOptions = {}): CommandRunner {
  return {
    label: 'local',
    run: (command, args, runOpts) => execute(localInvocation(command, args, opts), 'local', runOpts),
  };
}

export interface SshRunnerOptions {
  /** A host name or an alias of the user's ~/.ssh/config. */
  host: string;
  /** The ssh program (default "ssh"). */
  ssh?: string;
  /** Seconds to wait for the connection (default 15). */
  connectTimeoutS?: number;
  /** Reuse one connection for the frequent status polls: ssh's control sockets go in this private folder. */
  controlDir?: string;
  /** Variables set for the command on the remote side (e.g. SLURM_CONF), through `env`. */
  remoteEnv?: Readonly<Record<string, string>>;
  /** Extra ssh options, each a "Key=Value" for -o (e.g. "Port=2222"). */
  options?: readonly string[];
}

const HOST = /^[A-Za-z0-9_.@:%[\]+-]+$/;
const SSH_OPTION = /^[A-Za-z][A-Za-z0-9]*=[^\n\r\0]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The ssh command line for one remote command. ssh joins what follows the host into one string for the remote
 * login shell, so the command is sent already quoted as POSIX shell words (sh, bash, zsh, dash, ksh).
 */
export function sshInvocation(command: string, args: readonly string[], opts: SshRunnerOptions): Invocation {
  if (!HOST.test(opts.host) || opts.host.startsWith('-')) {
    throw new Error(`ssh host: expected a host name or ssh config alias, got ${JSON.stringify(opts.host)}`);
  }
  const timeout = opts.connectTimeoutS ?? 15;
  if (!Number.isInteger(timeout) || timeout < 1) {
    throw new Error(`ssh connectTimeoutS: expected a positive integer, got ${timeout}`);
  }
  const sshArgs = ['-o', 'BatchMode=yes', '-o', `ConnectTimeout=${timeout}`];
  if (opts.controlDir !== undefined) {
    // ssh reads -o values like config lines, where blanks and quotes split or quote words and % starts a token.
    if (!/^[^\s"'%\\\0]+$/.test(opts.controlDir)) {
      const got = JSON.stringify(opts.controlDir);
      throw new Error(`ssh controlDir: expected a folder path without blanks, quotes or %, got ${got}`);
    }
    // %C: a hash of host, port and user, short enough for the socket path limit.
    sshArgs.push('-o', 'ControlMaster=auto', '-o', `ControlPath=${opts.controlDir}/%C`, '-o', 'ControlPersist=120');
  }
  for (const o of opts.options ?? []) {
    if (!SSH_OPTION.test(o)) throw new Error(`ssh option: expected Key=Value, got ${JSON.stringify(o)}`);
    sshArgs.push('-o', o);
  }
  const env = Object.entries(opts.remoteEnv ?? {});
  for (const [k] of env) {
    if (!ENV_NAME.test(k)) throw new Error(`ssh remoteEnv: ${JSON.stringify(k)} is not a variable name`);
  }
  const remote = env.length ? ['env', ...env.map(([k, v]) => `${k}=${v}`), command, ...args] : [command, ...args];
  return { file: opts.ssh ?? 'ssh', args: [...sshArgs, '--', opts.host, shJoin(remote)] };
}

export function sshRunner(opts: SshRunnerOptions): CommandRunner {
  const label = `ssh ${opts.host}`;
  return {
    label,
    run: (command, args, runOpts) => execute(sshInvocation(command, args, opts), label, runOpts),
  };
}

function execute(inv: Invocation, label: string, opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(inv.file, inv.args, { env: inv.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const what = inv.file === 'ssh' ? 'OpenSSH' : "Slurm's client";
      const hint = e.code === 'ENOENT' ? ` (not found on PATH: is ${what} installed?)` : '';
      reject(new Error(`${label}: cannot run ${inv.file}: ${e.message}${hint}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const text = (b: Buffer[]) => Buffer.concat(b).toString('utf8');
      resolve({ stdout: text(out), stderr: text(err), code, timedOut });
    });
    // A command that exits without reading its input (or never started) must not fail the write.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}
