/**
 * Drives scripts/slurm/test-cluster.sh from Node: tests and the fixture capture start a private one-node Slurm
 * cluster in a folder of their own and stop it, leaving nothing running.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const SCRIPT = join(import.meta.dirname, 'test-cluster.sh');

export interface TestCluster {
  dir: string;
  slurmConf: string;
  /** The cluster's job completion log (jobcomp/filetxt). */
  jobCompLog: string;
  stop(): Promise<void>;
}

/** Why this machine can't start the test cluster (a missing program), or null when it can. */
export function missingSlurm(opts: { accounting?: boolean } = {}): string | null {
  const need = ['/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/sbin/munged', '/usr/bin/sbatch', '/usr/bin/squeue'];
  if (opts.accounting) need.push('/usr/sbin/slurmdbd', '/usr/sbin/mariadbd', '/usr/bin/mariadb-install-db');
  const missing = need.filter((p) => !existsSync(p));
  if (missing.length === 0) return null;
  const accounting = opts.accounting ? ' slurmdbd slurm-wlm-mysql-plugin mariadb-server-core' : '';
  const packages = `slurmctld slurmd slurm-client munge${accounting}`;
  return `Slurm test cluster unavailable: missing ${missing.join(', ')} (apt-get install ${packages})`;
}

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('bash', [SCRIPT, ...args], { env, timeout: 90_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`test-cluster.sh ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/**
 * Starts the cluster in `dir` (created if absent); `cpus` overrides the node's CPU count; `accounting` adds
 * slurmdbd and a private MariaDB so that sacct works (about 10 s more to start).
 */
export async function startTestCluster(
  dir: string,
  opts: { cpus?: number; accounting?: boolean } = {},
): Promise<TestCluster> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (opts.cpus) env.SADPM_SLURM_CPUS = String(opts.cpus);
  if (opts.accounting) env.SADPM_SLURM_ACCOUNTING = '1';
  const { stdout } = await run(['start', dir], env);
  const m = /^export SLURM_CONF=(.+)$/m.exec(stdout);
  if (!m) throw new Error(`test-cluster.sh start: no SLURM_CONF in its output: ${stdout}`);
  const slurmConf = join(dir, 'etc', 'slurm.conf');
  let stopped = false;
  return {
    dir,
    slurmConf,
    jobCompLog: join(dir, 'log', 'jobcomp.txt'),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await run(['stop', dir]);
    },
  };
}
