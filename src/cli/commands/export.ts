/** sadpm export: a run's metrics as CSV or JSON, or a .tar.gz bundle (the app's Export uses the same use case). */
import { exportRunBundle, exportRunMetrics, type ExportedFile } from '../../app/useCases/exportRun';
import { flagChoice, flagString, isJson, rejectUnknown, splitList, type ParsedArgs } from '../args';
import { fmtBytes } from '../progress';
import { openStore, runRef } from '../storeAccess';

function checkpointsFlag(args: ParsedArgs): 'latest' | 'all' | 'none' | number[] {
  const v = flagString(args.flags, 'checkpoints') ?? 'latest';
  if (v === 'all' || v === 'latest' || v === 'none') return v;
  return splitList(v).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) {
      throw new Error(`--checkpoints: expected latest, all, none or steps like 1000,2000; got '${s}'`);
    }
    return n;
  });
}

export async function cmdExport(args: ParsedArgs): Promise<number> {
  rejectUnknown(args.flags, ['data-dir', 'run-dir', 'format', 'out', 'checkpoints', 'json'], 'export');
  const format = flagChoice(args.flags, 'format', ['csv', 'json', 'bundle'] as const, 'csv');
  const which = checkpointsFlag(args);
  const out = flagString(args.flags, 'out');
  const store = openStore(args);
  try {
    const run = store.runs.get(runRef(args, store))!;
    let file: ExportedFile;
    let detail = '';
    if (format === 'bundle') {
      const res = await exportRunBundle(store, run, which, out);
      file = res;
      detail = ` (${res.entries.length} files)`;
    } else {
      file = exportRunMetrics(store, run, format, out);
    }
    if (isJson(args)) console.log(JSON.stringify({ out: file.path, bytes: file.bytes }));
    else console.log(`exported run #${run.id} ${format}${detail}: ${file.path} (${fmtBytes(file.bytes)})`);
    return 0;
  } finally {
    store.close();
  }
}
