/** Opening the run store from the command line: --data-dir / SADPM_HOME / the platform default. */
import { resolve } from 'node:path';
import { RunStore } from '../store/runStore';
import { resolveDataDir } from '../store/dataDir';
import { flagString, type ParsedArgs } from './args';
import { describeRecovery, recoverStore } from '../app/recovery';

export function openStore(args: ParsedArgs, opts: { quiet?: boolean } = {}): RunStore {
  const store = RunStore.open(resolveDataDir(flagString(args.flags, 'data-dir')));
  const lines = describeRecovery(recoverStore(store), "continue with 'sadpm resume RUN'");
  if (!opts.quiet) for (const l of lines) process.stderr.write(l + '\n');
  return store;
}

/** The run a command names: a positional RUN (id or name) or --run-dir of a run in the store. */
export function runRef(args: ParsedArgs, store: RunStore): number {
  const ref = args.positional[0];
  if (ref) return store.runs.require(ref).id;
  const dir = flagString(args.flags, 'run-dir');
  if (dir) {
    const run = store.runs.byDir(resolve(dir));
    if (!run) {
      throw new Error(`--run-dir ${dir}: no run in ${store.layout.db} uses this folder (list runs with 'sadpm runs')`);
    }
    return run.id;
  }
  throw new Error("name the run (its id or name; 'sadpm runs' lists them)");
}
