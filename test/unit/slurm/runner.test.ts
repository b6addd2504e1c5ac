/**
 * Where Slurm's commands run. The ssh command lines are checked as built (no ssh server here), and the remote
 * command string is given to a real POSIX shell, as the remote login shell would get it, to show every argument
 * arrives intact. The local runner runs real programs.
 */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { localInvocation, localRunner, sshInvocation, sshRunner } from '../../../src/app/executors/slurm/runner';
import { SlurmClient, SlurmCommandError } from '../../../src/app/executors/slurm/client';

/** What a login shell on the remote side does with the command string ssh sends: sh -c STRING. */
function remoteArgv(remote: string): string[] {
  const r = spawnSync('sh', ['-c', `${remote}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sh -c ${remote}: ${r.stderr}`);
  return r.stdout.split('\0').slice(0, -1);
}

describe('ssh', () => {
  it('BatchMode (never a password prompt), a connect timeout, the host after --, one quoted command', () => {
    const inv = sshInvocation('sbatch', ['--parsable'], { host: 'cluster' });
    expect(inv).toEqual({
      file: 'ssh',
      args: ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=15', '--', 'cluster', 'sbatch --parsable'],
    });
  });

  it('connection reuse, extra options, remote variables through env, another ssh program', () => {
    const inv = sshInvocation('squeue', ['--jobs=12'], {
      host: 'me@login.example.org',
      ssh: '/usr/bin/ssh',
      connectTimeoutS: 5,
      controlDir: '/run/user/1000/sadpm-ssh',
      options: ['Port=2222'],
      remoteEnv: { SLURM_CONF: '/etc/slurm alt/slurm.conf' },
    });
    expect(inv.file).toBe('/usr/bin/ssh');
    expect(inv.args).toEqual([
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=5',
      '-o',
      'ControlMaster=auto',
      '-o',
      'ControlPath=/run/user/1000/sadpm-ssh/%C',
      '-o',
      'ControlPersist=120',
      '-o',
      'Port=2222',
      '--',
      'me@login.example.org',
      `env 'SLURM_CONF=/etc/slurm alt/slurm.conf' squeue '--jobs=12'`,
    ]);
  });

  it.each([
    ['-oProxyCommand=evil', /ssh host/],
    ['host name', /ssh host/],
    ['', /ssh host/],
    ['a\nb', /ssh host/],
  ])('refuses host %j', (host, message) => {
    expect(() => sshInvocation('squeue', [], { host })).toThrow(message);
  });

  it('refuses options and folders ssh would misread', () => {
    const bad = (opts: object) => () => sshInvocation('squeue', [], { host: 'h', ...opts });
    expect(bad({ options: ['-F/tmp/x'] })).toThrow(/ssh option: expected Key=Value/);
    expect(bad({ controlDir: '/tmp/a b' })).toThrow(/controlDir/);
    expect(bad({ controlDir: '/tmp/100%' })).toThrow(/controlDir/);
    expect(bad({ remoteEnv: { 'X Y': '1' } })).toThrow(/remoteEnv/);
    expect(bad({ connectTimeoutS: 0 })).toThrow(/connectTimeoutS/);
  });

  it('any arguments and remote variables reach the remote command unchanged through its shell', () => {
    const unit = fc.oneof(
      fc.constantFrom(...` '"$\`\\!*?[]{}();&|<>~#%=\n\t`),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
    );
    const text = fc.string({ unit, maxLength: 15 });
    fc.assert(
      fc.property(fc.array(text, { maxLength: 6 }), text, (args, value) => {
        // printf repeats its format per argument; a first fixed one keeps an empty list from printing ''.
        const inv = sshInvocation('printf', ['%s\\0', 'first', ...args], { host: 'h', remoteEnv: { SADPM_V: value } });
        expect(remoteArgv(inv.args[inv.args.length - 1]!)).toEqual(['first', ...args]);
        const printV = ['-c', 'printf "%s\\0" "$SADPM_V"'];
        const envInv = sshInvocation('sh', printV, { host: 'h', remoteEnv: { SADPM_V: value } });
        expect(remoteArgv(envInv.args[envInv.args.length - 1]!)).toEqual([value]);
      }),
      { numRuns: 80 },
    );
  });

  it("a failed connection is reported with ssh's own words, not as a Slurm answer", async () => {
    // ssh to a closed port on this machine fails fast with status 255 (no server needed).
    const options = ['Port=1', 'StrictHostKeyChecking=no'];
    const client = new SlurmClient(sshRunner({ host: '127.0.0.1', options, connectTimeoutS: 3 }));
    const err = await client.jobs(['1']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlurmCommandError);
    expect((err as Error).message).toMatch(
      /^ssh 127\.0\.0\.1: squeue failed \(exit status 255: .*(refused|Connection)/i,
    );
  });
});

describe('local', () => {
  it('passes SLURM_CONF and no shell: arguments are argv entries', async () => {
    const inv = localInvocation('squeue', ['--jobs=1'], { slurmConf: '/c/slurm.conf', env: { PATH: '/usr/bin' } });
    expect(inv).toEqual({ file: 'squeue', args: ['--jobs=1'], env: { PATH: '/usr/bin', SLURM_CONF: '/c/slurm.conf' } });
    const script = ['-c', 'printf "%s|%s" "$SLURM_CONF" "$1"', 'sh', '$HOME `id`'];
    const r = await localRunner({ slurmConf: '/x y/slurm.conf' }).run('sh', script);
    expect(r).toEqual({ stdout: '/x y/slurm.conf|$HOME `id`', stderr: '', code: 0, timedOut: false });
  });

  it('feeds stdin, returns a failing status and stderr, stops a command past its time', async () => {
    const run = localRunner();
    expect((await run.run('cat', [], { input: '#!/bin/bash\necho hi\n' })).stdout).toBe('#!/bin/bash\necho hi\n');
    const failed = await run.run('sh', ['-c', 'echo oops >&2; exit 3']);
    expect(failed).toEqual({ stdout: '', stderr: 'oops\n', code: 3, timedOut: false });
    const slow = await run.run('sleep', ['10'], { timeoutMs: 200 });
    expect(slow.timedOut).toBe(true);
  });

  it('a missing program says which and what to install', async () => {
    await expect(localRunner({ env: { PATH: '/nonexistent' } }).run('sbatch', [])).rejects.toThrow(
      /local: cannot run sbatch: .*ENOENT.* \(not found on PATH: is Slurm's client installed\?\)/,
    );
  });
});
